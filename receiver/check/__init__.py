"""Stage 2, check: policy documents -> checked rules (names, types, regexes, counters)."""
