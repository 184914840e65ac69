"""Recent edits and views: a ring buffer of chunks of the files the user touched.

After llama.vim's ring of chunks: every edit, and every cursor the user asks
a completion at, records the lines around it. A new chunk that overlaps a
kept chunk of the same file (by line range, or by near the same identifiers)
replaces it, so the ring holds distinct places, newest first. The current
file's own chunks are never offered for its prompt: its text is there already.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from completion.crossfile.snippet import Snippet, identifiers, jaccard

__all__ = ["Chunk", "RecentChunks"]

_SAME_WORDS = 0.9
"""Identifier-set similarity above which two chunks count as one."""


@dataclass(frozen=True)
class Chunk:
    uri: str
    path: str
    start_line: int
    end_line: int
    text: str
    language_id: str
    id: int
    words: frozenset[str]


class RecentChunks:
    """The ring (see module docstring)."""

    def __init__(self, size: int = 16, chunk_lines: int = 16, max_overlap: float = 0.5) -> None:
        self.size = size
        self.chunk_lines = chunk_lines
        self.max_overlap = max_overlap
        self._chunks: deque[Chunk] = deque()
        self._ids = itertools.count(1)

    def record(
        self,
        uri: str,
        path: str,
        line_count: int,
        line_text: Callable[[int], str],
        line: int,
        language_id: str = "",
    ) -> None:
        """Keep the chunk of lines centred on ``line`` (an edit or a cursor).

        ``line_text(n)`` gives line ``n`` without its break: only the chunk's
        lines are read, so recording costs the same in a file of any size.
        """
        if line_count <= 0:
            return
        half = self.chunk_lines // 2
        start = max(0, min(line - half, line_count - self.chunk_lines))
        end = min(line_count, start + self.chunk_lines) - 1
        text = "".join(line_text(n) + "\n" for n in range(start, end + 1))
        if not text.strip():
            return
        words = identifiers(text)
        kept = deque(
            chunk for chunk in self._chunks if not self._same(chunk, uri, start, end, words)
        )
        chunk = Chunk(uri, path, start, end, text, language_id, next(self._ids), words)
        kept.appendleft(chunk)
        while len(kept) > self.size:
            kept.pop()
        self._chunks = kept

    def _same(self, chunk: Chunk, uri: str, start: int, end: int, words: frozenset[str]) -> bool:
        if chunk.uri == uri:
            shared = min(chunk.end_line, end) - max(chunk.start_line, start) + 1
            if shared > self.max_overlap * (end - start + 1):
                return True
        return jaccard(chunk.words, words) >= _SAME_WORDS

    def forget(self, uri: str) -> None:
        self._chunks = deque(chunk for chunk in self._chunks if chunk.uri != uri)

    def key(self, uri: str) -> tuple[int, ...]:
        """What the ring offers ``uri``'s prompt: changes only with other files' chunks."""
        return tuple(chunk.id for chunk in self._chunks if chunk.uri != uri)

    def candidates(self, uri: str) -> list[Snippet]:
        """Other files' chunks, newest first."""
        return [
            Snippet(
                chunk.path,
                chunk.start_line,
                chunk.end_line,
                chunk.text,
                "recent",
                chunk.language_id,
            )
            for chunk in self._chunks
            if chunk.uri != uri
        ]
