"""Reading composed YAML nodes: scalar values and mapping shapes, with positions.

Shared by the policy loader and the policy-test reader: both compose YAML with
``yaml.compose`` (so every node keeps its marks) and check the shape of what they
read, reporting problems as diagnostics that point at the node.
"""

from __future__ import annotations

from typing import Any

import yaml

from receiver.diagnostics import Diagnostics, did_you_mean
from receiver.source import SourceFile, Span

_constructor = yaml.constructor.SafeConstructor()


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The value of a scalar node as YAML types it; the text as written when that fails."""
    try:
        return _constructor.construct_object(node, deep=True)
    except Exception:  # `2020-13-45`, `!!int x`, `!!bool maybe`, `!tag x`: keep the text
        return node.value
    finally:  # the constructor remembers every node it built: forget them (reloads)
        _constructor.constructed_objects.clear()
        _constructor.recursive_objects.clear()


class NodeReader:
    """Positions, errors and mapping-shape checks for the nodes of one file."""

    def __init__(self, source: SourceFile, diagnostics: Diagnostics) -> None:
        self.source = source
        self.diags = diagnostics

    def span(self, node: yaml.Node) -> Span:
        return self.source.span(node.start_mark.index, node.end_mark.index)

    def error(self, code: str, message: str, node: yaml.Node) -> None:
        self.diags.error(code, message, self.span(node))

    def mapping(
        self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node, keyed by string; shape errors reported."""
        if not isinstance(node, yaml.MappingNode):
            self.error("type", f"{what} must be a mapping (key: value lines)", node)
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                hint = ""
                if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                    hint = f" ('{key_node.value}' reads as {str(key).lower()}; quote it)"
                self.error("type", f"keys in {what} must be plain names{hint}", key_node)
                continue
            if key in out:
                self.error("duplicate-key", f"'{key}' appears twice in {what}", key_node)
                continue
            if allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed) or "; allowed fields are " + ", ".join(allowed)
                self.error("unknown-field", f"unknown field '{key}' in {what}{hint}", key_node)
                continue
            out[key] = (key_node, value_node)
        return out
