"""Applying a ``modify`` rule's ``set`` and ``unset`` to the event data.

Stage 4 (run), called by the evaluator for a matching ``modify`` rule. Consumes the event
data and the rule's targets (:class:`~receiver.check.model.Target`, with the values computed
for ``set``); produces the new data (:func:`apply`).

Changes never mutate the incoming payload: each write copies the containers on
its path (path copying), so the original stays intact for tests and logs and a
modification costs O(depth), not O(size of data). ``text`` is written back to
wherever the text came from: ``data.text`` and/or ``data.data.text`` (both when
both are present, ``data.text`` when neither is).
"""

from __future__ import annotations

from typing import Any

from receiver.check.model import Target
from receiver.dsl.values import Value, to_json
from receiver.errors import EvaluationError

Data = dict[str, Value]


def _copy(container: Any) -> Any:
    if isinstance(container, dict):
        return dict(container)
    if isinstance(container, list):
        return list(container)
    return container


def _write(data: Data, path: tuple[str | int, ...], value: Value, delete: bool) -> Data:
    if not path:
        if not isinstance(value, dict):
            raise EvaluationError(f"'data' must stay a map, not a {type(value).__name__}")
        return value
    root: Data = dict(data)
    current: Any = root
    for position, step in enumerate(path[:-1]):
        following = path[position + 1]
        child = _get(current, step)
        if child is None or not isinstance(child, dict | list):
            if delete:
                return root
            if isinstance(following, int):
                raise EvaluationError(f"cannot create list element [{following}]")
            child = {}
        else:
            child = _copy(child)
        _put(current, step, child)
        current = child
    last = path[-1]
    if delete:
        if isinstance(current, dict) and isinstance(last, str):
            current.pop(last, None)
        elif (
            isinstance(current, list)
            and isinstance(last, int)
            and -len(current) <= last < len(current)
        ):
            del current[last]
        return root
    _put(current, last, value)
    return root


def _get(container: Any, step: str | int) -> Any:
    if isinstance(container, dict) and isinstance(step, str):
        return container.get(step)
    if (
        isinstance(container, list)
        and isinstance(step, int)
        and -len(container) <= step < len(container)
    ):
        return container[step]
    return None


def _put(container: Any, step: str | int, value: Any) -> None:
    if isinstance(container, dict) and isinstance(step, str):
        container[step] = value
    elif isinstance(container, list) and isinstance(step, int):
        if not -len(container) <= step < len(container):
            raise EvaluationError(f"list index [{step}] is out of range (length {len(container)})")
        container[step] = value
    else:
        raise EvaluationError(f"cannot set [{step!r}] inside a {type(container).__name__}")


def text_paths(data: Data) -> list[tuple[str | int, ...]]:
    """Where ``text`` lives in this data: ``data.text`` and/or ``data.data.text``."""
    paths: list[tuple[str | int, ...]] = []
    if isinstance(data.get("text"), str):
        paths.append(("text",))
    inner = data.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("text"), str):
        paths.append(("data", "text"))
    return paths or [("text",)]


def apply(
    data: Data,
    sets: list[tuple[Target, Value]],
    unsets: tuple[Target, ...],
) -> Data:
    """The data after a modify rule: every ``set`` value (already computed), then ``unset``."""
    for target, value in sets:
        json_value = to_json(value)
        paths = text_paths(data) if target.kind == "text" else [target.path]
        for path in paths:
            data = _write(data, path, json_value, delete=False)
    for target in unsets:
        paths = text_paths(data) if target.kind == "text" else [target.path]
        for path in paths:
            data = _write(data, path, None, delete=True)
    return data
