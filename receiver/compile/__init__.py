"""Stage 3, compile: checked rules -> per-event decision trees of closures."""
