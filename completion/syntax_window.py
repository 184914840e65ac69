"""Which lines of a big document its syntax tree covers.

Under the first stage, beside ``completion.syntax``: tree-sitter's
incremental reparse still costs time in proportion to the whole file (about
12 ms per keystroke on 50,000 lines of Python), so a document of
``WINDOWED_FROM`` characters or more is parsed only in part, with
tree-sitter's ``included_ranges``: its head (where the imports are) and a
window of whole top-level constructs around the lines a request reads. Node
positions stay those of the whole document; only nodes outside the ranges
are missing. The window moves (and the tree is reparsed for it, reusing what
it can) when a request needs lines it does not cover.

Boundaries come from the text, without a parse: a line at column 0 that can
begin a top-level construct (in Python, a definition), is not the
continuation of one (``else``, ``case``...), and does not follow a
decorator. ``completion.syntax`` checks each boundary in the parsed tree and
moves a bad one further out.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from completion.brackets import is_top_level_start

if TYPE_CHECKING:
    from completion.document import Document

WINDOWED_FROM = 64 * 1024
"""Documents of this many characters or more get a windowed tree."""

HEAD_CHARS = 16 * 1024
"""The head range covers at least this much of the file's start (imports and
the header block: the pinned header takes at most a quarter of the prompt, so
a header longer than this is never pinned whole)."""

SCAN_LINES = 1000
"""Most lines searched for a boundary; with none there (a class longer than
this, say) the document is parsed whole, as a small one is."""

_PYTHON_START = re.compile(r"(?:async\s+def|def|class)\s|@\w")
"""Python: only definitions count. Module docstrings put prose at column 0,
and a window that starts inside one parses as an error to its end."""

_CONTINUATION = re.compile(
    r"(?:else|elif|except|finally|case|default)\b|[.,;:?|&+*/=%<>-]|#\s*(?:else|elif|endif)"
)


@dataclass(frozen=True)
class LineSpan:
    """Lines ``first`` up to (not including) ``end``."""

    first: int
    end: int

    def covers(self, first: int, last: int) -> bool:
        return self.first <= first and last < self.end


def is_boundary(document: Document, line: int) -> bool:
    """True when a top-level construct can begin at ``line``'s start."""
    if line <= 0 or line >= document.line_count:
        return True
    text = document.line_text(line)
    if document.grammar == "python":
        if not _PYTHON_START.match(text):
            return False
    elif not is_top_level_start(text) or _CONTINUATION.match(text):
        return False
    return not document.line_text(line - 1).startswith("@")


_FENCES: dict[str, tuple[str, ...]] = {
    "python": ('"""', "'''"),
    "javascript": ("`",),
    "typescript": ("`",),
    "tsx": ("`",),
    "go": ("`",),
}
"""Delimiters of the strings that span lines with column-0 text in them: a
boundary needs an even count of them above it (an approximation: a fence in
a comment or inside the other kind of string miscounts; the parse check
catches most of those)."""


def fences_of(grammar: str | None) -> tuple[str, ...]:
    return _FENCES.get(grammar or "", ())


FencesBefore = Callable[[int], int]
"""How many string fences the document's text holds before an offset."""


def _line_fences(document: Document, line: int) -> int:
    text, start, end = document.text, document.line_start(line), document.line_end(line)
    return sum(text.count(fence, start, end) for fence in fences_of(document.grammar))


def boundary_at_or_before(document: Document, line: int, fences: FencesBefore) -> int | None:
    """The nearest boundary at or above ``line`` (0 at the latest), or None past ``SCAN_LINES``."""
    line = max(0, min(line, document.line_count))
    if line >= document.line_count:
        return line
    lines = range(line, max(-1, line - SCAN_LINES - 1), -1)
    outside = fences(document.line_start(line)) % 2 == 0
    for candidate in lines:
        if candidate < line and _line_fences(document, candidate) % 2:
            outside = not outside
        if outside and is_boundary(document, candidate):
            return candidate
    return _by_shape(document, lines)


def boundary_after(document: Document, line: int, fences: FencesBefore) -> int | None:
    """The nearest boundary below ``line`` (the line count at the latest), or None past
    ``SCAN_LINES``."""
    count = document.line_count
    line = max(0, line)
    if line + 1 >= count:
        return count
    lines = range(line + 1, min(count + 1, line + 1 + SCAN_LINES))
    outside = fences(document.line_start(line + 1)) % 2 == 0
    for candidate in lines:
        if candidate > line + 1 and _line_fences(document, candidate - 1) % 2:
            outside = not outside
        if outside and is_boundary(document, candidate):
            return candidate
    return _by_shape(document, lines)


def _by_shape(document: Document, lines: range) -> int | None:
    """The first boundary in ``lines`` by its text alone: for when a stray fence
    (in a comment, say) turned the count over, so code looks like string."""
    return next((n for n in lines if is_boundary(document, n)), None)


def plan(
    document: Document, needed: LineSpan | None, current: list[LineSpan], fences: FencesBefore
) -> list[LineSpan] | None:
    """The line spans to parse: ``current`` when it covers ``needed``, else new ones;
    None when no window can be cut (no boundary within ``SCAN_LINES``).

    A new window reaches half the needed span again past each end, so the
    cursor can move a while before the window does.
    """
    if current and (needed is None or any(s.covers(needed.first, needed.end - 1) for s in current)):
        return current
    head_end = boundary_after(
        document, document.line_of(min(HEAD_CHARS, len(document.text))), fences
    )
    if head_end is None:
        return None
    if needed is None:
        return current or [LineSpan(0, head_end)]
    margin = (needed.end - needed.first) // 2
    first = boundary_at_or_before(document, needed.first - margin, fences)
    end = boundary_after(document, needed.end - 1 + margin, fences)
    if first is None or end is None:
        return None
    if first <= head_end:
        return [LineSpan(0, end)]
    return [LineSpan(0, head_end), LineSpan(first, end)]


MARK_EVERY = 32768
"""Code points between two marks (each at the next line start)."""


class TextMarks:
    """UTF-8 offsets and string-fence counts at code points ``MARK_EVERY`` apart.

    A window's ranges need byte offsets and its boundaries need the fences
    before them; counting either from the start of a big text reads up to all
    of it, from the nearest mark at most ``MARK_EVERY`` code points. Edits
    shift the marks after them (``edit``) instead of rebuilding them.
    """

    def __init__(self, text: str, fences: tuple[str, ...]) -> None:
        self.fences = fences
        # Marks sit at line starts: no fence holds a line break, so none spans one.
        self.chars = [0]
        self.bytes = [0]
        self.fence_counts = [0]
        while True:
            mark = text.find("\n", self.chars[-1] + MARK_EVERY) + 1
            if mark <= 0:
                break
            piece = text[self.chars[-1] : mark]
            self.chars.append(mark)
            self.bytes.append(self.bytes[-1] + len(piece.encode("utf-8")))
            self.fence_counts.append(self.fence_counts[-1] + self._count(piece))

    def _count(self, text: str, start: int = 0, end: int | None = None) -> int:
        return sum(text.count(fence, start, end) for fence in self.fences)

    def byte_offset(self, text: str, offset: int) -> int:
        index = bisect.bisect_right(self.chars, offset) - 1
        return self.bytes[index] + len(text[self.chars[index] : offset].encode("utf-8"))

    def fences_before(self, text: str, offset: int) -> int:
        index = bisect.bisect_right(self.chars, offset) - 1
        return self.fence_counts[index] + self._count(text, self.chars[index], offset)

    def edit(self, old: str, start: int, end: int, new_text: str, bytes_delta: int) -> None:
        """Drop the marks on the lines of the edit of ``old[start:end]``; shift those after."""
        low = old.rfind("\n", 0, start) + 1
        high = old.find("\n", end)
        high = len(old) if high == -1 else high
        before = self._count(old, low, high)
        fences_delta = self._count(old[low:start] + new_text + old[end:high]) - before
        keep = max(1, bisect.bisect_right(self.chars, low))
        after = bisect.bisect_right(self.chars, high)
        chars_delta = len(new_text) - (end - start)
        self.chars = self.chars[:keep] + [c + chars_delta for c in self.chars[after:]]
        self.bytes = self.bytes[:keep] + [b + bytes_delta for b in self.bytes[after:]]
        self.fence_counts = self.fence_counts[:keep] + [
            f + fences_delta for f in self.fence_counts[after:]
        ]
