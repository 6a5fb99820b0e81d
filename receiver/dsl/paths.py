"""Reading fields out of runtime values: the path helpers of compiled closures and the runtime.

Stage 4 (evaluate), called at run time. Consumes runtime values (JSON maps and lists,
see :mod:`receiver.dsl.values`) and field names or indexes; produces the value found,
or null when the path leads nowhere (a missing key, an index out of range, a field of
something that is not a map). Compiled closures (``data.a.b``, ``x[0]``), the counter
keys and the evaluator's switches all read fields through these, so that every path
means the same everywhere.
"""

from __future__ import annotations

from receiver.dsl.values import Value


def member(obj: Value, name: str) -> Value:
    """``obj.name``: the field of a map; null for anything else."""
    return obj.get(name) if type(obj) is dict else None


def index(obj: Value, idx: Value) -> Value:
    """``obj[idx]``: a map by string key, a list or string by (negative) int index; else null."""
    if isinstance(obj, dict):
        return obj.get(idx) if isinstance(idx, str) else None
    if (
        isinstance(obj, list | str)
        and isinstance(idx, int)
        and not isinstance(idx, bool)
        and -len(obj) <= idx < len(obj)
    ):
        return obj[idx]
    return None


def lookup_path(obj: Value, keys: tuple[str | int, ...]) -> Value:
    """``obj.k1[k2]...``: each key read as :func:`member` or :func:`index` would; a null
    on the way gives null."""
    for k in keys:
        obj = obj.get(k) if type(obj) is dict and isinstance(k, str) else index(obj, k)
        if obj is None:
            return None
    return obj


def text_of(data: dict[str, Value]) -> Value:
    """``text``: ``data.text`` if it is a string, else ``data.data.text``, else null."""
    value = data.get("text")
    if isinstance(value, str):
        return value
    inner = data.get("data")
    if isinstance(inner, dict):
        value = inner.get("text")
        if isinstance(value, str):
            return value
    return None
