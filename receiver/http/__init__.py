"""The edge: the HTTP service, its endpoints, settings, workers and reloads."""
