"""Stage 1, load: policy files -> policy documents (every value with its position)."""
