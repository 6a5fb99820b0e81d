"""User records: the static file, the HTTP directory, and the cache in front of them."""
