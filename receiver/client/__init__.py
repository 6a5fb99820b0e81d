"""Talking to platforms and to a running receiver as a client: send, register."""
