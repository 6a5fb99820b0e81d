"""Loading policy files: YAML text to :class:`~receiver.load.documents.PolicyDoc`.

Stage 1 of the pipeline. Reads every ``*.yaml`` file of a directory (not ``*.test.yaml``
or ``*.users.yaml``: :mod:`receiver.load.kinds`) with ``yaml.compose`` so that every node
keeps its position, checks the shape of the pinned format (required fields, unknown
fields, value types, duplicate keys), and returns documents plus diagnostics. Expression
strings are not parsed here, only located.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import yaml

from receiver.load.counters import read_counters
from receiver.load.documents import (
    ACTIONS,
    MODES,
    ON_ERROR,
    Action,
    ListDoc,
    Located,
    MacroDoc,
    Mode,
    OnError,
    PolicyDoc,
    RuleDoc,
    SetDoc,
)
from receiver.load.fields import FieldReader
from receiver.load.kinds import is_policy_file_name, report_not_a_policy
from receiver.load.rollout import parse_instant, parse_percent
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile
from receiver.text.yamlnodes import compose_source, read_source_text, scalar_value

# A policy file larger than this is refused (``too-large``) before it is parsed: the
# shipped files are a few KiB, and a generated set of 10,000 rules is better split.
MAX_POLICY_FILE_BYTES = 1024 * 1024

POLICY_FIELDS = (
    "policy", "description", "priority", "on_error", "lists", "macros", "counters", "rules",
)  # fmt: skip
RULE_FIELDS = (
    "id",
    "description",
    "events",
    "when",
    "unless",
    "action",
    "message",
    "set",
    "unset",
    "mode",
    "enabled",
    "status",
    "reason_code",
    "rollout",
    "rollout_key",
    "expires",
)
# Keys writers coming from other rule engines reach for, and the field they mean.
RULE_MEANT = {
    "on": "events",
    "event": "events",
    "trigger": "events",
    "if": "when",
    "name": "id",
    "condition": "when",
    "conditions": "when",
    "match": "when",
    "effect": "action",
    "verdict": "action",
    "decision": "action",
    "then": "action",
}
# The same at the top of a policy file.
POLICY_MEANT = {"name": "policy", "id": "policy"}
# What to write for each required rule field, for "this rule has no ...".
RULE_REQUIRED = {
    "id": "'id:' with a name unique in this policy",
    "events": "'events:' with the event names it applies to",
    "action": "'action:' with " + ", ".join(ACTIONS[:-1]) + f" or {ACTIONS[-1]}",
}


def policy_files(paths: Iterable[Path]) -> list[Path]:
    """The policy files under the given files or directories, sorted by name: in a
    directory, every ``*.yaml`` and ``*.yml`` but test and users files; a file given by
    name, whatever its name."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*.yaml")) + sorted(path.rglob("*.yml"))
                if is_policy_file_name(p.name) and p.is_file()
            )
        else:
            found.append(path)
    return sorted(set(found), key=lambda p: (p.name, str(p)))


def _meant_fields(node: yaml.Node, meant: dict[str, str]) -> set[str]:
    """The fields that keys of the mapping ``node`` were told they mean (``on`` for
    ``events``)."""
    return {
        meant[key.value.lower()]
        for key, _ in cast(yaml.MappingNode, node).value
        if isinstance(key, yaml.ScalarNode) and key.value.lower() in meant
    }


class _Reader(FieldReader):
    """Turns the composed YAML node tree of one file into a PolicyDoc."""

    def read(self, root: yaml.Node) -> PolicyDoc | None:
        if report_not_a_policy(self, root, POLICY_FIELDS):
            return None
        fields = self.mapping(root, "a policy file", POLICY_FIELDS, POLICY_MEANT)
        if fields is None:
            return None
        if "policy" not in fields:
            # `name:` already got "did you mean 'policy:'?": not reported missing twice.
            if "policy" not in _meant_fields(root, POLICY_MEANT):
                self.diags.error(
                    "missing-field",
                    "a policy file needs a 'policy: NAME' line naming the policy",
                    self.source.span(root.start_mark.index),
                )
            return None
        name = self.string(fields["policy"][1], "'policy'")
        if name is None:
            return None
        doc = PolicyDoc(self.source.path, self.source, name, self.span(root))
        if "description" in fields:
            desc = self.string(fields["description"][1], "'description'")
            doc.description = desc.value if desc else ""
        if "priority" in fields:
            node = fields["priority"][1]
            value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
            if isinstance(value, int) and not isinstance(value, bool):
                doc.priority = value
            else:
                self.error("type", "'priority' must be a whole number (higher runs first)", node)
        if "on_error" in fields:
            choice = self.choice(fields["on_error"][1], "'on_error'", ON_ERROR)
            if choice:
                doc.on_error = cast(OnError, choice.value)
        if "lists" in fields:
            self.read_lists(fields["lists"][1], doc)
        if "macros" in fields:
            self.read_macros(fields["macros"][1], doc)
        if "counters" in fields:
            read_counters(self, fields["counters"][1], doc)
        if "rules" in fields:
            node = fields["rules"][1]
            if isinstance(node, yaml.SequenceNode):
                for item in node.value:
                    rule = self.read_rule(item)
                    if rule is not None:
                        doc.rules.append(rule)
            elif not (isinstance(node, yaml.ScalarNode) and scalar_value(node) is None):
                self.error(
                    "type", "'rules' must be a list of rules (lines starting with '- ')", node
                )
        return doc

    def read_lists(self, node: yaml.Node, doc: PolicyDoc) -> None:
        entries = self.mapping(node, "'lists'", None)
        for name, (key_node, value_node) in (entries or {}).items():
            if not isinstance(value_node, yaml.SequenceNode):
                self.error("type", f"list '{name}' must be a YAML list such as [a, b]", value_node)
                continue
            items: list[Located[object]] = []
            for item in value_node.value:
                value = scalar_value(item) if isinstance(item, yaml.ScalarNode) else None
                if isinstance(value, str | int | float | bool) and value is not None:
                    items.append(Located(value, self.span(item)))
                else:
                    self.error("type", f"entries of list '{name}' must be strings or numbers", item)
            doc.lists[name] = ListDoc(Located(name, self.span(key_node)), tuple(items))

    def read_macros(self, node: yaml.Node, doc: PolicyDoc) -> None:
        entries = self.mapping(node, "'macros'", None)
        for name, (key_node, value_node) in (entries or {}).items():
            expr = self.expression(value_node, f"macro '{name}'")
            if expr is not None:
                doc.macros[name] = MacroDoc(Located(name, self.span(key_node)), expr)

    def read_rule(self, node: yaml.Node) -> RuleDoc | None:
        fields = self.mapping(node, "a rule", RULE_FIELDS, RULE_MEANT)
        if fields is None:
            return None
        span = self.span(node)
        first_line = self.source.span(node.start_mark.index)
        # A field already named by a "did you mean" (`on:` for `events:`) is not missing twice.
        hinted = _meant_fields(node, RULE_MEANT)
        missing = [f for f in RULE_REQUIRED if f not in fields and f not in hinted]
        if missing:
            what = ", ".join(f"'{m}'" for m in missing)
            todo = [RULE_REQUIRED[m] for m in missing]
            add = todo[0] if len(todo) == 1 else ", ".join(todo[:-1]) + f" and {todo[-1]}"
            self.diags.error("missing-field", f"this rule has no {what}; add {add}", first_line)
        rule_id = self.string(fields["id"][1], "'id'") if "id" in fields else None
        events = self.read_events(fields["events"][1]) if "events" in fields else None
        action = (
            self.choice(fields["action"][1], "'action'", ACTIONS) if "action" in fields else None
        )
        if rule_id is None or events is None or action is None:
            return None
        # cast() with a string: Located[Action] would build a generic alias for every rule.
        rule = RuleDoc(rule_id, span, events, cast("Located[Action]", action))
        changes: dict[str, Any] = {}
        for key in ("when", "unless", "message"):
            if key in fields:
                changes[key] = self.expression(fields[key][1], f"'{key}'")
        if "set" in fields:
            changes["sets"] = self.read_sets(fields["set"][1])
        if "unset" in fields:
            changes["unsets"] = self.read_unsets(fields["unset"][1])
        if "mode" in fields:
            mode = self.choice(fields["mode"][1], "'mode'", MODES)
            if mode:
                changes["mode"] = cast(Mode, mode.value)
        if "enabled" in fields:
            enabled = self.boolean(fields["enabled"][1], "'enabled'")
            changes["enabled"] = True if enabled is None else enabled
        if "description" in fields:
            desc = self.string(fields["description"][1], "'description'")
            changes["description"] = desc.value if desc else ""
        for key in ("status", "reason_code"):
            if key in fields:
                changes[key] = self.error_code(fields[key][1], key)
        self.check_action_fields(rule, fields, changes)
        self.read_rollout(fields, changes)
        return _replace(rule, changes)

    def read_rollout(
        self, fields: dict[str, tuple[yaml.Node, yaml.Node]], changes: dict[str, Any]
    ) -> None:
        """``rollout``, ``rollout_key`` and ``expires`` (:mod:`receiver.load.rollout`)."""
        if "rollout" in fields or "expires" in fields:
            changes["limited"] = True  # a bad value too: no "can never apply" after it
        if "rollout" in fields:
            node = fields["rollout"][1]
            value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
            try:
                changes["rollout"] = Located(parse_percent(value), self.span(node))
            except ValueError as err:
                self.error("bad-value", str(err), node)
            else:
                if isinstance(value, float) and 0 < value < 1:  # 0.2 as a fraction?
                    self.diags.warning(
                        "small-rollout",
                        f"'rollout: {value:g}' enforces for {value:g}% of keys (a plain number "
                        f"is a percent); write {value * 100:g}% if you meant a fraction, or "
                        f"{value:g}% to keep it",
                        self.span(node),
                    )
            if changes.get("mode") == "shadow":
                self.error(
                    "misplaced-field",
                    "'rollout' makes an enforcing rule enforce for some keys only (shadow for "
                    "the others); a 'mode: shadow' rule never enforces, so remove 'mode: "
                    "shadow' to roll it out, or remove 'rollout' to keep it in shadow",
                    fields["rollout"][0],
                )
        if "rollout_key" in fields:
            if "rollout" not in fields:
                self.error(
                    "misplaced-field",
                    "'rollout_key' only applies to a rule with 'rollout:' (add 'rollout: 10%' "
                    "or remove 'rollout_key')",
                    fields["rollout_key"][0],
                )
            else:
                changes["rollout_key"] = self.expression(fields["rollout_key"][1], "'rollout_key'")
        if "expires" in fields:
            node = fields["expires"][1]
            if not isinstance(node, yaml.ScalarNode):
                self.error(
                    "type", "'expires' must be a date-time such as 2027-01-31T00:00:00Z", node
                )
                return
            try:
                instant = parse_instant(node.value, scalar_value(node))
            except ValueError as err:
                self.error("bad-value", str(err), node)
                return
            changes["expires"] = Located(instant, self.span(node))

    def check_action_fields(
        self, rule: RuleDoc, fields: dict[str, tuple[yaml.Node, yaml.Node]], changes: dict[str, Any]
    ) -> None:
        action = rule.action.value
        if action != "modify":
            for key in ("set", "unset"):
                if key in fields:
                    self.error(
                        "misplaced-field",
                        f"'{key}' only applies to 'action: modify' (this rule is '{action}')",
                        fields[key][0],
                    )
        elif not changes.get("sets") and not changes.get("unsets"):
            self.diags.error(
                "missing-field",
                "a 'modify' rule needs 'set' or 'unset' to say what to change",
                rule.action.span,
            )
        for key in ("status", "reason_code"):
            if key in fields and action != "deny":
                self.error(
                    "misplaced-field",
                    f"'{key}' only applies to 'action: deny' (this rule is '{action}')",
                    fields[key][0],
                )
        if "message" in fields and action != "deny":
            self.error(
                "misplaced-field",
                f"'message' only applies to 'action: deny' (this rule is '{action}')",
                fields["message"][0],
            )

    def error_code(self, node: yaml.Node, key: str) -> int | None:
        """``status`` (an error status, not 200) or ``reason_code`` of a brainCloud deny."""
        value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, int) or isinstance(value, bool):
            self.error("type", f"'{key}' must be a whole number", node)
            return None
        if key == "status" and not 400 <= value <= 599:
            self.error(
                "bad-value",
                f"'status' is the error status a brainCloud client sees: use 400 to 599, "
                f"not {value}",
                node,
            )
            return None
        return value

    def read_sets(self, node: yaml.Node) -> tuple[SetDoc, ...]:
        entries = self.mapping(node, "'set'", None)
        out: list[SetDoc] = []
        for target, (key_node, value_node) in (entries or {}).items():
            expr = self.expression(value_node, f"the value for '{target}'")
            if expr is not None:
                out.append(SetDoc(Located(target, self.span(key_node)), expr))
        return tuple(out)

    def read_unsets(self, node: yaml.Node) -> tuple[Located[str], ...]:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[Located[str]] = []
        for item in items:
            located = self.string(item, "each entry of 'unset'")
            if located is not None:
                out.append(located)
        return tuple(out)


def _replace(rule: RuleDoc, changes: dict[str, Any]) -> RuleDoc:
    return replace(rule, **{k: v for k, v in changes.items() if v is not None})


def load_text(path: str, text: str, diagnostics: Diagnostics) -> PolicyDoc | None:
    """Read one policy file's text; problems go to ``diagnostics``."""
    source = SourceFile(path, text)
    root = compose_source(source, diagnostics, "policy file")
    return None if root is None else _Reader(source, diagnostics).read(root)


def load_file(path: Path, diagnostics: Diagnostics) -> PolicyDoc | None:
    text = read_source_text(path, diagnostics, MAX_POLICY_FILE_BYTES)
    return None if text is None else load_text(str(path), text, diagnostics)
