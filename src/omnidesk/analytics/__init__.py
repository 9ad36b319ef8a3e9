"""Analytics: the day-one reports over conversations, the assistant and ratings."""
