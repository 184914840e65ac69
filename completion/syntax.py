"""A document's tree-sitter tree, kept in step with its edits.

Sits under the first stage: ``Document`` feeds every edit here, and the
context cut and the completion decisions read the tree. Each edit goes into
the tree at once with ``Tree.edit`` (cheap: positions only, no parsing);
the reparse that reuses the old tree runs lazily, when someone asks for the
tree, so a burst of keystrokes costs one parse.

tree-sitter speaks UTF-8 bytes and (row, byte column) points, the documents
speak code points; ``point_of``/``column_of`` convert through one line, so a
conversion costs the length of that line, not of the file. Rows count ``\\n``
only: a document with lone ``\\r`` line breaks gets no tree (text rules).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from completion.languages import grammar_for, parser
from completion.text_cache import TextCache

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Point, Tree

    from completion.document import Document

log = logging.getLogger(__name__)


_CHUNK = 16384
"""Bytes handed to tree-sitter per read when parsing under a time budget."""

# One per process: trees are only touched from the event loop's thread.
TREES: TextCache[tuple[str, str], Tree] = TextCache(size=8)
"""Trees are stored and handed out as copies: the caller edits its own."""


class SyntaxTree:
    """The incremental tree of one document's text."""

    def __init__(self, grammar: str, ts_parser: Parser, uri: str = "") -> None:
        self.grammar = grammar
        self.uri = uri
        self._parser = ts_parser
        self._tree: Tree | None = None
        self._text: str | None = None
        """The text ``_tree`` describes once the edits applied to it are parsed."""
        self._stale = False
        self._anchor = (0, 0)
        """A (code point, byte) offset pair valid in ``_text``: typing stays near it."""
        self._interrupted: tuple[str, bytes] | None = None
        """(text, its UTF-8) of a parse that ran out of time; the parser resumes it."""
        self.parses = 0
        """Parses completed so far (fresh or incremental), for tests and stats."""
        self.interruptions = 0
        """Parses that ran out of their time budget (and were resumed later)."""

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

    @property
    def current(self) -> bool:
        """True when the tree is the parse of the latest text (no edit since)."""
        return self._tree is not None and not self._stale

    def adopt(self, tree: Tree, text: str) -> None:
        """Take ``tree`` as the up-to-date tree of ``text`` (a snapshot's copy)."""
        self._drop_interrupted()
        self._tree, self._text, self._stale, self._anchor = tree, text, False, (0, 0)

    def _drop_interrupted(self) -> None:
        """Forget a parse that ran out of time: its input or old tree changed."""
        if self._interrupted is not None:
            self._interrupted = None
            self._parser.reset()

    def edit(self, document: Document, start: int, end: int, new_text: str, after: str) -> None:
        """Apply one replacement to the tree, before ``document`` takes it.

        ``document`` still holds the old text and line index; ``after`` is the
        new text. Costs a few line-local conversions and ``Tree.edit`` (no parse).
        """
        self._drop_interrupted()
        old = document.text
        if self._tree is None or self._text is not old:
            self._tree = None  # no tree yet, or out of step: parse afresh later
            return
        old_text = old[start:end]
        if "\r" in old_text or "\r" in new_text or old[start - 1 : start] == "\r":
            # Rows count '\n' only; a CR that may pair up or split: start over.
            self._tree = None
            return
        start_byte = self._byte_offset(old, start)
        start_point = _point_in(document, start)
        old_end_point = _point_in(document, end)
        rows = new_text.count("\n")
        tail = new_text[new_text.rfind("\n") + 1 :]
        tail_bytes = len(tail) if tail.isascii() else len(tail.encode("utf-8"))
        column = tail_bytes if rows else start_point.column + tail_bytes
        from tree_sitter import Point

        self._tree.edit(
            start_byte=start_byte,
            old_end_byte=start_byte + _utf8_length(old_text),
            new_end_byte=start_byte + _utf8_length(new_text),
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=Point(start_point.row + rows, column),
        )
        self._text, self._stale, self._anchor = after, True, (start, start_byte)

    def _byte_offset(self, text: str, offset: int) -> int:
        """UTF-8 offset of ``offset``, counted from the anchor when that is closer."""
        if text.isascii():
            return offset
        char, byte = self._anchor
        if char > len(text):
            char, byte = 0, 0
        if offset >= char:
            return byte + _utf8_length(text[char:offset])
        if char - offset < offset:
            return byte - _utf8_length(text[offset:char])
        return _utf8_length(text[:offset])

    def tree(self, text: str, budget_ms: float | None = None) -> Tree | None:
        """The tree of ``text`` (the document's current text), reparsed if stale.

        With ``budget_ms``, a parse that runs longer is put aside: this call
        returns the tree as edited since the last parse (positions exact,
        structure one parse old; None when there was none) and the next call
        resumes the parse where it stopped.
        """
        if self._tree is not None and self._text is text and not self._stale:
            return self._tree
        if _has_lone_cr(text):
            self._drop_interrupted()
            self._tree, self._text = None, None
            return None
        old = self._tree if self._text is text else None
        if old is None and self.uri:
            shared = TREES.get((self.uri, self.grammar), text)
            if shared is not None:
                cached = shared.copy()
                self.adopt(cached, text)
                return cached
        interrupted = self._interrupted
        if interrupted is not None and interrupted[0] is text:
            source = interrupted[1]
        else:
            self._drop_interrupted()
            source = text.encode("utf-8")
        self._interrupted = None
        tree = self._parse(source, old, budget_ms)
        if tree is None:
            self._interrupted = (text, source)
            self.interruptions += 1
            return old
        if old is None:
            self._anchor = (0, 0)
        self.parses += 1
        self._tree, self._text, self._stale = tree, text, False
        if self.uri:
            TREES.put((self.uri, self.grammar), text, tree.copy())
        return tree

    def _parse(self, source: bytes, old: Tree | None, budget_ms: float | None) -> Tree | None:
        """Parse (reusing ``old``), or None when ``budget_ms`` runs out first."""
        if not budget_ms:
            return self._parser.parse(source, old) if old else self._parser.parse(source)
        deadline = time.perf_counter() + budget_ms / 1000

        # Bytes, not memoryview slices: the tree keeps this callback to serve
        # Node.text, and py-tree-sitter 0.26 crashes on a view there.
        def read(byte: int, _point: Point) -> bytes:
            return source[byte : byte + _CHUNK]

        def out_of_time(_offset: int, _has_error: bool) -> bool:
            return time.perf_counter() > deadline

        try:
            if old is None:
                return self._parser.parse(read, progress_callback=out_of_time)
            return self._parser.parse(read, old, progress_callback=out_of_time)
        except ValueError:  # cancelled by out_of_time; the parser keeps its state
            return None


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _point_in(document: Document, offset: int) -> Point:
    """The point of ``offset`` in the document's current text, via its line index."""
    line = document.line_of(offset)
    return point_of(document.text, document.line_start(line), offset, line)


def _has_lone_cr(text: str) -> bool:
    return "\r" in text and text.count("\r") != text.count("\r\n")


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
