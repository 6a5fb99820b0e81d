"""Reading policy test files (``*.test.yaml``) into :class:`~receiver.testing.model.Suite`.

Stage: testing (policy tests), reading. Consumes a test file's text and produces a
:class:`~receiver.testing.model.Suite` of cases, or ``None``, with every problem in a
:class:`~receiver.text.diagnostics.Diagnostics` (``FILE:LINE:COL: error: MESSAGE [code]``).
Like the policy loader, this composes the YAML with ``yaml.compose`` so every value
keeps its position, and checks the shape of the format (required and unknown fields,
value types, duplicate keys). This module reads the file and its cases (event, data,
actor, payload files, users); the typed values come from :mod:`receiver.testing.fields`,
``expect:`` from :mod:`receiver.testing.expectations` and ``counters:`` from
:mod:`receiver.testing.seeds`. Names that only the policies can confirm (rule ids,
event names) are checked later, once the policies are loaded
(:func:`receiver.testing.runner.resolve`).

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
from pathlib import Path
from typing import Any

import yaml

from receiver.adapters import braincloud
from receiver.errors import PayloadError, ReceiverError
from receiver.runtime.payload import parse_event
from receiver.testing.expectations import read_expect
from receiver.testing.fields import NOTHING, FieldReader
from receiver.testing.model import Case, RolloutWay, Suite
from receiver.testing.seeds import read_seeds
from receiver.text.diagnostics import Diagnostics, did_you_mean
from receiver.text.source import SourceFile, Span
from receiver.text.yamlnodes import compose_source, read_source_text, scalar_value
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
DEFAULT_FIELDS = ("event", "user", "actor", "rollout")
PIN_WAYS = ("enforce", "shadow")  # a case's `rollout:` values
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
    "rollout",
    "expect",
)

Payload = tuple[str, Span, dict[str, Any], dict[str, Any], str | None]


def is_test_file(path: Path) -> bool:
    return path.name.endswith((".test.yaml", ".test.yml"))


class SuiteReader(FieldReader):
    """Turns the composed YAML of one test file into a :class:`Suite`."""

    def __init__(self, path: Path, source: SourceFile, diagnostics: Diagnostics) -> None:
        super().__init__(source, diagnostics)
        self.path = path
        self.folder = path.parent
        self.suite_users: tuple[StaticDirectory, str] | None = None  # and where it comes from

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
            if record is not NOTHING:
                out[user_id] = record
        if len(out) != len(records):
            return None
        return StaticDirectory(out)

    def users_label(self, node: yaml.Node) -> str:
        """How a message names the users of ``users:``: the file as written, or 'users'."""
        if isinstance(node, yaml.ScalarNode):
            return f"the users file {node.value}"
        return "'users'"

    def check_user(self, node: yaml.Node, known: tuple[StaticDirectory, str] | None) -> None:
        """``user: ID`` without a record, close to one that has one: a typo, reported.

        An id far from every known one stays allowed: a case may test a user without a
        record on purpose (``user: ghost``).
        """
        user_id = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if known is None or not isinstance(user_id, str) or known[0].get(user_id) is not None:
            return
        hint = did_you_mean(user_id, known[0].ids())
        if hint:
            self.error(
                "unknown-user",
                f"user '{user_id}' has no record in {known[1]}{hint} (to test a user "
                "without a record, pick an id unlike any real one)",
                node,
            )

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
            if suite.users is not None:
                self.suite_users = (suite.users, self.users_label(fields["users"][1]))
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
        expect = read_expect(self, fields["expect"][1]) if "expect" in fields else None
        now = self.time(fields["now"][1]) if "now" in fields else None
        users = self.users(fields["users"][1]) if "users" in fields else None
        pins = self.read_pins(fields, defaults)
        user_node = fields.get("user", defaults.get("user", (None, None)))[1]
        if user_node is not None and "actor" not in fields:
            known = self.suite_users
            if "users" in fields:
                known = None if users is None else (users, self.users_label(fields["users"][1]))
            self.check_user(user_node, known)
        description = ""
        if "description" in fields:
            description = self.string(fields["description"][1], "'description'") or ""
        if (
            name is None
            or payload is None
            or expect is None
            or pins is None
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
            rollout=pins,
        )

    def read_pins(
        self,
        fields: dict[str, tuple[yaml.Node, yaml.Node]],
        defaults: dict[str, tuple[yaml.Node, yaml.Node]],
    ) -> list[RolloutWay] | None:
        """``rollout:`` of the defaults, then the case's (which wins per rule)."""
        pins: dict[str, RolloutWay] = {}
        for where in (defaults, fields):
            if "rollout" not in where:
                continue
            read = self.rule_ways(where["rollout"][1], "'rollout'", PIN_WAYS)
            if read is None:
                return None
            pins.update((pin.rule.written, pin) for pin in read)
        return list(pins.values())

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


def read_text(path: Path, text: str, diagnostics: Diagnostics) -> Suite | None:
    """Read one test file's text; problems go to ``diagnostics``."""
    source = SourceFile(str(path), text)
    root = compose_source(source, diagnostics, "test file")
    return None if root is None else SuiteReader(path, source, diagnostics).read(root)


def read_file(path: Path, diagnostics: Diagnostics) -> Suite | None:
    text = read_source_text(path, diagnostics)
    return None if text is None else read_text(path, text, diagnostics)
