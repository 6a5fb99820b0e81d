"""Stage 4, run: one event + the live policy set + inputs -> a decision."""
