"""A bounded parse window: prefix tail + candidate + suffix head, parsed with tree-sitter.

A library for post-processing (``completion.filters``): the syntax-aware
rules judge a candidate insert by parsing a small stretch of document around
it rather than the whole file, so each parse costs well under a millisecond.
Parsers are per thread (they hold state) and recent trees are cached, so
shortening a candidate re-parses incrementally.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from completion.brackets import is_top_level_start
from completion.context import Context
from completion.languages import parser

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree

# Bounded parse window: lines of prefix above and suffix below the candidate.
WINDOW_ABOVE = 50
WINDOW_BELOW = 15


_local = threading.local()


def parser_for(grammar: str) -> Parser | None:
    """One parser per grammar and thread: parsers hold state."""
    cache: dict[str, Parser | None] = _local.__dict__.setdefault("parsers", {})
    if grammar not in cache:
        cache[grammar] = parser(grammar)
    return cache[grammar]


@dataclass(frozen=True)
class Window:
    """Prefix tail + candidate + suffix head, with the candidate's byte span."""

    above: str
    below: str
    at_top: bool
    """True when ``above`` starts at a top-level line (or the start of the file)."""
    closed: bool = True
    """True when ``below`` ends with a top-level line, not at a size cap."""

    def source(self, candidate: str) -> bytes:
        return (self.above + candidate + self.below).encode()

    @property
    def start(self) -> int:
        return len(self.above.encode())


@functools.lru_cache(maxsize=8)
def window_for(context: Context) -> Window:
    """The bounded stretch of document the syntax checks parse.

    Above: back to the nearest top-level line (at most ``WINDOW_ABOVE`` lines),
    so the parse starts where the grammar expects. Below: through the next
    top-level line (at most ``WINDOW_BELOW`` lines).
    """
    prefix = context.prefix
    start = len(prefix)
    at_top = False
    for _ in range(WINDOW_ABOVE):
        if start <= 0:
            at_top = True
            break
        start = prefix.rfind("\n", 0, start - 1) + 1
        line_end = prefix.find("\n", start)
        if is_top_level_start(prefix[start : line_end if line_end != -1 else len(prefix)]):
            at_top = True
            break
    above = prefix[start:]
    suffix = context.suffix
    end = suffix.find("\n")
    taken = 0
    closed = False
    while end != -1 and taken < WINDOW_BELOW:
        next_end = suffix.find("\n", end + 1)
        line = suffix[end + 1 : next_end if next_end != -1 else len(suffix)]
        end = next_end
        taken += 1
        if line.strip() and not line[0].isspace():
            closed = True
            break
    below = suffix if end == -1 else suffix[:end]
    return Window(above=above, below=below, at_top=at_top, closed=closed)


@functools.lru_cache(maxsize=32)
def parse(grammar: str, source: bytes) -> Tree | None:
    active = parser_for(grammar)
    return None if active is None else active.parse(source)


def point_at(source: bytes, offset: int) -> tuple[int, int]:
    """(row, byte column) of a byte offset, as tree-sitter counts them."""
    return source.count(b"\n", 0, offset), offset - (source.rfind(b"\n", 0, offset) + 1)


def parse_without(grammar: str, source: bytes, start: int, end: int) -> Tree | None:
    """The tree of ``source`` minus bytes ``start..end``, re-parsed incrementally."""
    tree = parse(grammar, source)
    active = parser_for(grammar)
    if tree is None or active is None:
        return None
    edited = tree.copy()
    at = point_at(source, start)
    edited.edit(
        start_byte=start,
        old_end_byte=end,
        new_end_byte=start,
        start_point=at,
        old_end_point=point_at(source, end),
        new_end_point=at,
    )
    return active.parse(source[:start] + source[end:], edited)


def error_nodes(node: Node, start: int, end: int) -> int:
    """ERROR and MISSING nodes that begin inside ``start``..``end`` (bytes)."""
    if not node.has_error and not node.is_missing:
        return 0
    if node.end_byte < start or node.start_byte > end:
        return 0
    own = 1 if (node.is_error or node.is_missing) and start <= node.start_byte <= end else 0
    return own + sum(error_nodes(child, start, end) for child in node.children)


def char_index(text: str, byte_offset: int) -> int:
    """The string index in ``text`` of a UTF-8 byte offset into it."""
    return len(text.encode()[:byte_offset].decode(errors="ignore"))


def line_end_after(text: str, index: int) -> int:
    """The end of the line that holds ``index`` (exclusive of the newline)."""
    newline = text.find("\n", index)
    return len(text) if newline == -1 else newline
