"""``counters:`` in policy test files: counter values before a case's own event.

Stage: testing (policy tests), reading. Consumes the composed ``counters:`` node of a
test file or case and produces :class:`~receiver.testing.model.CounterSeed` entries with
positions; the counter names are resolved against the policies later, by the runner.

    counters:                       # in the file (every case) or in a case (wins per key)
      messages_per_minute: {sam: 5} # a counter of the tested policies: name or policy/name
      rate-limits/strikes: {sam: 2} # keys are the key's text (quote numbers if you like)

A value is what the counter holds for that key *before* the case's event: with 5, a
message from ``sam`` that feeds ``messages_per_minute`` reads 6. Every case starts from
empty counters (nothing carries over between cases), plus these seeds.
"""

from __future__ import annotations

import yaml

from receiver.counters.seed import check_value
from receiver.testing.model import CounterSeed
from receiver.text.yamlnodes import NodeReader

INT_TAG = "tag:yaml.org,2002:int"


def read_seeds(reader: NodeReader, node: yaml.Node) -> list[CounterSeed]:
    seeds: list[CounterSeed] = []
    entries = reader.mapping(node, "'counters'", None)
    for name, (name_node, keys_node) in (entries or {}).items():
        if not isinstance(keys_node, yaml.MappingNode):
            message = f"counter '{name}' needs a mapping of key: value, e.g. {{sam: 5}}"
            reader.error("type", message, keys_node)
            continue
        for key_node, value_node in keys_node.value:
            if not isinstance(key_node, yaml.ScalarNode) or not key_node.value:
                reader.error("type", "a counter key must be written as text", key_node)
                continue
            value = None
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag == INT_TAG:
                try:
                    value = check_value(int(value_node.value))
                except ValueError:
                    value = None
            if value is None:
                reader.error(
                    "type",
                    f"{name}[{key_node.value}] must be a whole number >= 0 (the count before "
                    "the case's event)",
                    value_node,
                )
                continue
            seeds.append(CounterSeed(name, reader.span(name_node), key_node.value, value))
    return seeds
