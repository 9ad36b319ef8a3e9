"""Quality inspection (质检): versioned scorecards, automatic rule scoring of every resolved conversation,
supervisor review and overrides, calibration, appeals, nominations and sensitive-phrase interception."""
