"""Background jobs: the periodic maintenance schedule and its runners."""
