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
from completion.syntax_window import (
    MARK_EVERY,
    WINDOWED_FROM,
    LineSpan,
    TextMarks,
    boundary_after,
    boundary_at_or_before,
    fences_of,
    is_boundary,
    plan,
)
from completion.text_cache import TextCache

if TYPE_CHECKING:
    from collections.abc import Callable

    from tree_sitter import Node, Parser, Point, Range, Tree

    from completion.document import Document

log = logging.getLogger(__name__)


_CHUNK = 16384
"""Bytes handed to tree-sitter per read when parsing under a time budget."""

_NO_END = 0xFFFFFFFF
"""tree-sitter's end of an open range (its default range is 0.._NO_END)."""

DEFAULT_BEFORE, DEFAULT_AFTER = 5120, 1536
"""Characters before and after the last edit a windowed tree covers when the
caller names no lines (a snapshot, the import scan): what the default
context budget reaches (``completion.context``), so a snapshot's tree serves
the request made on it."""

_EDGE_LINES = 32
"""Lines next to a window edge whose top-level nodes must parse cleanly."""

_EDGE_STEPS = (1, 64, 512)
"""Lines a window edge that parses badly is moved out by (to the next boundary
past them), one step per retry: a long string or a miscounted fence needs
more than one boundary."""

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
        self._interrupted: tuple[str, bytes | Callable[[int, Point], bytes]] | None = None
        """(text, its source) of a parse that ran out of time; the parser resumes it."""
        self._edited_at: int | None = None
        """Code-point offset of the last edit: a windowed tree follows it."""
        self._marks: tuple[str, TextMarks] | None = None
        """Marks of a big text (and the text they were made for)."""
        self._fences_moved = False
        """True when an edit since the window was last checked touched a string fence
        (a quote or backtick): the window's edges may now be inside a string."""
        self._whole = False
        """True once a window could not be cut in this big document: it is parsed whole."""
        self._ranges: list[Range] | None = None
        """The ranges the parser is set to (None: the whole text)."""
        self.windows = 0
        """Windowed parses on new lines (the window moved), for tests and stats."""
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

        old_end_byte = start_byte + _utf8_length(old_text)
        new_end_byte = start_byte + _utf8_length(new_text)
        self._tree.edit(
            start_byte=start_byte,
            old_end_byte=old_end_byte,
            new_end_byte=new_end_byte,
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=Point(start_point.row + rows, column),
        )
        self._text, self._stale, self._anchor = after, True, (start, start_byte)
        self._edited_at = start
        near = old[max(0, start - 2) : end + 2] + new_text
        self._fences_moved |= any(fence[0] in near for fence in fences_of(self.grammar))
        if self._marks is not None and self._marks[0] is old:
            marks = self._marks[1]
            marks.edit(old, start, end, new_text, new_end_byte - old_end_byte)
            self._marks = (after, marks)

    def _byte_offset(self, text: str, offset: int) -> int:
        """UTF-8 offset of ``offset``, counted from the anchor when that is closer."""
        if text.isascii():
            return offset
        char, byte = self._anchor
        if char > len(text):
            char, byte = 0, 0
        if len(text) >= WINDOWED_FROM and abs(offset - char) > MARK_EVERY:
            return self._marks_of(text).byte_offset(text, offset)
        if offset >= char:
            return byte + _utf8_length(text[char:offset])
        if char - offset < offset:
            return byte - _utf8_length(text[offset:char])
        return _utf8_length(text[:offset])

    def _marks_of(self, text: str) -> TextMarks:
        if self._marks is None or self._marks[0] is not text:
            self._marks = (text, TextMarks(text, fences_of(self.grammar)))
        return self._marks[1]

    def _fences_before(self, text: str) -> Callable[[int], int]:
        """Fences before an offset of ``text``, from marks made on first use."""
        return lambda offset: self._marks_of(text).fences_before(text, offset)

    def tree(self, text: str, budget_ms: float | None = None) -> Tree | None:
        """The tree of ``text`` (the document's current text), reparsed if stale.

        With ``budget_ms``, a parse that runs longer is put aside: this call
        returns the tree as edited since the last parse (positions exact,
        structure one parse old; None when there was none) and the next call
        resumes the parse where it stopped.
        """
        if self._may_have_lone_cr(text):
            self._forget()
            return None
        old = self._edited_or_shared(text)
        if old is not None and is_windowed(old):
            self._stale = True  # the document shrank below the window size: parse it all
        if old is not None and not self._stale:
            return old
        tree = self._reparse(text, old, budget_ms, lambda: text.encode("utf-8"), None)
        if tree is None:
            return old
        if old is None:
            self._anchor = (0, 0)
        return self._keep(tree, text)

    def _may_have_lone_cr(self, text: str) -> bool:
        """A scan of ``text`` for lone CRs, skipped when the tree was edited along with
        it: ``edit`` drops the tree on any edit that touches a CR."""
        if self._tree is not None and self._text is text:
            return False
        return _has_lone_cr(text)

    def _forget(self) -> None:
        """No tree: the text has lone CRs (rows would disagree with ours)."""
        self._drop_interrupted()
        self._tree, self._text = None, None

    def _edited_or_shared(self, text: str) -> Tree | None:
        """The tree edited along with ``text``, or (adopted) a snapshot's copy for it."""
        if self._tree is not None and self._text is text:
            return self._tree
        shared = TREES.get((self.uri, self.grammar), text) if self.uri else None
        if shared is None:
            return None
        cached = shared.copy()
        self.adopt(cached, text)
        return cached

    def _reparse(
        self,
        text: str,
        old: Tree | None,
        budget_ms: float | None,
        source_of: Callable[[], bytes | Callable[[int, Point], bytes]],
        ranges: list[Range] | None,
    ) -> Tree | None:
        """Parse ``text`` in ``ranges`` under ``budget_ms``, resuming an interrupted parse."""
        interrupted = self._interrupted
        if interrupted is not None and interrupted[0] is text:
            source = interrupted[1]
        else:
            self._drop_interrupted()
            source = source_of()
        self._interrupted = None
        self._include(ranges)
        tree = self._parse(source, old, budget_ms)
        if tree is None:
            self._interrupted = (text, source)
            self.interruptions += 1
        return tree

    def _keep(self, tree: Tree, text: str) -> Tree:
        """Take ``tree`` as the parse of ``text`` and share a copy with snapshots."""
        self.parses += 1
        self._tree, self._text, self._stale = tree, text, False
        if self.uri:
            TREES.put((self.uri, self.grammar), text, tree.copy())
        return tree

    def covers(self, document: Document, tree: Tree, first: int, last: int) -> bool:
        """True when ``tree`` has the nodes of lines ``first`` to ``last`` (inclusive)."""
        if not is_windowed(tree):
            return True
        return any(span.covers(first, last) for span in spans_of(document, tree))

    def _include(self, ranges: list[Range] | None) -> None:
        """Point the parser at ``ranges`` (None: all of the text)."""
        if ranges != self._ranges:
            self._parser.included_ranges = ranges  # type: ignore[assignment]
            self._ranges = ranges

    def window_tree(
        self, document: Document, budget_ms: float | None = None, needed: LineSpan | None = None
    ) -> Tree | None:
        """A tree of the head and of whole top-level constructs around ``needed``.

        For documents of ``WINDOWED_FROM`` characters or more (see
        ``completion.syntax_window``). Without ``needed``, the lines around the last edit
        (``DEFAULT_BEFORE``, ``DEFAULT_AFTER``). An incremental reparse on the same
        lines keeps ``budget_ms`` as ``tree`` does; a window on new lines is
        parsed to the end (its size is bounded, not the file's).
        """
        text = document.text
        if self._may_have_lone_cr(text):
            self._forget()
            return None
        old = self._edited_or_shared(text)
        if needed is None and self._edited_at is not None:
            low = document.line_of(max(0, self._edited_at - DEFAULT_BEFORE))
            high = document.line_of(min(len(text), self._edited_at + DEFAULT_AFTER))
            needed = LineSpan(low, high + 1)
        fences = self._fences_before(text) if self._fences_moved else None
        current = spans_of(document, old, fences) if old is not None else []
        self._fences_moved = False
        spans = None if self._whole else plan(document, needed, current, self._fences_before(text))
        if spans is None:  # no window can be cut in this document: parse it whole
            self._whole = True
            return self.tree(text, budget_ms)
        if old is None or spans is not current:
            self._drop_interrupted()
            windowed = self._parse_window(document, spans, old)
            if windowed is None:  # the text fools the boundaries here: parse it whole
                self._whole = True
                return self.tree(text, budget_ms)
            return self._keep(windowed, text)
        if not self._stale:
            return old
        ranges = old.included_ranges
        tree = self._reparse(
            text, old, budget_ms, lambda: _reader(text, document, spans, ranges), ranges
        )
        return old if tree is None else self._keep(tree, text)

    def _parse_window(
        self, document: Document, spans: list[LineSpan], old: Tree | None
    ) -> Tree | None:
        """Parse ``spans`` afresh (reusing ``old`` where it can), moving bad edges out;
        None when an edge is still bad after the last step (parse the document whole)."""
        self.windows += 1
        fences = self._fences_before(document.text)
        for step in _EDGE_STEPS:
            ranges = self._ranges_of(document, spans)
            self._include(ranges)
            read = _reader(document.text, document, spans, ranges)
            tree = self._parser.parse(read, old) if old else self._parser.parse(read)
            moved = _move_bad_edges(document, tree, spans, ranges, step, fences)
            if moved is None:
                return tree
            spans = moved
        return None

    def _ranges_of(self, document: Document, spans: list[LineSpan]) -> list[Range]:
        from tree_sitter import Point, Range

        text = document.text
        ranges = []
        for span in spans:
            start = document.line_start(span.first)
            start_byte = self._byte_offset(text, start)
            if span.end >= document.line_count:
                end_point, end_byte = Point(_NO_END, _NO_END), _NO_END
            else:
                end = document.line_start(span.end)
                end_point = Point(span.end, 0)
                end_byte = start_byte + _utf8_length(text[start:end])
            ranges.append(Range(Point(span.first, 0), end_point, start_byte, end_byte))
        return ranges

    def _parse(
        self,
        source: bytes | Callable[[int, Point], bytes],
        old: Tree | None,
        budget_ms: float | None,
    ) -> Tree | None:
        """Parse (reusing ``old``), or None when ``budget_ms`` runs out first."""
        if not budget_ms:
            return self._parser.parse(source, old) if old else self._parser.parse(source)
        deadline = time.perf_counter() + budget_ms / 1000
        read = source if not isinstance(source, bytes) else _bytes_reader(source)

        def out_of_time(_offset: int, _has_error: bool) -> bool:
            return time.perf_counter() > deadline

        try:
            if old is None:
                return self._parser.parse(read, progress_callback=out_of_time)
            return self._parser.parse(read, old, progress_callback=out_of_time)
        except ValueError:  # cancelled by out_of_time; the parser keeps its state
            return None


def _bytes_reader(source: bytes) -> Callable[[int, Point], bytes]:
    # Bytes, not memoryview slices: the tree keeps this callback to serve
    # Node.text, and py-tree-sitter 0.26 crashes on a view there.
    def read(byte: int, _point: Point) -> bytes:
        return source[byte : byte + _CHUNK]

    return read


def is_windowed(tree: Tree) -> bool:
    """True when ``tree`` was parsed from part of its text (``included_ranges``)."""
    ranges = tree.included_ranges
    return len(ranges) != 1 or ranges[0].start_byte != 0 or ranges[0].end_byte != _NO_END


def spans_of(
    document: Document, tree: Tree, fences: Callable[[int], int] | None = None
) -> list[LineSpan]:
    """The line spans a windowed tree covers, or [] when it is whole or its edges moved
    (off a boundary, or, with ``fences``, into a string an edit opened)."""
    if not is_windowed(tree):
        return []
    spans = []
    for span in tree.included_ranges:
        start, end = span.start_point, span.end_point
        end_row = document.line_count if span.end_byte == _NO_END else end.row
        if start.column or (span.end_byte != _NO_END and end.column):
            return []  # an edit moved an edge off a line start
        if not (is_boundary(document, start.row) and is_boundary(document, end_row)):
            return []
        if fences is not None and any(
            0 < row < document.line_count and fences(document.line_start(row)) % 2
            for row in (start.row, end_row)
        ):
            return []
        spans.append(LineSpan(start.row, end_row))
    return spans


def _reader(
    text: str, document: Document, spans: list[LineSpan], ranges: list[Range]
) -> Callable[[int, Point], bytes]:
    """tree-sitter's read callback over the spans' text only (each encoded once)."""
    pieces: list[tuple[int, bytes]] = []
    for span, covered in zip(spans, ranges, strict=True):
        start = document.line_start(span.first)
        end = document.line_start(span.end) if span.end < document.line_count else len(text)
        pieces.append((covered.start_byte, text[start:end].encode("utf-8")))

    # Bytes, not memoryview slices (see SyntaxTree._parse); the tree keeps this
    # callback to serve Node.text.
    def read(byte: int, _point: Point) -> bytes:
        for start, piece in pieces:
            if start <= byte < start + len(piece):
                return piece[byte - start : byte - start + _CHUNK]
        return b""

    return read


def _move_bad_edges(
    document: Document,
    tree: Tree,
    spans: list[LineSpan],
    ranges: list[Range],
    step: int,
    fences: Callable[[int], int],
) -> list[LineSpan] | None:
    """``spans`` with each edge that parses badly moved ``step`` lines and on to
    the next boundary out, or None when all are good.

    An edge is bad when a top-level node within ``_EDGE_LINES`` of it is an
    error, or the node at it does not start (end) there: a text boundary inside
    a multi-line string, say. The cursor is further in than that (the window
    reaches past the lines a request needs), so its own half-typed code does
    not count.
    """
    root = tree.root_node
    moved = list(spans)
    changed = False
    for index, (span, covered) in enumerate(zip(spans, ranges, strict=True)):
        first, end = span.first, span.end
        nodes = _children_in(root, covered)
        near_start = [n for n in nodes if n.start_point.row < first + _EDGE_LINES]
        near_end = [n for n in nodes if n.end_point.row >= end - _EDGE_LINES]
        # An odd fence count at an edge says it may be inside a string; an error
        # anywhere in the range says it is (a stray fence in a comment parses clean).
        broken = any(_broken(n) for n in nodes)
        if first > 0 and (
            root.is_error
            or not nodes
            or nodes[0].start_byte != covered.start_byte
            or any(_broken(n) for n in near_start)
            or (broken and fences(document.line_start(first)) % 2)
        ):
            moved_first = boundary_at_or_before(document, first - step, fences)
            first = first if moved_first is None else moved_first
        if end < document.line_count and (
            root.is_error
            or (nodes and nodes[-1].end_byte > covered.end_byte)
            or any(_broken(n) for n in near_end)
            or (broken and fences(document.line_start(end)) % 2)
        ):
            moved_end = boundary_after(document, end - 1 + step, fences)
            end = end if moved_end is None else moved_end
        if (first, end) != (span.first, span.end):
            moved[index], changed = LineSpan(first, end), True
    return _merged(moved) if changed else None


def _children_in(root: Node, covered: Range) -> list[Node]:
    """The children of ``root`` that start inside ``covered``.

    Through a cursor: ``Node.first_child_for_byte`` crashes past the last
    child in py-tree-sitter 0.26.
    """
    cursor = root.walk()
    if cursor.goto_first_child_for_byte(covered.start_byte) is None:
        return []
    nodes: list[Node] = []
    while True:
        node = cursor.node
        if node is None or node.start_byte >= covered.end_byte:
            return nodes
        nodes.append(node)
        if not cursor.goto_next_sibling():
            return nodes


def _merged(spans: list[LineSpan]) -> list[LineSpan]:
    """``spans`` (in order) with those that touch or overlap joined."""
    merged = [spans[0]]
    for span in spans[1:]:
        if span.first <= merged[-1].end:
            merged[-1] = LineSpan(merged[-1].first, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def _broken(node: Node) -> bool:
    return bool(node.is_error or node.has_error)


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
