"""YAML syntax errors in plain words: what a policy writer sees instead of PyYAML's jargon.

Text stage. Consumes a ``yaml.MarkedYAMLError`` and the text it came from; produces the
offset to point at and a message that says what is wrong and what to do, with PyYAML's
own words kept at the end (``(YAML: mapping values are not allowed here)``) for anyone
who searches for them. Problems without an explanation here keep PyYAML's message.
The policy and test loaders report it as a diagnostic; the readers that raise one line
(users files, ``--config``, counter seeds) use :func:`located_message`.

As in Lark's ``GRAMMAR_ERRORS``, the explanations are data: :data:`EXAMPLES` holds a
labelled malformed example of each, and the tests loop over it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

INDENT = (
    "this line does not line up with the lines above it: start a key in the same column "
    "as the other keys of its mapping (in a list entry, the column of the first key after "
    "'- '), and each '- ' of a list in the same column as the others"
)
QUOTED = (
    "text follows a value that is already complete (a quoted text or a [...] list): put "
    "the quotes around the whole value, or start the next key on a new line"
)
TAB = "this line has a tab where YAML expects spaces: YAML indents with spaces only, so "
TAB += "replace the tab with spaces"
DEEPER = (
    "this line is indented deeper than the key above it, so YAML reads it as part of that "
    "key's value: start it in the same column as the key above it (or, if it belongs "
    "inside, end the line above with ':' and no value)"
)
COLON_IN_VALUE = (
    "this value contains ': ', which YAML reads as the start of another key: put the "
    'whole value in quotes, e.g. message: "Note: no links"'
)
NO_COLON = (
    "this line has no ':' after its key: write 'key: value'; if the line continues the "
    "value above it, indent it deeper than that value's key"
)

# label -> (a malformed policy text, the explanation it gets, its 1-based line and column)
EXAMPLES: dict[str, tuple[str, str, int, int]] = {
    "key less indented than its siblings": (
        "policy: p\nrules:\n  - id: r\n   events: x\n",
        INDENT,
        4,
        4,
    ),
    "key in the column of the list's '- '": (
        "policy: p\nrules:\n  - id: r\n    events: x\n  action: deny\n",
        INDENT,
        5,
        3,
    ),
    "list entry out of line": (
        "policy: p\nrules:\n  - id: a\n    action: deny\n - id: b\n",
        INDENT,
        5,
        2,
    ),
    "text after a quoted value": ('policy: p\ndescription: "a" b\n', QUOTED, 2, 18),
    "tab used to indent": ("policy: p\nrules:\n\t- id: r\n", TAB, 3, 1),
    "key indented deeper than the one above": ("policy: p\n  rules: []\n", DEEPER, 2, 3),
    "': ' inside a value": ("policy: p\ndescription: Note: this\n", COLON_IN_VALUE, 2, 18),
    "key without ':'": ("policy: p\nrules\n  - id: r\n", NO_COLON, 2, 1),
    "continuation not indented": (
        "policy: p\nrules:\n  - id: r\n    when: data.x\n    and data.y\n    action: deny\n",
        NO_COLON,
        5,
        5,
    ),
}


class AliasError(yaml.MarkedYAMLError):
    """A YAML alias past the expansion limit, or one inside the collection it names
    (raised by :mod:`receiver.text.yamlnodes`; its problem is already plain words)."""

    def __init__(self, problem: str, mark: Any) -> None:
        # libyaml's marks are another class, with the same index, line and column.
        plain = yaml.Mark("<yaml>", mark.index, mark.line, mark.column, None, 0)
        super().__init__(problem=problem, problem_mark=plain)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def explain(err: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """The offset to point at and the message for a YAML syntax error in ``text``."""
    mark = err.problem_mark or err.context_mark
    offset = mark.index if mark is not None else 0
    problem = err.problem or err.context or "invalid YAML"
    plain = ""
    if problem.startswith("found character '\\t'"):  # PyYAML shows the tab as '\t'
        plain = TAB
    elif problem == "mapping values are not allowed here":
        start = _line_start(text, offset)
        before = text[start:offset]
        if re.search(r":(\s|$)", before):
            plain = COLON_IN_VALUE
        else:  # point at the key, where the indentation is
            plain, offset = DEEPER, start + len(before) - len(before.lstrip(" -"))
    elif problem == "could not find expected ':'":
        plain = NO_COLON
        if err.context_mark is not None:  # the key that has no ':', not the line after it
            offset = err.context_mark.index
    elif problem.startswith("expected <block end>, but found"):
        plain = QUOTED if problem.endswith("'<scalar>'") else INDENT
    if not plain:
        return offset, f"YAML syntax error: {problem}"
    return offset, f"YAML syntax error: {plain} (YAML: {problem})"


def located_message(err: yaml.YAMLError, text: str, name: str) -> str:
    """``name:LINE:COLUMN: `` and :func:`explain`'s message, for readers that raise one
    line (users files, ``--config``, counter seeds) rather than collect diagnostics."""
    if not isinstance(err, yaml.MarkedYAMLError):  # a control character, too many aliases
        first = str(err).splitlines()[0] if str(err) else "invalid YAML"
        return f"{name}: YAML error: {first}"
    if isinstance(err, AliasError):
        offset, message = err.problem_mark.index if err.problem_mark else 0, str(err.problem)
    else:
        offset, message = explain(err, text)
    line = text.count("\n", 0, offset) + 1
    column = offset - _line_start(text, offset) + 1
    return f"{name}:{line}:{column}: {message}"
