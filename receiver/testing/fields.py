"""Typed values of policy test files: the field readers that the test file reader builds on.

Stage: testing (policy tests), reading. Consumes the composed YAML nodes of one
``*.test.yaml`` (positions kept, :mod:`receiver.text.yamlnodes`) and produces plain
values: strings, JSON data, whole numbers, rule references and pinned times, reporting
each ill-typed value as a :class:`~receiver.text.diagnostics.Diagnostic` at its node.
The file and case structure is read in :mod:`receiver.testing.reader`, expectations in
:mod:`receiver.testing.expectations`, counter seeds in :mod:`receiver.testing.seeds`.
It is the test-file counterpart of :mod:`receiver.load.fields` (policy files), whose
reader keeps every value located instead of producing plain JSON.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import yaml

from receiver.dsl.times import parse_time
from receiver.dsl.values import Timestamp
from receiver.testing.model import RolloutWay, RuleRef
from receiver.text.diagnostics import did_you_mean
from receiver.text.yamlnodes import NodeReader, scalar_value

NONE_WORDS = ("none", "nothing")

# What FieldReader.value answers for a value with errors (None is a valid value: `~`).
NOTHING: Any = object()


def plain_scalar(value: Any) -> Any:
    """YAML-only scalars as the JSON a platform would send: times become ISO-8601 text."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class FieldReader(NodeReader):
    """Reads the typed values of one test file; every problem is a diagnostic at its node."""

    def string(self, node: yaml.Node, what: str, *, allow_empty: bool = False) -> str | None:
        if isinstance(node, yaml.ScalarNode):
            value = scalar_value(node)
            if isinstance(value, str) and (allow_empty or value.strip()):
                return value
            if node.style is None and not isinstance(value, str) and value is not None:
                return str(node.value)  # `message: 42`, `name: 2026`: the text as written
        self.error("type", f"{what} must be {'a' if allow_empty else 'a non-empty'} string", node)
        return None

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...] | None:
        """One string or a list of strings."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = [self.string(item, f"each entry of {what}") for item in items]
        if any(s is None for s in out):
            return None
        if not out:
            self.error("type", f"{what} is empty; give at least one text", node)
            return None
        return tuple(s for s in out if s is not None)

    def is_none_word(self, node: yaml.Node) -> bool:
        """``none``, ``nothing``, ``~``/``null`` or ``[]``: the explicit "nothing" answer."""
        if isinstance(node, yaml.SequenceNode):
            return not node.value
        if isinstance(node, yaml.ScalarNode):
            value = scalar_value(node)
            return value is None or (isinstance(value, str) and value.lower() in NONE_WORDS)
        return False

    def value(self, node: yaml.Node, what: str, active: frozenset[int] = frozenset()) -> Any:
        """A YAML value as plain JSON data (maps keyed by strings); ``NOTHING`` on errors."""
        if id(node) in active:
            self.error("yaml", f"{what} refers to itself (a recursive YAML alias)", node)
            return NOTHING
        inner = active | {id(node)}
        if isinstance(node, yaml.MappingNode):
            entries = self.mapping(node, what, None)
            if entries is None:
                return NOTHING
            out: dict[str, Any] = {}
            ok = len(entries) == len(node.value)
            for key, (_, value_node) in entries.items():
                item = self.value(value_node, what, inner)
                ok = ok and item is not NOTHING
                out[key] = item
            return out if ok else NOTHING
        if isinstance(node, yaml.SequenceNode):
            items = [self.value(item, what, inner) for item in node.value]
            return NOTHING if any(i is NOTHING for i in items) else items
        assert isinstance(node, yaml.ScalarNode)
        return plain_scalar(scalar_value(node))

    def data_map(self, node: yaml.Node, what: str) -> dict[str, Any] | None:
        if isinstance(node, yaml.ScalarNode) and scalar_value(node) is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error("type", f"{what} must be a mapping (key: value lines)", node)
            return None
        value = self.value(node, what)
        return None if value is NOTHING else value

    def whole_number(self, node: yaml.Node, what: str) -> int | None:
        """A whole number, or ``none``/``~`` for "not set"."""
        if self.is_none_word(node):
            return None
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.error("type", f"{what} must be a whole number (or none)", node)
        return None

    def rule_ref(self, node: yaml.Node, what: str) -> RuleRef | None:
        text = self.string(node, what)
        return RuleRef(text.strip(), self.span(node)) if text is not None else None

    def rule_ways(
        self, node: yaml.Node, what: str, ways: tuple[str, str]
    ) -> list[RolloutWay] | None:
        """A map from rule id to ``ways[0]`` (enforce/enforced) or ``ways[1]`` (shadow)."""
        entries = self.mapping(node, what, None)
        if entries is None:
            return None
        out: list[RolloutWay] = []
        ok = len(entries) == len(cast(yaml.MappingNode, node).value)
        for rule_id, (key_node, value_node) in entries.items():
            value = scalar_value(value_node) if isinstance(value_node, yaml.ScalarNode) else None
            if value not in ways:
                hint = did_you_mean(value, ways) if isinstance(value, str) else ""
                self.error(
                    "bad-value",
                    f"the way of rule '{rule_id}' in {what} must be {ways[0]} or {ways[1]}{hint}",
                    value_node,
                )
                ok = False
                continue
            out.append(RolloutWay(RuleRef(rule_id.strip(), self.span(key_node)), value == ways[0]))
        return out if ok else None

    def rule_refs(self, node: yaml.Node, what: str) -> list[RuleRef] | None:
        if self.is_none_word(node):
            return []
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        refs = [self.rule_ref(item, f"each entry of {what}") for item in items]
        if any(r is None for r in refs):
            return None
        return [r for r in refs if r is not None]

    def time(self, node: yaml.Node) -> Timestamp | None:
        text = node.value if isinstance(node, yaml.ScalarNode) else None
        if isinstance(text, str):
            try:
                return Timestamp(parse_time(text))
            except ValueError as err:
                self.error("bad-value", f"'now': {err} (e.g. 2026-11-22T12:00:00Z)", node)
                return None
        self.error("type", "'now' must be a time such as 2026-11-22T12:00:00Z", node)
        return None
