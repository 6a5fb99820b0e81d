"""The policy files a console request sends: ``{"files": [{"name", "text"}, ...]}``.

Stage: the edge (the console). Consumes the parsed JSON of a request; produces the
``(name, text)`` sources that :func:`~receiver.runtime.policyset.check_sources` takes,
or an :class:`~receiver.console.bodies.ApiError` (400) naming what is wrong. A name is
a plain policy file name (``links.yaml``): no directories, no test or users files, so
that saving can never write outside the policy folder.
"""

from __future__ import annotations

import re
from typing import Any

from receiver.console.bodies import ApiError
from receiver.load.kinds import is_policy_file_name
from receiver.runtime.policyset import Source

MAX_FILES = 500
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}\.ya?ml")


def valid_name(name: str) -> bool:
    """A plain policy file name: letters, digits, ``.``, ``_``, ``-``; ``.yaml``/``.yml``."""
    return _NAME.fullmatch(name) is not None and is_policy_file_name(name)


def read_sources(body: Any) -> list[Source]:
    """The files of a request body, checked for shape and names."""
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object: {"files": [{"name", "text"}]}')
    files = body.get("files")
    if not isinstance(files, list):
        raise ApiError(400, '\'files\' must be a list of {"name": ..., "text": ...} objects')
    if len(files) > MAX_FILES:
        raise ApiError(400, f"'files' holds more than {MAX_FILES} files")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, item in enumerate(files):
        where = f"files[{index}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object with 'name' and 'text'")
        name, text = item.get("name"), item.get("text")
        if not isinstance(name, str) or not isinstance(text, str):
            raise ApiError(400, f"{where} needs a string 'name' and a string 'text'")
        if not valid_name(name):
            raise ApiError(
                400,
                f"{where}: {name[:80]!r} is not a policy file name: use a plain name such "
                "as links.yaml (letters, digits, '.', '_', '-'; not *.test.yaml or *.users.yaml)",
            )
        if name in seen:
            raise ApiError(400, f"{where}: two files are named {name!r}")
        seen.add(name)
        sources.append((name, text))
    return sources
