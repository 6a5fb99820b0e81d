"""The ``expect:`` of a policy test case: what the decision should be, read from YAML.

Stage: testing (policy tests), reading. Consumes the ``expect`` node of one case (a
verdict, ``allow``/``deny``, or a map of expectations: action, message, data, rule,
modified_by, shadow, answer, status, reason_code, rollout, errors) and produces an
:class:`~receiver.testing.model.Expectation`, or ``None`` after reporting each problem
(unknown fields, wrong types, fields that contradict the expected action) as a
diagnostic at its node. Comparing a decision with it is :mod:`receiver.testing.expect`.
"""

from __future__ import annotations

import yaml

from receiver.testing.fields import NOTHING, FieldReader
from receiver.testing.model import ANY_ERRORS, Expectation, ShadowExpect
from receiver.text.diagnostics import did_you_mean
from receiver.text.yamlnodes import scalar_value

EXPECT_FIELDS = (
    "action",
    "message",
    "message_contains",
    "data",
    "data_contains",
    "rule",
    "modified_by",
    "shadow",
    "errors",
    "answer",
    "status",
    "reason_code",
    "rollout",
)
ROLLOUT_WAYS = ("enforced", "shadow")  # the expectation's `rollout:` values
SHADOW_FIELDS = ("rule", "action", "message", "message_contains")
VERDICTS = ("allow", "deny")


def read_expect(reader: FieldReader, node: yaml.Node) -> Expectation | None:
    """The expectation of one case; ``None`` once its problems are reported."""
    span = reader.span(node)
    if isinstance(node, yaml.ScalarNode):
        value = scalar_value(node)
        if isinstance(value, str) and value.strip() in VERDICTS:
            return Expectation(span, action=value.strip())
        hint = did_you_mean(value, VERDICTS) if isinstance(value, str) else ""
        reader.error(
            "bad-value",
            f"'expect' must be allow, deny or a map of expectations{hint}",
            node,
        )
        return None
    fields = reader.mapping(node, "'expect'", EXPECT_FIELDS)
    if fields is None:
        return None
    if not fields:
        reader.error("missing-field", "'expect' is empty; say at least 'action'", node)
        return None
    errors_before = len(reader.diags.errors)
    expect = Expectation(span)
    if "action" in fields:
        action_node = fields["action"][1]
        value = scalar_value(action_node) if isinstance(action_node, yaml.ScalarNode) else None
        if isinstance(value, str) and value in VERDICTS:
            expect.action = value
        else:
            hint = did_you_mean(value, VERDICTS) if isinstance(value, str) else ""
            extra = (
                " (the answer to the platform is allow or deny; expect a changed text "
                "with 'data' or 'modified_by')"
                if value == "modify"
                else hint
            )
            reader.error("bad-value", f"'action' must be allow or deny{extra}", action_node)
    if "message" in fields:
        expect.message = reader.string(fields["message"][1], "'message'", allow_empty=True)
    if "message_contains" in fields:
        expect.message_contains = (
            reader.strings(fields["message_contains"][1], "'message_contains'") or ()
        )
    if "data" in fields:
        expect.data = reader.data_map(fields["data"][1], "'data'")
    if "data_contains" in fields:
        expect.data_contains = reader.data_map(fields["data_contains"][1], "'data_contains'")
    if "rule" in fields:
        expect.rule_given = True
        rule_node = fields["rule"][1]
        if not reader.is_none_word(rule_node):
            expect.rule = reader.rule_ref(rule_node, "'rule'")
    if "modified_by" in fields:
        expect.modified_by = reader.rule_refs(fields["modified_by"][1], "'modified_by'")
    if "shadow" in fields:
        expect.shadow = _read_shadow(reader, fields["shadow"][1])
    if "answer" in fields:
        expect.answer_given = True
        answer = reader.value(fields["answer"][1], "'answer'")
        expect.answer = None if answer is NOTHING else answer
    for key in ("status", "reason_code"):
        if key in fields:
            number = reader.whole_number(fields[key][1], f"'{key}'")
            setattr(expect, key, number)
            setattr(expect, f"{key}_given", True)
    if "rollout" in fields:
        expect.rollout = reader.rule_ways(fields["rollout"][1], "'rollout'", ROLLOUT_WAYS)
    if "errors" in fields:
        errors_node = fields["errors"][1]
        value = scalar_value(errors_node) if isinstance(errors_node, yaml.ScalarNode) else None
        if value == ANY_ERRORS:
            expect.errors = ANY_ERRORS
        else:
            expect.errors = reader.rule_refs(errors_node, "'errors'")
    _check_consistency(reader, expect, fields)
    return expect if len(reader.diags.errors) == errors_before else None


def _check_consistency(
    reader: FieldReader, expect: Expectation, fields: dict[str, tuple[yaml.Node, yaml.Node]]
) -> None:
    """Reports fields that cannot hold together with the expected action."""
    deny_only = [k for k in ("message", "message_contains") if k in fields]
    allow_only = [k for k in ("data", "data_contains") if k in fields]
    if expect.action == "allow" and deny_only:
        reader.error(
            "misplaced-field",
            f"'{deny_only[0]}' only applies when the answer is deny (this case expects allow)",
            fields[deny_only[0]][0],
        )
    if expect.action == "deny" and allow_only:
        reader.error(
            "misplaced-field",
            f"'{allow_only[0]}' only applies when the answer is allow (a deny carries no data)",
            fields[allow_only[0]][0],
        )
    if deny_only and allow_only:
        reader.error(
            "misplaced-field",
            f"'{deny_only[0]}' (a deny) and '{allow_only[0]}' (an allow) can't both hold",
            fields[allow_only[0]][0],
        )


def _read_shadow(reader: FieldReader, node: yaml.Node) -> list[ShadowExpect] | None:
    if reader.is_none_word(node):
        return []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out: list[ShadowExpect] = []
    ok = True
    for item in items:
        if isinstance(item, yaml.ScalarNode):
            ref = reader.rule_ref(item, "each entry of 'shadow'")
            if ref is None:
                ok = False
            else:
                out.append(ShadowExpect(ref))
            continue
        fields = reader.mapping(item, "an entry of 'shadow'", SHADOW_FIELDS)
        if fields is None:
            ok = False
            continue
        if "rule" not in fields:
            reader.error("missing-field", "this 'shadow' entry has no 'rule'", item)
            ok = False
            continue
        ref = reader.rule_ref(fields["rule"][1], "'rule'")
        action = None
        if "action" in fields:
            action_node = fields["action"][1]
            value = scalar_value(action_node) if isinstance(action_node, yaml.ScalarNode) else None
            if value in ("allow", "deny", "modify"):
                action = str(value)
            else:
                reader.error(
                    "bad-value", "a shadow 'action' must be allow, deny or modify", action_node
                )
                ok = False
        message = (
            reader.string(fields["message"][1], "'message'", allow_empty=True)
            if "message" in fields
            else None
        )
        contains: tuple[str, ...] = ()
        if "message_contains" in fields:
            contains = reader.strings(fields["message_contains"][1], "'message_contains'") or ()
        if ref is None:
            ok = False
            continue
        out.append(ShadowExpect(ref, action, message, contains))
    return out if ok else None
