"""Reading ``counters:`` from a policy file: the shape of each counter declaration.

Stage 1 (load). Checks fields, a duration ``window``, either ``events`` or ``decisions``,
and produces :class:`~receiver.load.documents.CounterDoc` entries with positions. The
expressions are checked later, inside the policy's name scope (``receiver.check.counters``).
"""

from __future__ import annotations

import yaml

from receiver.dsl.times import parse_duration
from receiver.load.documents import CounterDoc, Located, PolicyDoc
from receiver.load.fields import FieldReader

COUNTER_FIELDS = ("description", "events", "decisions", "key", "distinct", "when", "window")
MAX_WINDOW_SECONDS = 31 * 86400


def parse_window(text: str) -> float | None:
    """Seconds of a duration literal such as ``60s``, ``10m``, ``1.5h`` (surrounding
    whitespace ignored); None if not one."""
    try:
        return parse_duration(text)
    except ValueError:
        return None


# -- reading (loader stage) ---------------------------------------------------------------


def read_counters(reader: FieldReader, node: yaml.Node, doc: PolicyDoc) -> None:
    """``counters:`` of a policy file: a map from counter name to its declaration."""
    entries = reader.mapping(node, "'counters'", None)
    for name, (key_node, value_node) in (entries or {}).items():
        fields = reader.mapping(value_node, f"counter '{name}'", COUNTER_FIELDS)
        if fields is None:
            continue
        name_loc = Located(name, reader.span(key_node))
        first = reader.source.span(key_node.start_mark.index)
        problems = len(reader.diags.errors)
        missing = [f for f in ("key", "window") if f not in fields]
        if "events" not in fields and "decisions" not in fields:
            missing.insert(0, "events' or 'decisions")
        if missing:
            what = ", ".join(f"'{m}'" for m in missing)
            reader.diags.error("missing-field", f"counter '{name}' has no {what}", first)
        if "events" in fields and "decisions" in fields:
            reader.error(
                "misplaced-field",
                f"counter '{name}' counts either events or decisions, not both",
                fields["decisions"][0],
            )
        if "decisions" in fields:
            for other in ("distinct", "when"):
                if other in fields:
                    reader.error(
                        "misplaced-field",
                        f"'{other}' only applies to event counters ('events:'); a decision "
                        "counter counts the decisions of its rules",
                        fields[other][0],
                    )
        events = reader.read_events(fields["events"][1]) if "events" in fields else None
        decisions = None
        if "decisions" in fields:
            decisions = _strings(reader, fields["decisions"][1], "each entry of 'decisions'")
            if not decisions:
                reader.error(
                    "type", "'decisions' needs at least one rule id", fields["decisions"][1]
                )
        window = _window(reader, fields["window"][1]) if "window" in fields else None
        key = reader.expression(fields["key"][1], "'key'") if "key" in fields else None
        distinct = (
            reader.expression(fields["distinct"][1], "'distinct'") if "distinct" in fields else None
        )
        when = reader.expression(fields["when"][1], "'when'") if "when" in fields else None
        description = ""
        if "description" in fields:
            desc = reader.string(fields["description"][1], "'description'")
            description = desc.value if desc else ""
        if len(reader.diags.errors) > problems:
            continue
        doc.counters[name] = CounterDoc(
            name_loc,
            reader.span(value_node),
            key,
            window,
            events=events,
            decisions=decisions,
            distinct=distinct,
            when=when,
            description=description,
        )


def _strings(reader: FieldReader, node: yaml.Node, what: str) -> tuple[Located[str], ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out: list[Located[str]] = []
    for item in items:
        located = reader.string(item, what)
        if located is not None:
            out.append(located)
    return tuple(out)


def _window(reader: FieldReader, node: yaml.Node) -> Located[str] | None:
    text = node.value if isinstance(node, yaml.ScalarNode) else None
    seconds = parse_window(text) if isinstance(text, str) else None
    if seconds is None:
        reader.error(
            "bad-value",
            "'window' must be a duration such as 60s, 10m, 24h or 7d (units: ms, s, m, h, d, w)",
            node,
        )
        return None
    if not 0.001 <= seconds <= MAX_WINDOW_SECONDS:
        reader.error("bad-value", "'window' must be between 1ms and 31d", node)
        return None
    assert isinstance(text, str)
    return Located(text.strip(), reader.span(node))


def counter_ids(doc: PolicyDoc) -> dict[str, str]:
    """The counters a policy's expressions can read: name -> ``policy/name``."""
    return {name: f"{doc.name.value}/{name}" for name in doc.counters}
