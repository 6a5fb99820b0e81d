"""What every field of a policy file and of a policy test file means: the one table.

Stage 1 (load), as documentation data: nothing here reads a file. Consumes nothing;
produces the field tables that two things are made from, so that they cannot disagree:

- the markdown tables of the README ("Policy files", "Counters") and of docs/testing.md
  ("File fields", "Case fields", "Expectations"), written by
  :mod:`receiver.load.doctables` (``python -m receiver.load.doctables --write``;
  ``tests/load/test_doctables.py`` fails when the docs differ from this table);
- the JSON Schemas of ``receiver schema policy|test`` (:mod:`receiver.load.schema`),
  whose descriptions are the ``meaning`` texts below.

Each entry names one field (or a few that share a row of the docs), where it goes, its
JSON Schema (type, allowed values, patterns: no stricter than the readers, so a file the
schema rejects is one ``receiver check`` or ``receiver test`` rejects too) and what it
means, in the docs' words (markdown). The readers (``receiver.load.loader``,
``receiver.load.counters``, ``receiver.testing.reader``) keep their own tuples of field
names; ``tests/load/test_fields_doc.py`` checks that this table names the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from receiver.load.documents import ACTIONS, MODES, ON_ERROR

__all__ = [
    "CASE_FIELDS",
    "COUNTER_FIELDS",
    "DEFAULTS_FIELDS",
    "EXPECT_FIELDS",
    "POLICY_TABLE",
    "SHADOW_ENTRY_FIELDS",
    "TEST_FILE_FIELDS",
    "FieldDoc",
    "Schema",
]

Schema = dict[str, Any]  # a JSON Schema (draft 2020-12) fragment


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One row of a docs table: one field, or several that share the row.

    ``where`` is the README's "where" column (``policy``, ``rule``, ``deny rule``, ...);
    the last word of each entry names the object the field belongs to. ``schemas``
    holds the JSON Schema of each name in ``names``. ``example`` is the expectations
    table's example column.
    """

    names: tuple[str, ...]
    meaning: str
    schemas: Mapping[str, Schema]
    where: tuple[str, ...] = ()
    example: str = ""
    required: bool = False
    default: Any = field(default=None)


def _one(
    name: str,
    meaning: str,
    schema: Schema,
    *,
    where: tuple[str, ...] = (),
    example: str = "",
    required: bool = False,
    default: Any = None,
) -> FieldDoc:
    return FieldDoc((name,), meaning, {name: schema}, where, example, required, default)


# -- value shapes the readers accept ----------------------------------------------------

NON_EMPTY_TEXT: Schema = {"type": "string", "pattern": r"\S"}
# An expression field takes a string, or a plain scalar written as is (`when: true`,
# `distinct: null`: the language's null; an empty value is an error `receiver check` reports).
EXPRESSION: Schema = {"type": ["string", "number", "boolean", "null"]}
EVENTS: Schema = {
    "anyOf": [NON_EMPTY_TEXT, {"type": "array", "items": NON_EMPTY_TEXT, "minItems": 1}]
}
TEXTS: Schema = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
# `receiver.dsl.times.parse_duration`: a number and a unit, surrounding spaces ignored.
DURATION: Schema = {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?(ms|s|m|h|d|w)\s*$"}
# Rule `rollout:` `10%`, `0.5%`, `100%`, or a plain number 0 to 100 read as a percent.
PERCENT: Schema = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*(100(\.0*)?|[0-9]{1,2}(\.[0-9]*)?|\.[0-9]+)\s*%\s*$"},
        {"type": "number", "minimum": 0, "maximum": 100},
    ]
}
# Rule `expires:` an ISO-8601 date (midnight UTC) or a date-time with a zone.
INSTANT: Schema = {
    "type": "string",
    "pattern": (
        r"^\d{4}-\d{2}-\d{2}"
        r"([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?))?$"
    ),
}
# Test files: a time (ISO-8601 text; a number is epoch seconds).
TIME: Schema = {"type": ["string", "number"]}
WHOLE: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
# Test files: `none`, `nothing` (any case), `~` or `[]` say "nothing".
NONE_WORD: Schema = {
    "anyOf": [
        {"type": "null"},
        {"type": "string", "pattern": "^([Nn][Oo][Nn][Ee]|[Nn][Oo][Tt][Hh][Ii][Nn][Gg])$"},
        {"type": "array", "maxItems": 0},
    ]
}
# Test files: text; a plain number or boolean is taken as written (`name: 2026`).
TEST_TEXT: Schema = {"type": ["string", "number", "boolean"], "pattern": r"\S"}
RULE_REFS: Schema = {
    "anyOf": [
        NONE_WORD,
        {"type": ["string", "number"]},
        {"type": "array", "items": {"type": ["string", "number"]}},
    ]
}
SEEDS: Schema = {
    "type": "object",
    "additionalProperties": {"type": "object", "additionalProperties": COUNT},
}
USERS: Schema = {
    "anyOf": [
        TEST_TEXT,
        {"type": "object", "additionalProperties": {"type": "object"}},
    ]
}
DATA: Schema = {"type": ["object", "null"]}
ROLLOUT_PINS: Schema = {
    "type": "object",
    "additionalProperties": {"enum": ["enforce", "shadow"]},
}
ROLLOUT_WAYS: Schema = {
    "type": "object",
    "additionalProperties": {"enum": ["enforced", "shadow"]},
}

# -- policy files: the README's table under "Policy files" --------------------------------

POLICY_TABLE: tuple[FieldDoc, ...] = (
    _one(
        "policy",
        "required; the policy's name, unique across the directory",
        NON_EMPTY_TEXT,
        where=("policy",),
        required=True,
    ),
    _one("description", "free text, shown by tools", NON_EMPTY_TEXT, where=("policy", "rule")),
    _one(
        "priority",
        "whole number, default 0; higher runs first",
        WHOLE,
        where=("policy",),
        default=0,
    ),
    _one(
        "on_error",
        "`skip` (default) or `deny`: what a rule of this policy does when its evaluation "
        "fails at run time",
        {"enum": list(ON_ERROR)},
        where=("policy",),
        default="skip",
    ),
    _one(
        "lists",
        "named constant lists of strings/numbers, usable by name in expressions",
        {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {"type": ["string", "number", "boolean"]},
            },
        },
        where=("policy",),
    ),
    _one(
        "macros",
        "named expressions, usable by name; they may use lists and other macros (not cyclically)",
        {"type": "object", "additionalProperties": EXPRESSION},
        where=("policy",),
    ),
    _one(
        "counters",
        "named sliding-window counters (events per key, distinct values, or strikes), "
        "usable by name in conditions; see [Counters](#counters)",
        {"type": "object", "additionalProperties": {"$ref": "#/$defs/counter"}},
        where=("policy",),
    ),
    _one(
        "rules",
        "the rules, in order",
        {"type": ["array", "null"], "items": {"$ref": "#/$defs/rule"}},
        where=("policy",),
    ),
    _one(
        "id",
        "required; unique within the policy; shown as `policy/id`",
        NON_EMPTY_TEXT,
        where=("rule",),
        required=True,
    ),
    _one(
        "events",
        "required; one name or a list; exact names (`message.shouldCreate`) or globs "
        "(`message.*`, `*.shouldFlag`)",
        EVENTS,
        where=("rule",),
        required=True,
    ),
    _one("when", "condition; absent means always", EXPRESSION, where=("rule",)),
    _one(
        "unless",
        "exception: the rule applies when `when` holds and `unless` does not",
        EXPRESSION,
        where=("rule",),
    ),
    _one(
        "action",
        "required; `allow`, `deny` or `modify`",
        {"enum": list(ACTIONS)},
        where=("rule",),
        required=True,
    ),
    _one(
        "status",
        "brainCloud only: the error status of the hook's answer, 400 to 599 (default "
        "403); see [brainCloud](#braincloud-portal-x-api-hooks)",
        {"type": "integer", "minimum": 400, "maximum": 599},
        where=("deny rule",),
        default=403,
    ),
    _one(
        "reason_code",
        "brainCloud only: the error's `reasonCode`, a whole number (default 50000)",
        WHOLE,
        where=("deny rule",),
        default=50000,
    ),
    _one(
        "message",
        "the text the user sees; `{expression}` parts are filled in, `{{` and `}}` are "
        'literal braces. Default: "This action is not allowed by the community rules."',
        EXPRESSION,
        where=("deny rule",),
    ),
    _one(
        "set",
        'map from a target (`data.path`, `data["key"]`, `data.list[0]`, or `text`) to an '
        "expression evaluated on the current data",
        {"type": "object", "additionalProperties": EXPRESSION},
        where=("modify rule",),
    ),
    _one(
        "unset",
        "list of targets to remove, e.g. `[data.metadata.tracking]`",
        EVENTS,
        where=("modify rule",),
    ),
    _one(
        "mode",
        "`enforce` (default) or `shadow`",
        {"enum": list(MODES)},
        where=("rule",),
        default="enforce",
    ),
    _one("enabled", "`false` turns the rule off", {"type": "boolean"}, where=("rule",)),
    _one(
        "rollout",
        "a percentage of keys for which the rule enforces: `10%`, `0.5%`, `100%`, or a "
        "plain number 0 to 100 read as a percent (`0.2` is 0.2%, not a fifth: "
        "`receiver check` warns, `small-rollout`); for the other keys it acts as a "
        "`mode: shadow` rule. Only on `mode: enforce` rules. A key's bucket is stable "
        "across processes and restarts, and raising the percent keeps every key already "
        'enforced (README, "Gradual rollout and expiring rules")',
        PERCENT,
        where=("rule",),
    ),
    _one(
        "rollout_key",
        "with `rollout`: an expression (the language of `when`) whose value, in its "
        "text form, picks the key's bucket; default `actor.userId`. A null or missing "
        "key is outside the rollout (shadow)",
        EXPRESSION,
        where=("rule",),
        default="actor.userId",
    ),
    _one(
        "expires",
        "the instant from which the rule is off: a date-time with a zone "
        "(`2027-01-31T00:00:00Z`, quoted or not) or a date (`2027-01-31`, midnight UTC). "
        "`receiver check` warns in the 14 days before, and once it has passed",
        INSTANT,
        where=("rule",),
    ),
)

# -- counters: the README's table under "Counters" ----------------------------------------

COUNTER_FIELDS: tuple[FieldDoc, ...] = (
    _one(
        "events",
        "an **event counter**: the events that feed it (exact names or globs)",
        EVENTS,
    ),
    _one(
        "decisions",
        "a **decision counter** (strikes): the rules whose decisions count; a rule id of "
        "this policy or `policy/rule`. Exactly one of `events` and `decisions`",
        EVENTS,
    ),
    _one(
        "key",
        "required; an expression on the incoming event (`event`, `data`, `actor`, `text`, "
        "functions, lists, macros; not `user`, which is looked up later, nor other "
        "counters). Keys are text: a string is itself, any other value its compact JSON "
        '(so `"5"` and `5` are one key); a key longer than 200 characters (a whole message '
        "text) is stored as its SHA-256",
        EXPRESSION,
        required=True,
    ),
    _one("window", "required; a duration literal, 1ms to 31d", DURATION, required=True),
    _one(
        "distinct",
        "event counters only: count the different values of this expression (in how many "
        "channels) instead of events",
        EXPRESSION,
    ),
    _one(
        "when",
        "event counters only: a condition; events where it does not hold do not feed the "
        "counter (conditions still read the key's count)",
        EXPRESSION,
    ),
    _one("description", "free text", NON_EMPTY_TEXT),
)

# -- test files: docs/testing.md ----------------------------------------------------------

_NOW = (
    "the time every case happens at (`now()`, `age(...)`), e.g. `2026-11-22T12:00:00Z`. "
    "Without it the cases run at the real time, so a rule about account age may pass "
    "today and fail next month: **pin it**"
)
_USERS = (
    "the user directory that `user` reads: a YAML/JSON file (relative to this file; the "
    "same format as `--users`; beside the policies, name it `NAME.users.yaml` so that the "
    "policy loader skips it), or the records inline: `users: {sam: {role: member}}`"
)

TEST_FILE_FIELDS: tuple[FieldDoc, ...] = (
    _one(
        "cases",
        "required; the list of cases",
        {"type": "array", "items": {"$ref": "#/$defs/case"}, "minItems": 1},
        required=True,
    ),
    _one(
        "suite",
        "a name shown in reports; default: the file name without `.test.yaml`",
        TEST_TEXT,
    ),
    _one("description", "free text", {"type": ["string", "number", "boolean"]}),
    _one(
        "policies",
        "the policy folder (or file) to test, relative to this file; default: this file's folder",
        TEST_TEXT,
    ),
    _one("now", _NOW, TIME),
    _one("users", _USERS, USERS),
    _one(
        "defaults",
        "`event`, `user`, `actor` or `rollout` for every case that does not give its own "
        "(a case's `rollout` wins over the defaults' rule by rule)",
        {"$ref": "#/$defs/defaults"},
    ),
    _one(
        "counters",
        "counter values before each case's event, for policies with "
        "[counters](../README.md#counters): `{COUNTER: {KEY: VALUE}}`, the counter by name "
        "(unique across the tested policies) or `policy/name`, the key as its text "
        "(`actor.userId`'s value, the lower-cased text, ...), the value a whole number >= 0. "
        "The event then counts itself as in production: with `messages_per_minute: {sam: "
        "5}`, a message from `sam` that feeds the counter reads 6. For a `distinct` counter "
        "the value is the number of different values already seen. Every case starts from "
        "empty counters plus these seeds: nothing carries over between cases, so the cases "
        "do not depend on each other or on their order",
        SEEDS,
    ),
)

_ROLLOUT_PIN = (
    "pins which way rollout rules go in this case, whatever the bucket of the key: a map "
    "from rule id (`policy/rule`, or a rule id only one policy has) to `enforce` or "
    "`shadow`, e.g. `rollout: {links/links-from-brand-new-accounts: enforce}` (also in "
    "`defaults`). The pin goes to the same evaluation loop as everything else; only the "
    "choice of the way is taken from it. Naming a rule without `rollout:` is an error"
)

CASE_FIELDS: tuple[FieldDoc, ...] = (
    _one(
        "name",
        "required; unique in the file; shown in reports and used by `-k`",
        TEST_TEXT,
        required=True,
    ),
    _one(
        "event",
        "the event name, e.g. `message.shouldCreate` (or from `defaults`)",
        TEST_TEXT,
    ),
    _one(
        "user",
        "the actor's user id: `user: sam` sends `actor: {_id: sam, userId: sam}`; `user: ~` "
        "sends no actor. An id without a record in `users` reads `user` as null (testing a "
        "user the directory lacks), but one a typo away from a known id is an error: `user "
        "'member_sma' has no record in the users file ../examples/users.yaml; did you mean "
        "'member_sam'?`",
        {"type": ["string", "number", "boolean", "null"]},
    ),
    _one(
        "actor",
        "the whole actor object instead, e.g. `actor: {userId: sam, role: admin}` (the "
        "payload's role is *not* what `user.role` reads: that comes from `users`)",
        DATA,
    ),
    _one("data", "the event's data (default `{}`)", DATA),
    _one(
        "payload",
        "instead of `event`/`user`/`data`: a JSON file holding a whole payload "
        "(`{eventName, data, actor}`) or a brainCloud bridge envelope, relative to this "
        "file, e.g. `../examples/payloads/message-create-too-long.json`",
        TEST_TEXT,
    ),
    _one(
        "envelope",
        "instead of `event`/`user`/`data`: a brainCloud bridge envelope written inline "
        "(`hookType`, `service`, `operation`, `profileId`, `message`, `parms`, ...)",
        {"type": "object"},
    ),
    FieldDoc(("now", "users"), "override the file's for this case", {"now": TIME, "users": USERS}),
    _one("description", "free text", {"type": ["string", "number", "boolean"]}),
    _one(
        "expect",
        "required; what must happen (below)",
        {"$ref": "#/$defs/expect"},
        required=True,
    ),
    _one(
        "counters",
        "the same map, for this case; it wins over the file's per counter and key",
        SEEDS,
    ),
    _one("rollout", _ROLLOUT_PIN, ROLLOUT_PINS),
)

# `defaults:` of a test file: the case fields of the same names, not a table of their own.
DEFAULTS_FIELDS: tuple[str, ...] = ("event", "user", "actor", "rollout")

EXPECT_FIELDS: tuple[FieldDoc, ...] = (
    _one(
        "action",
        "the verdict: `allow` or `deny`",
        {"enum": ["allow", "deny"]},
        example="`action: deny`",
    ),
    _one(
        "message",
        "the exact deny message",
        {"type": ["string", "number", "boolean"]},
        example="`message: Links aren't allowed in this channel.`",
    ),
    _one(
        "message_contains",
        "the deny message contains this text (or each text of a list); case matters",
        TEXTS,
        example="`message_contains: [spam, scams]`",
    ),
    _one(
        "data",
        "the whole data after the policies' changes (for an allow). When nothing changed, "
        "that is the data as sent. Key order does not matter; `1` equals `1.0`, `true` is "
        "not `1`",
        DATA,
        example='`data: {text: "oh ****", channelId: ch_1}`',
    ),
    _one(
        "data_contains",
        "only the keys you give, at every depth; other keys may be anything. Lists and "
        "plain values must be equal",
        DATA,
        example="`data_contains: {text: lowered text}`",
    ),
    _one(
        "rule",
        "the rule that decided (ended evaluation), as `policy/rule` or a rule id that only "
        "one policy has; `none` when no rule ended it",
        {"anyOf": [NONE_WORD, {"type": ["string", "number"]}]},
        example="`rule: links/shorteners-from-new-accounts`",
    ),
    _one(
        "modified_by",
        "the rules that changed the data, in the order they did; `[]` or `none` for "
        '"nothing changed"',
        RULE_REFS,
        example="`modified_by: [shouting/shouting-lowercase, profanity/censor-profanity]`",
    ),
    _one(
        "shadow",
        "the shadow rules that matched (any order), each a rule id or `{rule, action, "
        'message, message_contains}`; `none` for "no shadow rule matched"',
        {
            "anyOf": [
                NONE_WORD,
                {"type": ["string", "number"]},
                {"$ref": "#/$defs/shadow"},
                {
                    "type": "array",
                    "items": {
                        "anyOf": [{"type": ["string", "number"]}, {"$ref": "#/$defs/shadow"}]
                    },
                },
            ]
        },
        example="`shadow: [{rule: links/links-from-brand-new-accounts, action: deny}]`",
    ),
    _one(
        "errors",
        "the rules that failed at run time. **By default no rule may fail**: a failure "
        "fails the case. List the rules you expect to fail, or say `any` to not check",
        RULE_REFS,
        example="`errors: [flag-reasons/flag-reason-unknown]`",
    ),
    _one(
        "answer",
        "the exact answer the platform receives: the social.plus response JSON, "
        "brainCloud's return value for a brainCloud hook (`null` included), Stream's "
        "answer for `stream.*` events, or `{status, body}` for Twilio's `twilio.*` events",
        {},
        example="`answer: {status: 200, messageOverride: {xp_points: 6000}}`",
    ),
    FieldDoc(
        ("status", "reason_code"),
        "the status and reason code the deciding deny rule declares (brainCloud); `none` "
        "when it declares none",
        {
            "status": {"anyOf": [NONE_WORD, WHOLE]},
            "reason_code": {"anyOf": [NONE_WORD, WHOLE]},
        },
        example="`status: 500`",
    ),
    _one(
        "rollout",
        "which way each named rollout rule went: a map from rule id (`policy/rule`, or a "
        "rule id only one policy has) to `enforced` or `shadow`. The rule must have "
        "matched (a rule that did not match went neither way). A failing case's report "
        "shows the way of every rollout rule that matched, with its bucket",
        ROLLOUT_WAYS,
        example="`rollout: {links/links-from-brand-new-accounts: shadow}`",
    ),
)

# An entry of `shadow:` written as a map (no docs table of its own).
SHADOW_ENTRY_FIELDS: tuple[FieldDoc, ...] = (
    _one(
        "rule",
        "the shadow rule, as `policy/rule` or a rule id",
        {"type": ["string", "number"]},
        required=True,
    ),
    _one(
        "action",
        "what the shadow rule would have done: `allow`, `deny` or `modify`",
        {"enum": list(ACTIONS)},
    ),
    _one("message", "its exact deny message", {"type": ["string", "number", "boolean"]}),
    _one("message_contains", "its deny message contains this text (or each text)", TEXTS),
)
