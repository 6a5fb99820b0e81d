"""Reading composed YAML nodes: scalar values and mapping shapes, with positions.

Shared by the policy loader and the policy-test reader: both compose YAML with
``yaml.compose`` (so every node keeps its marks) and check the shape of what they
read, reporting problems as diagnostics that point at the node. The users file, the
``--config`` file and counter seed files are read through :func:`safe_load`, the same
composition turned into plain Python values.

Limits (text stage, before anything walks a tree): YAML aliases share one node among
many places, so a few hundred bytes of nested aliases (``&a [*b, *b, ...]``) stand for
billions of nodes to whoever walks the tree as if it were one (a reader, a JSON
encoder, a user record copy). Composing stays linear, and the walk here visits every
node once; when a document has aliases, the nodes they add are counted from the
parser's events and a document whose aliases add more than
:data:`MAX_ALIAS_EXPANSION` nodes, or whose alias refers to the collection it sits in,
is refused at that alias (:class:`AliasError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from receiver.text.diagnostics import Diagnostics, did_you_mean
from receiver.text.source import SourceFile, Span
from receiver.text.yamlerrors import AliasError, explain

_constructor = yaml.constructor.SafeConstructor()
MAX_ALIAS_EXPANSION = 10_000  # nodes that aliases may add to one YAML document
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
    whose error messages (and positions) are the ones we report. Raises
    :class:`AliasError` for aliases past the limits (see the module docstring).
    """
    if _FAST_LOADER is not None and text.isascii() and "\t" not in text:
        try:
            root = yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
        else:
            if _visit_once(root, plain_as_none=True):
                _check_aliases(text, _FAST_LOADER)
            return root
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if _visit_once(root, plain_as_none=False):
        _check_aliases(text, yaml.SafeLoader)
    return root


def _visit_once(root: yaml.Node | None, *, plain_as_none: bool) -> bool:
    """Visit each node once, however many aliases share it; say whether any does.

    With ``plain_as_none``, plain scalars get PyYAML's style None where libyaml marks
    them with style ''.
    """
    seen: set[int] = set()
    shared = False
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared = True
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if plain_as_none and node.style == "":
                node.style = None
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return shared


def _check_aliases(text: str, loader: Any) -> None:
    """Count the nodes the aliases of each document add; raise AliasError past the limit.

    Runs on the parser's events (only for texts that have aliases): an anchored node's
    expanded size is known when it ends, and each alias adds that many nodes.
    """
    sizes: dict[str, int] = {}  # anchor -> expanded node count, once its node has ended
    open_anchors: set[str] = set()
    stack: list[tuple[int, str | None]] = []  # open collections: (node count, anchor)
    added = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.DocumentStartEvent):
            sizes.clear()
            added = 0
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append((1, event.anchor))
            if event.anchor is not None:
                open_anchors.add(event.anchor)
        elif isinstance(event, yaml.ScalarEvent | yaml.CollectionEndEvent | yaml.AliasEvent):
            if isinstance(event, yaml.ScalarEvent):
                size, anchor = 1, event.anchor
            elif isinstance(event, yaml.CollectionEndEvent):
                size, anchor = stack.pop()
                open_anchors.discard(anchor or "")
            else:
                anchor = None
                if event.anchor in open_anchors:
                    raise AliasError(
                        f"the alias '*{event.anchor}' is inside the collection it names, so "
                        "it never ends; write the values out instead of an alias",
                        event.start_mark,
                    )
                size = sizes.get(event.anchor or "", 1)
                added += size
                if added > MAX_ALIAS_EXPANSION:
                    raise AliasError(
                        f"the aliases up to '*{event.anchor}' stand for more than "
                        f"{MAX_ALIAS_EXPANSION:,} YAML nodes; write the values out instead "
                        "of nesting aliases",
                        event.start_mark,
                    )
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                count, open_anchor = stack[-1]
                stack[-1] = (count + size, open_anchor)


def safe_load(text: str) -> Any:
    """Plain Python values of a YAML text (like ``yaml.safe_load``), aliases bounded.

    Raises yaml.YAMLError (AliasError past the alias limits) as ``yaml.safe_load`` does.
    """
    root = compose(text)
    if root is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root)
    finally:
        loader.dispose()


def compose_source(source: SourceFile, diagnostics: Diagnostics, what: str) -> yaml.Node | None:
    """The root node of a file's YAML; None (with a diagnostic) when broken or empty."""
    try:
        root = compose(source.text)
    except AliasError as err:
        offset = err.problem_mark.index if err.problem_mark is not None else 0
        diagnostics.error("yaml-alias", str(err.problem), source.span(offset))
        return None
    except yaml.MarkedYAMLError as err:
        offset, message = explain(err, source.text)
        diagnostics.error("yaml", message, source.span(offset))
        return None
    except yaml.YAMLError as err:  # a ReaderError (control character) knows its position
        first_line = str(err).splitlines()[0] if str(err) else "invalid YAML"
        position = getattr(err, "position", 0)
        diagnostics.error("yaml", f"YAML error: {first_line}", source.span(position))
        return None
    if root is None:
        diagnostics.error("empty-file", f"the {what} is empty", source.span(0))
    return root


def too_large_message(limit: int) -> str:
    """What ``too-large`` says of a file over ``limit`` bytes (read from disk or given)."""
    return (
        f"the file is larger than {limit:,} bytes, the limit for this kind of file; "
        "split it into several files"
    )


def read_source_text(path: Path, diagnostics: Diagnostics, limit: int | None = None) -> str | None:
    """A file's UTF-8 text; None (with a diagnostic) when it cannot be read.

    With ``limit``, a file of more bytes than that is refused (``too-large``) without
    reading past the limit.
    """
    try:
        with path.open("rb") as file:
            data = file.read() if limit is None else file.read(limit + 1)
    except OSError as err:
        diagnostics.error("io", f"cannot read the file: {err.strerror}", None, str(path))
        return None
    if limit is not None and len(data) > limit:
        diagnostics.error("too-large", too_large_message(limit), None, str(path))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        diagnostics.error("encoding", f"the file is not UTF-8 text ({err.reason})", None, str(path))
        return None
    # The universal newlines of text mode, as Path.read_text reads them.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


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
        self,
        node: yaml.Node,
        what: str,
        allowed: tuple[str, ...] | None,
        meant: Mapping[str, str] | None = None,
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node, keyed by string; shape errors reported.

        ``meant`` maps keys that writers reach for (as written, lower case) to the field
        they mean, for a "did you mean" that spelling alone would not find (``on`` for
        ``events``; YAML reads a bare ``on`` as true).
        """
        if not isinstance(node, yaml.MappingNode):
            self.error("type", f"{what} must be a mapping (key: value lines)", node)
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            written = key_node.value.lower() if isinstance(key_node, yaml.ScalarNode) else ""
            if meant and written in meant:
                self.error(
                    "unknown-field",
                    f"unknown field '{key_node.value}' in {what}; did you mean "
                    f"'{meant[written]}:'?",
                    key_node,
                )
                continue
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
