"""Running scenarios: one typed, timestamped event stream; verdicts are functions of it."""
