"""Sinks and instruments: metric types, the decision log, the log queue, throttled log lines."""
