"""User directories: where ``user`` (the record of ``actor.userId``) comes from.

The edge (user records): a user source that stage 4 (run) asks, for ``receiver eval``, the
policy tests and the service's ``--users``. Consumes a YAML or JSON users file; produces a
:class:`StaticDirectory` whose :meth:`~StaticDirectory.get` gives a record or None, or a
:class:`UserFileError`.

This module holds the static directory: a YAML or JSON file mapping user ids to
records (``--users FILE``). Lookups are synchronous dictionary reads; the
evaluator asks only when it reaches a rule that reads ``user``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from receiver.errors import ReceiverError
from receiver.text.yamlerrors import located_message
from receiver.text.yamlnodes import safe_load


class UserFileError(ReceiverError):
    """The users file cannot be read or is not a map of user id to record."""


def _plain(value: Any) -> Any:
    """YAML timestamps (an unquoted ``createdAt: 2026-01-31T10:00:00Z``) as ISO-8601 strings.

    PyYAML turns them into ``datetime``/``date`` objects, which are not values of the
    policy language: ``age(user.createdAt)`` would fail and the rule be skipped.
    Naive times are UTC, as in ``age()``.
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class StaticDirectory:
    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        self._records = {str(k): dict(v) for k, v in records.items()}

    def __len__(self) -> int:
        return len(self._records)

    def get(self, user_id: str) -> Mapping[str, Any] | None:
        return self._records.get(user_id)

    def ids(self) -> list[str]:
        """The user ids with a record, for a "did you mean" on an id without one."""
        return list(self._records)

    @classmethod
    def from_file(cls, path: Path) -> StaticDirectory:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise UserFileError(f"{path}: cannot read the users file: {err.strerror}") from None
        return cls.from_text(text, str(path), json_text=path.suffix == ".json")

    @classmethod
    def from_text(cls, text: str, name: str, *, json_text: bool = False) -> StaticDirectory:
        """The directory of a users file's text (``name`` says where, in messages);
        ``json_text``: the text is JSON, else YAML (which JSON is too)."""
        try:
            records = json.loads(text) if json_text else safe_load(text)
        except json.JSONDecodeError as err:
            raise UserFileError(
                f"{name}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"
            ) from None
        except yaml.YAMLError as err:
            raise UserFileError(located_message(err, text, name)) from None
        return cls.from_records(records, name)

    @classmethod
    def from_records(cls, records: Any, name: str) -> StaticDirectory:
        """The directory of already parsed records (a map of user id to record)."""
        if records is None:
            records = {}
        records = _plain(records)
        if not isinstance(records, dict):
            raise UserFileError(f"{name}: the users file must map user ids to records")
        for user_id, record in records.items():
            if not isinstance(record, dict):
                raise UserFileError(
                    f"{name}: the record of user '{user_id}' must be a map of fields"
                )
        return cls(records)
