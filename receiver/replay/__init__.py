"""Replaying recorded traffic through a policy set, and comparing two policy sets on it."""
