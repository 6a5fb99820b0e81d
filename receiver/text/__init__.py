"""Source text and positions: sources, spans, diagnostics, YAML nodes with marks, JSON bytes,
regex search."""
