"""A document's tree-sitter tree, kept in step with its edits.

Sits under the first stage: ``Document`` feeds every edit here, and the
context cut and the completion decisions read the tree. Edits cost O(1): they
are only folded into one pending changed region (in code points). The tree is
brought up to date lazily, when someone asks for it, with one ``tree.edit``
for the whole region plus an incremental reparse that reuses the old tree.

tree-sitter speaks UTF-8 bytes and (row, byte column) points, the documents
speak code points; ``point_of``/``offset_of`` convert through one line, so a
conversion costs the length of that line, not of the file. Rows count ``\\n``
only: a document with lone ``\\r`` line breaks gets no tree (text rules).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from completion.languages import grammar_for, parser

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Point, Tree

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    """Edits since the last parse, folded into one changed region.

    ``current[:start] == parsed[:start]`` and
    ``current[new_end:] == parsed[old_end:]`` (code-point offsets).
    """

    start: int
    old_end: int
    new_end: int


class TreeCache:
    """The last parsed tree per document URI, so a snapshot of a document
    (same URI, same text) starts from a copy instead of a full parse."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[str, Tree]] = OrderedDict()

    def get(self, uri: str, grammar: str, text: str) -> Tree | None:
        entry = self._entries.get((uri, grammar))
        if entry is None:
            return None
        parsed, tree = entry
        if parsed is not text and parsed != text:
            return None
        self._entries.move_to_end((uri, grammar))
        return tree.copy()

    def put(self, uri: str, grammar: str, text: str, tree: Tree) -> None:
        self._entries[(uri, grammar)] = (text, tree.copy())
        self._entries.move_to_end((uri, grammar))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


# One per process: trees are only touched from the event loop's thread.
TREES = TreeCache()


class SyntaxTree:
    """The incremental tree of one document's text."""

    def __init__(self, grammar: str, ts_parser: Parser, uri: str = "") -> None:
        self.grammar = grammar
        self.uri = uri
        self._parser = ts_parser
        self._tree: Tree | None = None
        self._parsed: str | None = None
        self._pending: _Pending | None = None
        self.parses = 0
        """Parses run so far (fresh or incremental), for tests and stats."""

    @classmethod
    def for_document(cls, uri: str, language_id: str) -> SyntaxTree | None:
        """The tree holder for a document's language, or None for text rules."""
        grammar = grammar_for(language_id, uri)
        if grammar is None:
            return None
        ts_parser = parser(grammar)
        if ts_parser is None:
            return None
        return cls(grammar, ts_parser, uri)

    def adopt(self, tree: Tree, text: str) -> None:
        """Take ``tree`` as the up-to-date tree of ``text`` (a snapshot's copy)."""
        self._tree, self._parsed, self._pending = tree, text, None

    def edit(self, start: int, old_end: int, new_end: int) -> None:
        """Record that ``[start, old_end)`` became ``[start, new_end)``: O(1)."""
        if self._tree is None:
            return
        pending = self._pending
        if pending is None:
            self._pending = _Pending(start, old_end, new_end)
            return
        delta = new_end - old_end
        pending.old_end += max(0, old_end - pending.new_end)
        pending.new_end = max(pending.new_end, old_end) + delta
        pending.start = min(pending.start, start)

    def tree(self, text: str) -> Tree | None:
        """The tree of ``text`` (the document's current text), reparsed if stale."""
        if self._parsed is text and self._pending is None:
            return self._tree
        if _has_lone_cr(text):
            self._tree, self._parsed, self._pending = None, None, None
            return None
        old, parsed, pending = self._tree, self._parsed, self._pending
        if old is None or parsed is None:
            old = TREES.get(self.uri, self.grammar, text) if self.uri else None
            if old is not None:
                self._tree, self._parsed, self._pending = old, text, None
                return old
        elif pending is None:
            if parsed == text:
                self._parsed = text
                return old
            old = None  # the text was replaced behind our back
        elif pending.start == 0 and pending.new_end == len(text):
            old = None  # the whole text changed: a fresh parse is as cheap
        else:
            old.edit(
                start_byte=_byte_offset(parsed, pending.start),
                old_end_byte=_byte_offset(parsed, pending.old_end),
                new_end_byte=_byte_offset(text, pending.new_end),
                start_point=_point(parsed, pending.start),
                old_end_point=_point(parsed, pending.old_end),
                new_end_point=_point(text, pending.new_end),
            )
        source = text.encode("utf-8")
        tree = self._parser.parse(source, old) if old is not None else self._parser.parse(source)
        self.parses += 1
        self._tree, self._parsed, self._pending = tree, text, None
        if self.uri:
            TREES.put(self.uri, self.grammar, text, tree)
        return tree


def _has_lone_cr(text: str) -> bool:
    return "\r" in text and text.count("\r") != text.count("\r\n")


def _byte_offset(text: str, offset: int) -> int:
    if text.isascii():
        return offset
    return len(text[:offset].encode("utf-8"))


def _point(text: str, offset: int) -> Point:
    from tree_sitter import Point

    row = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    piece = text[line_start:offset]
    return Point(row, len(piece) if piece.isascii() else len(piece.encode("utf-8")))


def point_of(text: str, line_start: int, offset: int, row: int) -> Point:
    """The tree-sitter point of ``offset``, given its line's start and row."""
    from tree_sitter import Point

    piece = text[line_start:offset]
    return Point(row, len(piece) if piece.isascii() else len(piece.encode("utf-8")))


def column_of(line_text: str, byte_column: int) -> int:
    """The code-point column of a byte column in ``line_text``."""
    if line_text.isascii():
        return min(byte_column, len(line_text))
    return len(line_text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))


def ancestors(node: Node) -> list[Node]:
    """``node`` and its parents up to the root, innermost first."""
    chain = [node]
    parent = node.parent
    while parent is not None:
        chain.append(parent)
        parent = parent.parent
    return chain


def sexp(tree: Tree) -> str:
    """Every node's type and byte range, nested, for comparing two trees exactly."""
    parts: list[str] = []
    cursor = tree.walk()
    while True:
        node = cursor.node
        if node is not None:
            missing = "!" if node.is_missing else ""
            parts.append(f"({node.type}{missing}[{node.start_byte},{node.end_byte}]")
        if cursor.goto_first_child():
            continue
        parts.append(")")
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return " ".join(parts)
            parts.append(")")
