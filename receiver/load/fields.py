"""Reading one field of a policy file: located strings, expressions, booleans, choices.

Stage 1 (load). Consumes composed YAML nodes (``receiver.text.yamlnodes``) and produces
located values (:class:`~receiver.load.documents.Located`) and expression sources whose
every character maps back to its file, line and column (``_align``). Used by the policy
reader (``loader``) and the counter reader (``load.counters``).
"""

from __future__ import annotations

import yaml

from receiver.dsl.parser import ExprSource
from receiver.load.documents import (
    Located,
)
from receiver.text.diagnostics import did_you_mean
from receiver.text.yamlnodes import NodeReader, scalar_value


def _align(value: str, raw: str, base: int) -> tuple[int, ...]:
    """File offsets of each character of a scalar's value, found in its raw YAML text.

    Greedy alignment: quotes, escapes, indentation and folded line breaks are skipped
    over. Good enough to put a caret under the right character in all usual styles.
    """
    if value:
        # The usual case, a scalar written without escapes or line breaks: the value is
        # a piece of the raw text, where the greedy search below would find it too.
        first = _find_char(raw, value[0], 0)
        if first != -1 and raw.startswith(value, first):
            return tuple(range(base + first, base + first + len(value) + 1))
    offsets: list[int] = []
    j = 0
    for char in value:
        k = _find_char(raw, char, j)
        if k == -1:
            offsets.append(offsets[-1] if offsets else base)
            continue
        offsets.append(base + k)
        j = k + 1
    offsets.append((offsets[-1] + 1) if offsets else base)
    return tuple(offsets)


def _find_char(raw: str, char: str, start: int) -> int:
    """Where ``_align`` places ``char``: its next occurrence; any space or line break for those."""
    if char in " \n":
        candidates = [k for k in (raw.find(" ", start), raw.find("\n", start)) if k != -1]
        return min(candidates) if candidates else -1
    return raw.find(char, start)


class FieldReader(NodeReader):
    """Reads the fields of one policy file's composed YAML nodes as located values."""

    def string(self, node: yaml.Node, what: str) -> Located[str] | None:
        if isinstance(node, yaml.ScalarNode):
            value = scalar_value(node)
            if isinstance(value, str) and value.strip():
                return Located(value, self.span(node))
        self.error("type", f"{what} must be a non-empty string", node)
        return None

    def expression(self, node: yaml.Node, what: str) -> ExprSource | None:
        """An expression field: a string, or a plain scalar such as ``true`` or ``5``."""
        if not isinstance(node, yaml.ScalarNode):
            self.error("type", f"{what} must be an expression written as a string", node)
            return None
        start, end = node.start_mark.index, node.end_mark.index
        raw = self.source.text[start:end]
        value = scalar_value(node)
        if not isinstance(value, str):
            if node.style is None:  # `when: true`, `set: {data.n: 5}`: take the text as written
                return ExprSource.contiguous(self.source, raw, start)
            value = str(value)
        return ExprSource(self.source, value, _align(value, raw, start))

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool):
            return value
        self.error("type", f"{what} must be true or false", node)
        return None

    def choice(self, node: yaml.Node, what: str, choices: tuple[str, ...]) -> Located[str] | None:
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, str) and value in choices:
            return Located(value, self.span(node))
        shown = f"'{value}'" if isinstance(value, str) else "this value"
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        self.error(
            "bad-value", f"{what} must be one of {', '.join(choices)}, not {shown}{hint}", node
        )
        return None

    def read_events(self, node: yaml.Node) -> tuple[Located[str], ...] | None:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        events: list[Located[str]] = []
        for item in items:
            located = self.string(item, "each entry of 'events'")
            if located is not None:
                events.append(located)
        if not events:
            if isinstance(node, yaml.SequenceNode) and not node.value:
                self.error("type", "'events' is empty; name at least one event", node)
            return None
        return tuple(events)
