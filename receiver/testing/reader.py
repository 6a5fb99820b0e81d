"""Reading policy test files (``*.test.yaml``) into :class:`~receiver.testing.model.Suite`.

Like the policy loader, this composes the YAML with ``yaml.compose`` so every value
keeps its position, checks the shape of the format (required and unknown fields,
value types, duplicate keys), and reports every problem as a
:class:`~receiver.text.diagnostics.Diagnostic` (``FILE:LINE:COL: error: MESSAGE [code]``).
Names that only the policies can confirm (rule ids, event names) are checked later,
once the policies are loaded (:func:`receiver.testing.runner.resolve`).

The format::

    suite: links                      # optional name (default: the file name)
    policies: .                       # optional; relative to this file (default: its folder)
    now: 2026-11-22T12:00:00Z         # optional; pins now() (default: the real time)
    users: ../examples/users.yaml     # optional; a users file, or an inline map
    defaults: {event: message.shouldCreate, user: member_sam}
    cases:
      - name: shortened link from a new account
        user: new_nina                # or actor: {...}
        data: {text: "bit.ly/x"}      # or payload: FILE (a whole pre-hook payload)
        expect: deny                  # or a map: action, message, rule, data, ...
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from receiver.adapters import braincloud
from receiver.dsl.textfuncs import parse_time
from receiver.dsl.values import Timestamp
from receiver.errors import PayloadError, ReceiverError
from receiver.runtime.payload import parse_event
from receiver.testing.model import (
    ANY_ERRORS,
    Case,
    Expectation,
    RuleRef,
    ShadowExpect,
    Suite,
)
from receiver.testing.seeds import read_seeds
from receiver.text.diagnostics import Diagnostics, did_you_mean
from receiver.text.source import SourceFile, Span
from receiver.text.yamlnodes import NodeReader, compose_source, read_source_text, scalar_value
from receiver.users.static import StaticDirectory

SUITE_FIELDS = (
    "suite",
    "description",
    "policies",
    "now",
    "users",
    "defaults",
    "counters",
    "cases",
)
DEFAULT_FIELDS = ("event", "user", "actor")
CASE_FIELDS = (
    "name",
    "description",
    "event",
    "user",
    "actor",
    "data",
    "payload",
    "envelope",
    "now",
    "users",
    "counters",
    "expect",
)
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
)
SHADOW_FIELDS = ("rule", "action", "message", "message_contains")
VERDICTS = ("allow", "deny")
NONE_WORDS = ("none", "nothing")

# libyaml composes the same nodes with the same (character) positions, ten times faster
_NOTHING: Any = object()

Payload = tuple[str, Span, dict[str, Any], dict[str, Any], str | None]


def is_test_file(path: Path) -> bool:
    return path.name.endswith((".test.yaml", ".test.yml"))


def _plain_scalar(value: Any) -> Any:
    """YAML-only scalars as the JSON a platform would send: times become ISO-8601 text."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class SuiteReader(NodeReader):
    """Turns the composed YAML of one test file into a :class:`Suite`."""

    def __init__(self, path: Path, source: SourceFile, diagnostics: Diagnostics) -> None:
        super().__init__(source, diagnostics)
        self.path = path
        self.folder = path.parent

    # -- helpers ------------------------------------------------------------------------

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
        """A YAML value as plain JSON data (maps keyed by strings); ``_NOTHING`` on errors."""
        if id(node) in active:
            self.error("yaml", f"{what} refers to itself (a recursive YAML alias)", node)
            return _NOTHING
        inner = active | {id(node)}
        if isinstance(node, yaml.MappingNode):
            entries = self.mapping(node, what, None)
            if entries is None:
                return _NOTHING
            out: dict[str, Any] = {}
            ok = len(entries) == len(node.value)
            for key, (_, value_node) in entries.items():
                item = self.value(value_node, what, inner)
                ok = ok and item is not _NOTHING
                out[key] = item
            return out if ok else _NOTHING
        if isinstance(node, yaml.SequenceNode):
            items = [self.value(item, what, inner) for item in node.value]
            return _NOTHING if any(i is _NOTHING for i in items) else items
        assert isinstance(node, yaml.ScalarNode)
        return _plain_scalar(scalar_value(node))

    def data_map(self, node: yaml.Node, what: str) -> dict[str, Any] | None:
        if isinstance(node, yaml.ScalarNode) and scalar_value(node) is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error("type", f"{what} must be a mapping (key: value lines)", node)
            return None
        value = self.value(node, what)
        return None if value is _NOTHING else value

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

    def users(self, node: yaml.Node) -> StaticDirectory | None:
        """``users: FILE`` (relative to the test file) or an inline map of user records."""
        if isinstance(node, yaml.ScalarNode):
            name = self.string(node, "'users'")
            if name is None:
                return None
            try:
                return StaticDirectory.from_file(self.folder / name)
            except ReceiverError as err:
                self.error("users", f"'users': {err}", node)
                return None
        records = self.mapping(node, "'users'", None)
        if records is None:
            return None
        out: dict[str, dict[str, Any]] = {}
        for user_id, (_, record_node) in records.items():
            if not isinstance(record_node, yaml.MappingNode):
                self.error("type", f"the record of user '{user_id}' must be a map", record_node)
                continue
            record = self.value(record_node, f"the record of user '{user_id}'")
            if record is not _NOTHING:
                out[user_id] = record
        if len(out) != len(records):
            return None
        return StaticDirectory(out)

    def actor(self, fields: dict[str, tuple[yaml.Node, yaml.Node]]) -> dict[str, Any] | None:
        """``user: ID`` (actor.userId and actor._id) or ``actor: {...}``; None if neither."""
        if "user" in fields and "actor" in fields:
            self.error(
                "misplaced-field",
                "give either 'user' (the actor's userId) or 'actor', not both",
                fields["actor"][0],
            )
            return None
        if "user" in fields:
            node = fields["user"][1]
            if isinstance(node, yaml.ScalarNode) and scalar_value(node) is None:
                return {}  # `user: ~`: no actor at all
            user_id = self.string(node, "'user'")
            return {"_id": user_id, "userId": user_id} if user_id is not None else None
        if "actor" in fields:
            return self.data_map(fields["actor"][1], "'actor'")
        return None

    # -- the file -----------------------------------------------------------------------

    def read(self, root: yaml.Node) -> Suite | None:
        fields = self.mapping(root, "a test file", SUITE_FIELDS)
        if fields is None:
            return None
        file_span = self.source.span(root.start_mark.index)
        name = self.path.name.removesuffix(".yaml").removesuffix(".yml")
        name = name.removesuffix(".test")
        if "suite" in fields:
            name = self.string(fields["suite"][1], "'suite'") or name
        suite = Suite(self.path, name, self.folder, None, file_span)
        if "description" in fields:
            suite.description = self.string(fields["description"][1], "'description'") or ""
        if "policies" in fields:
            node = fields["policies"][1]
            where = self.string(node, "'policies'")
            if where is not None:
                suite.policies = self.folder / where
                suite.policies_span = self.span(node)
                if not suite.policies.exists():
                    self.error("io", f"'policies': {suite.policies}: no such file or folder", node)
        if "now" in fields:
            suite.now = self.time(fields["now"][1])
        if "users" in fields:
            suite.users = self.users(fields["users"][1])
        if "counters" in fields:
            suite.counters = read_seeds(self, fields["counters"][1])
        defaults: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if "defaults" in fields:
            defaults = self.mapping(fields["defaults"][1], "'defaults'", DEFAULT_FIELDS) or {}
        if "cases" not in fields:
            self.diags.error(
                "missing-field", "a test file needs a 'cases:' list of test cases", file_span
            )
            return suite
        node = fields["cases"][1]
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.error("type", "'cases' must be a list of cases (lines starting with '- ')", node)
            return suite
        seen: dict[str, Span] = {}
        for item in node.value:
            case = self.read_case(item, defaults)
            if case is None:
                continue
            if case.name in seen:
                self.diags.error(
                    "duplicate-name",
                    f"two cases are named '{case.name}' (the other is at line "
                    f"{seen[case.name].line}); names must be unique in a file",
                    case.span,
                )
                continue
            seen[case.name] = case.span
            suite.cases.append(case)
        return suite

    def read_case(
        self, node: yaml.Node, defaults: dict[str, tuple[yaml.Node, yaml.Node]]
    ) -> Case | None:
        fields = self.mapping(node, "a case", CASE_FIELDS)
        if fields is None:
            return None
        first_line = self.source.span(node.start_mark.index)
        missing = [f for f in ("name", "expect") if f not in fields]
        if missing:
            what = " and ".join(f"'{m}'" for m in missing)
            self.diags.error("missing-field", f"this case has no {what}", first_line)
        name = self.string(fields["name"][1], "'name'") if "name" in fields else None
        errors_before = len(self.diags.errors)
        seeds = read_seeds(self, fields["counters"][1]) if "counters" in fields else []
        payload = self.read_payload(fields, defaults, first_line)
        expect = self.read_expect(fields["expect"][1]) if "expect" in fields else None
        now = self.time(fields["now"][1]) if "now" in fields else None
        users = self.users(fields["users"][1]) if "users" in fields else None
        description = ""
        if "description" in fields:
            description = self.string(fields["description"][1], "'description'") or ""
        if (
            name is None
            or payload is None
            or expect is None
            or len(self.diags.errors) > errors_before
        ):
            return None
        event, event_span, data, actor, hook_type = payload
        return Case(
            name=name.strip(),
            span=self.span(fields["name"][1]),
            event=event,
            event_span=event_span,
            data=data,
            actor=actor,
            expect=expect,
            now=now,
            users=users,
            description=description,
            hook_type=hook_type,
            counters=seeds,
        )

    def read_payload(
        self,
        fields: dict[str, tuple[yaml.Node, yaml.Node]],
        defaults: dict[str, tuple[yaml.Node, yaml.Node]],
        where: Span,
    ) -> Payload | None:
        """The event name, data, actor and hook type, from the case, a file or the defaults."""
        for whole in ("payload", "envelope"):
            if whole not in fields:
                continue
            node = fields[whole][1]
            clash = [k for k in ("event", "data", "user", "actor", "payload") if k in fields]
            clash = [k for k in clash if k != whole]
            if clash:
                self.error(
                    "misplaced-field",
                    f"'{clash[0]}' can't be combined with '{whole}' (the {whole} already "
                    "says which event, data and actor)",
                    fields[clash[0]][0],
                )
                return None
            if whole == "payload":
                return self.payload_file(node)
            envelope = self.data_map(node, "'envelope'")
            return None if envelope is None else self.from_document(envelope, node, "'envelope'")
        if "event" in fields:
            event_node = fields["event"][1]
        elif "event" in defaults:
            event_node = defaults["event"][1]
        else:
            self.diags.error(
                "missing-field",
                "this case has no 'event' (or set one for every case under 'defaults:')",
                self.source.span(fields["name"][1].start_mark.index) if "name" in fields else where,
            )
            return None
        event = self.string(event_node, "'event'")
        data = self.data_map(fields["data"][1], "'data'") if "data" in fields else {}
        if "user" in fields or "actor" in fields:
            actor = self.actor(fields)
        elif "user" in defaults or "actor" in defaults:
            actor = self.actor(defaults)
        else:
            actor = {}
        if event is None or data is None or actor is None:
            return None
        try:
            checked = parse_event({"eventName": event, "data": data, "actor": actor})
        except PayloadError as err:
            self.error("bad-value", str(err), event_node)
            return None
        hook_type = None
        if checked.name.startswith("braincloud."):
            named = checked.name.split(".")[1]
            hook_type = named if named in braincloud.HOOK_TYPES else None
        return checked.name, self.span(event_node), checked.data, checked.actor, hook_type

    def from_document(self, document: Any, node: yaml.Node, what: str) -> Payload | None:
        """A social.plus payload or a brainCloud bridge envelope, read as production reads it."""
        try:
            if braincloud.is_envelope(document):
                call = braincloud.parse_envelope(document)
                event, hook_type = call.event, call.hook_type
            else:
                event, hook_type = parse_event(document), None
        except PayloadError as err:
            self.error("bad-value", f"{what}: {err}", node)
            return None
        return event.name, self.span(node), event.data, event.actor, hook_type

    def payload_file(self, node: yaml.Node) -> Payload | None:
        name = self.string(node, "'payload'")
        if name is None:
            return None
        path = self.folder / name
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            self.error("io", f"'payload': {path}: cannot read the file: {err.strerror}", node)
            return None
        except UnicodeDecodeError:
            self.error("encoding", f"'payload': {path}: the file is not UTF-8 text", node)
            return None
        except json.JSONDecodeError as err:
            self.error(
                "bad-value",
                f"'payload': {path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}",
                node,
            )
            return None
        return self.from_document(payload, node, f"'payload': {path}")

    # -- expectations -------------------------------------------------------------------

    def read_expect(self, node: yaml.Node) -> Expectation | None:
        span = self.span(node)
        if isinstance(node, yaml.ScalarNode):
            value = scalar_value(node)
            if isinstance(value, str) and value.strip() in VERDICTS:
                return Expectation(span, action=value.strip())
            hint = did_you_mean(value, VERDICTS) if isinstance(value, str) else ""
            self.error(
                "bad-value",
                f"'expect' must be allow, deny or a map of expectations{hint}",
                node,
            )
            return None
        fields = self.mapping(node, "'expect'", EXPECT_FIELDS)
        if fields is None:
            return None
        if not fields:
            self.error("missing-field", "'expect' is empty; say at least 'action'", node)
            return None
        errors_before = len(self.diags.errors)
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
                self.error("bad-value", f"'action' must be allow or deny{extra}", action_node)
        if "message" in fields:
            expect.message = self.string(fields["message"][1], "'message'", allow_empty=True)
        if "message_contains" in fields:
            expect.message_contains = (
                self.strings(fields["message_contains"][1], "'message_contains'") or ()
            )
        if "data" in fields:
            expect.data = self.data_map(fields["data"][1], "'data'")
        if "data_contains" in fields:
            expect.data_contains = self.data_map(fields["data_contains"][1], "'data_contains'")
        if "rule" in fields:
            expect.rule_given = True
            rule_node = fields["rule"][1]
            if not self.is_none_word(rule_node):
                expect.rule = self.rule_ref(rule_node, "'rule'")
        if "modified_by" in fields:
            expect.modified_by = self.rule_refs(fields["modified_by"][1], "'modified_by'")
        if "shadow" in fields:
            expect.shadow = self.read_shadow(fields["shadow"][1])
        if "answer" in fields:
            expect.answer_given = True
            answer = self.value(fields["answer"][1], "'answer'")
            expect.answer = None if answer is _NOTHING else answer
        for key in ("status", "reason_code"):
            if key in fields:
                number = self.whole_number(fields[key][1], f"'{key}'")
                setattr(expect, key, number)
                setattr(expect, f"{key}_given", True)
        if "errors" in fields:
            errors_node = fields["errors"][1]
            value = scalar_value(errors_node) if isinstance(errors_node, yaml.ScalarNode) else None
            if value == ANY_ERRORS:
                expect.errors = ANY_ERRORS
            else:
                expect.errors = self.rule_refs(errors_node, "'errors'")
        self.check_consistency(expect, fields)
        return expect if len(self.diags.errors) == errors_before else None

    def check_consistency(
        self, expect: Expectation, fields: dict[str, tuple[yaml.Node, yaml.Node]]
    ) -> None:
        deny_only = [k for k in ("message", "message_contains") if k in fields]
        allow_only = [k for k in ("data", "data_contains") if k in fields]
        if expect.action == "allow" and deny_only:
            self.error(
                "misplaced-field",
                f"'{deny_only[0]}' only applies when the answer is deny (this case expects allow)",
                fields[deny_only[0]][0],
            )
        if expect.action == "deny" and allow_only:
            self.error(
                "misplaced-field",
                f"'{allow_only[0]}' only applies when the answer is allow (a deny carries no data)",
                fields[allow_only[0]][0],
            )
        if deny_only and allow_only:
            self.error(
                "misplaced-field",
                f"'{deny_only[0]}' (a deny) and '{allow_only[0]}' (an allow) can't both hold",
                fields[allow_only[0]][0],
            )

    def read_shadow(self, node: yaml.Node) -> list[ShadowExpect] | None:
        if self.is_none_word(node):
            return []
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[ShadowExpect] = []
        ok = True
        for item in items:
            if isinstance(item, yaml.ScalarNode):
                ref = self.rule_ref(item, "each entry of 'shadow'")
                if ref is None:
                    ok = False
                else:
                    out.append(ShadowExpect(ref))
                continue
            fields = self.mapping(item, "an entry of 'shadow'", SHADOW_FIELDS)
            if fields is None:
                ok = False
                continue
            if "rule" not in fields:
                self.error("missing-field", "this 'shadow' entry has no 'rule'", item)
                ok = False
                continue
            ref = self.rule_ref(fields["rule"][1], "'rule'")
            action = None
            if "action" in fields:
                action_node = fields["action"][1]
                value = (
                    scalar_value(action_node) if isinstance(action_node, yaml.ScalarNode) else None
                )
                if value in ("allow", "deny", "modify"):
                    action = str(value)
                else:
                    self.error(
                        "bad-value", "a shadow 'action' must be allow, deny or modify", action_node
                    )
                    ok = False
            message = (
                self.string(fields["message"][1], "'message'", allow_empty=True)
                if "message" in fields
                else None
            )
            contains: tuple[str, ...] = ()
            if "message_contains" in fields:
                contains = self.strings(fields["message_contains"][1], "'message_contains'") or ()
            if ref is None:
                ok = False
                continue
            out.append(ShadowExpect(ref, action, message, contains))
        return out if ok else None


def read_text(path: Path, text: str, diagnostics: Diagnostics) -> Suite | None:
    """Read one test file's text; problems go to ``diagnostics``."""
    source = SourceFile(str(path), text)
    root = compose_source(source, diagnostics, "test file")
    return None if root is None else SuiteReader(path, source, diagnostics).read(root)


def read_file(path: Path, diagnostics: Diagnostics) -> Suite | None:
    text = read_source_text(path, diagnostics)
    return None if text is None else read_text(path, text, diagnostics)
