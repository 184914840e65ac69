"""The text of a document too large for completions, kept with cheap edits.

A document over ``maxDocumentBytes`` gets no completion, so it needs no
syntax tree, no line index over the whole text and no single string: only
its text, to be a full ``Document`` again should it shrink. The text is kept
in chunks of whole lines (about ``CHUNK_CHARS`` each), so a keystroke costs
one chunk's copy and a walk over the chunk line counts, not a copy of 30 MB.

Lines end at ``\\n`` (a ``\\r`` before it stays at the end of its line), as
they do in the ``Document`` of every file an editor sends with CRLF or LF.
Columns are code points; converting LSP characters is lsp/'s job.
"""

from __future__ import annotations

import bisect
from itertools import accumulate

CHUNK_CHARS = 1 << 14


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate counts as its 3 bytes)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _split(text: str, size: int) -> list[str]:
    """``text`` in chunks that end just after a line break (the last may not)."""
    chunks: list[str] = []
    start = 0
    while len(text) - start > size:
        cut = text.find("\n", start + size)
        if cut == -1:
            break
        chunks.append(text[start : cut + 1])
        start = cut + 1
    # No empty chunk after a final line break: it would share its first line
    # with the next chunk and be taken as the one holding that line.
    if start < len(text) or not chunks:
        chunks.append(text[start:])
    return chunks


class LargeText:
    """Line-chunked text with (line, column) edits and a running UTF-8 size."""

    def __init__(
        self, text: str, language_id: str = "", version: int = 0, chunk_chars: int = CHUNK_CHARS
    ):
        self.language_id = language_id
        self.version = version
        self._size = chunk_chars
        self._chunks = _split(text, chunk_chars)
        self._lines = [chunk.count("\n") for chunk in self._chunks]
        self._first_lines = [0, *accumulate(self._lines)][:-1]
        """The line number each chunk starts at (rebuilt when a line count changes)."""
        self.utf8_bytes = utf8_length(text)

    @property
    def line_count(self) -> int:
        return sum(self._lines) + 1

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def _locate(self, line: int) -> tuple[int, int]:
        """The chunk holding ``line``, and that chunk's first line number."""
        index = max(0, bisect.bisect_right(self._first_lines, line) - 1)
        # Chunks without a line break share a first line: the first one holds it.
        while index > 0 and self._first_lines[index - 1] == self._first_lines[index]:
            index -= 1
        return index, self._first_lines[index]

    def line_text(self, line: int) -> str:
        """Line ``line`` without its line break ('' past the end)."""
        index, first = self._locate(line)
        chunk = self._chunks[index]
        start = _nth_line_start(chunk, line - first)
        if start is None:
            return ""
        end = chunk.find("\n", start)
        text = chunk[start:] if end == -1 else chunk[start:end]
        return text[:-1] if text.endswith("\r") else text

    def replace(
        self, start_line: int, start_column: int, end_line: int, end_column: int, new_text: str
    ) -> None:
        """Replace the text between two (line, code-point column) places.

        A place past the end of the text means its end, as for LSP edits.
        """
        if (end_line, end_column) < (start_line, start_column):
            end_line, end_column = start_line, start_column
        (begin, first), (finish, _) = self._locate(start_line), self._locate(end_line)
        region = "".join(self._chunks[begin : finish + 1])
        start = _offset_in(region, start_line - first, start_column)
        end = max(start, _offset_in(region, end_line - first, end_column))
        changed = region[:start] + new_text + region[end:]
        self.utf8_bytes += utf8_length(new_text) - utf8_length(region[start:end])
        # Every chunk but the last ends with a line break: pull the next one in.
        while not changed.endswith("\n") and finish + 1 < len(self._chunks):
            finish += 1
            changed += self._chunks[finish]
        pieces = _split(changed, self._size) if len(changed) > 2 * self._size else [changed]
        counts = [piece.count("\n") for piece in pieces]
        changed_lines = counts != self._lines[begin : finish + 1]
        self._chunks[begin : finish + 1] = pieces
        self._lines[begin : finish + 1] = counts
        if changed_lines:
            self._first_lines = [0, *accumulate(self._lines)][:-1]


def _nth_line_start(chunk: str, line: int) -> int | None:
    position = 0
    for _ in range(line):
        found = chunk.find("\n", position)
        if found == -1:
            return None
        position = found + 1
    return position


def _offset_in(region: str, line: int, column: int) -> int:
    """The offset of (line, column) in ``region``, clamped to its line and end."""
    start = _nth_line_start(region, line)
    if start is None:
        return len(region)
    end = region.find("\n", start)
    end = len(region) if end == -1 else end
    if start < end < len(region) and region[end - 1] == "\r":
        end -= 1  # a column past the end of a CRLF line is before its CR
    return min(start + column, end)
