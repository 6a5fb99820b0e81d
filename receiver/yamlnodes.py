"""Reading composed YAML nodes: scalar values and mapping shapes, with positions.

Shared by the policy loader and the policy-test reader: both compose YAML with
``yaml.compose`` (so every node keeps its marks) and check the shape of what they
read, reporting problems as diagnostics that point at the node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from receiver.diagnostics import Diagnostics, did_you_mean
from receiver.source import SourceFile, Span

_constructor = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The value of a scalar node as YAML types it; the text as written when that fails."""
    if node.tag == _STR_TAG:  # most scalars: the constructor would return the text as is
        return node.value
    try:
        return _constructor.construct_object(node, deep=True)
    except Exception:  # `2020-13-45`, `!!int x`, `!!bool maybe`, `!tag x`: keep the text
        return node.value
    finally:  # the constructor remembers every node it built: forget them (reloads)
        _constructor.constructed_objects.clear()
        _constructor.recursive_objects.clear()


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree, through libyaml when that gives the same answer (14x faster).

    libyaml counts marks in bytes and is laxer about tabs, so it is used only for ASCII
    text without tabs; anything it rejects is read again by the pure-Python loader,
    whose error messages (and positions) are the ones we report.
    """
    if _FAST_LOADER is not None and text.isascii() and "\t" not in text:
        try:
            root = yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
        else:
            _plain_style_as_none(root)
            return root
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _plain_style_as_none(root: yaml.Node | None) -> None:
    """libyaml marks plain scalars with style '' where PyYAML says None; use PyYAML's."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.style == "":
                node.style = None
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))


def compose_source(source: SourceFile, diagnostics: Diagnostics, what: str) -> yaml.Node | None:
    """The root node of a file's YAML; None (with a diagnostic) when broken or empty."""
    try:
        root = compose(source.text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        offset = mark.index if mark is not None else 0
        problem = err.problem or err.context or "invalid YAML"
        hint = ""
        if "tab" in problem.lower() or "'\\t'" in problem:  # PyYAML shows the tab as '\t'
            hint = "; indent with spaces, not tabs"
        diagnostics.error("yaml", f"YAML syntax error: {problem}{hint}", source.span(offset))
        return None
    except yaml.YAMLError as err:  # a ReaderError (control character) knows its position
        first_line = str(err).splitlines()[0] if str(err) else "invalid YAML"
        position = getattr(err, "position", 0)
        diagnostics.error("yaml", f"YAML error: {first_line}", source.span(position))
        return None
    if root is None:
        diagnostics.error("empty-file", f"the {what} is empty", source.span(0))
    return root


def read_source_text(path: Path, diagnostics: Diagnostics) -> str | None:
    """A file's UTF-8 text; None (with a diagnostic) when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        diagnostics.error("encoding", f"the file is not UTF-8 text ({err.reason})", None, str(path))
    except OSError as err:
        diagnostics.error("io", f"cannot read the file: {err.strerror}", None, str(path))
    return None


class NodeReader:
    """Positions, errors and mapping-shape checks for the nodes of one file."""

    def __init__(self, source: SourceFile, diagnostics: Diagnostics) -> None:
        self.source = source
        self.diags = diagnostics

    def span(self, node: yaml.Node) -> Span:
        return self.source.span(node.start_mark.index, node.end_mark.index)

    def error(self, code: str, message: str, node: yaml.Node) -> None:
        self.diags.error(code, message, self.span(node))

    def mapping(
        self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node, keyed by string; shape errors reported."""
        if not isinstance(node, yaml.MappingNode):
            self.error("type", f"{what} must be a mapping (key: value lines)", node)
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                hint = ""
                if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                    hint = f" ('{key_node.value}' reads as {str(key).lower()}; quote it)"
                self.error("type", f"keys in {what} must be plain names{hint}", key_node)
                continue
            if key in out:
                self.error("duplicate-key", f"'{key}' appears twice in {what}", key_node)
                continue
            if allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed) or "; allowed fields are " + ", ".join(allowed)
                self.error("unknown-field", f"unknown field '{key}' in {what}{hint}", key_node)
                continue
            out[key] = (key_node, value_node)
        return out
