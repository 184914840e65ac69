"""Open documents: windows of the other open files most like the cursor's code.

The neighbouring-tabs idea: cut every other open document into overlapping
windows of ``windowLines`` lines, and rank the windows by the Jaccard
similarity of their identifier sets to that of the lines around the cursor.
Documents of the same language come first, then the most similar windows,
then the most recently edited documents on ties. Window identifier sets are
kept per document version, so each document is scanned once per change.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from completion.crossfile.snippet import Snippet, identifiers, jaccard

__all__ = ["OpenDocument", "WindowCache", "rank_windows"]


@dataclass(frozen=True)
class OpenDocument:
    """What the source needs of another open document."""

    uri: str
    path: str
    language_id: str
    version: int
    text: str
    last_edit: float
    """When it was last edited (monotonic seconds; 0: never)."""


@dataclass(frozen=True)
class _Window:
    start: int
    end: int
    words: frozenset[str]
    defines: frozenset[str] = frozenset()
    """Names the window defines (``def x``, ``class X``, ``func X``, ``fn x``, ...)."""


# A definition's keyword and name, in the common languages.
_DEFINES = re.compile(
    r"^[ \t]*(?:export\s+)?(?:default\s+)?(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?"
    r"(?:def|class|function|func|fn|interface|type|struct|enum|trait|const|let|var)\s+"
    r"(?:\([^)]*\)\s*)?([A-Za-z_]\w*)",
    re.MULTILINE,
)
_DEFINITION_BONUS = 0.1
"""Added to a window's similarity per name used near the cursor that it defines (up to 3)."""


class WindowCache:
    """Each document's windows and their identifier sets, per version."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], tuple[int, list[_Window], list[str]]] = (
            OrderedDict()
        )

    def windows(self, document: OpenDocument, window_lines: int) -> tuple[list[_Window], list[str]]:
        """The document's windows and its lines."""
        key = (document.uri, window_lines)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == document.version:
            self._entries.move_to_end(key)
            return entry[1], entry[2]
        lines = document.text.split("\n")
        step = max(1, window_lines // 2)
        # Identifier sets per step-sized slice; a window is two neighbouring slices.
        texts = ["\n".join(lines[start : start + step]) for start in range(0, len(lines), step)]
        slices = [identifiers(text) for text in texts]
        defined = [frozenset(_DEFINES.findall(text)) for text in texts]
        windows = []
        for n, words in enumerate(slices):
            start = n * step
            end = min(len(lines), start + window_lines) - 1
            defines = defined[n]
            if n + 1 < len(slices):
                words = words | slices[n + 1]
                defines = defines | defined[n + 1]
            if words:
                windows.append(_Window(start, end, words, defines))
            if end >= len(lines) - 1:
                break
        self._entries[key] = (document.version, windows, lines)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return windows, lines

    def forget(self, uri: str) -> None:
        for key in [key for key in self._entries if key[0] == uri]:
            del self._entries[key]


def rank_windows(
    query: str,
    language_id: str,
    documents: Sequence[OpenDocument],
    cache: WindowCache,
    window_lines: int = 30,
    max_windows: int = 3,
    min_similarity: float = 0.05,
) -> list[Snippet]:
    """The best windows, best first: same language, then similarity, then recency.

    At most one window per document unless fewer documents than
    ``max_windows`` are open; overlapping windows of one document are never
    both taken.
    """
    words = identifiers(query)
    if not words:
        return []
    scored: list[tuple[bool, float, float, OpenDocument, _Window]] = []
    lines_of: dict[str, list[str]] = {}
    for document in documents:
        windows, lines_of[document.uri] = cache.windows(document, window_lines)
        for window in windows:
            score = jaccard(words, window.words)
            if window.defines:
                score += _DEFINITION_BONUS * min(3, len(window.defines & words))
            if score >= min_similarity:
                same = document.language_id == language_id
                scored.append((same, score, document.last_edit, document, window))
    scored.sort(key=lambda item: (not item[0], -item[1], -item[2], item[3].path, item[4].start))
    per_document = 1 if len(documents) >= max_windows else max_windows
    taken: dict[str, list[_Window]] = {}
    chosen: list[Snippet] = []
    for _same, _score, _edited, document, window in scored:
        kept = taken.setdefault(document.uri, [])
        if len(kept) >= per_document:
            continue
        if any(window.start <= other.end and other.start <= window.end for other in kept):
            continue
        kept.append(window)
        lines = lines_of[document.uri][window.start : window.end + 1]
        text = "".join(line.rstrip("\r") + "\n" for line in lines)
        chosen.append(
            Snippet(
                document.path, window.start, window.end, text, "openFiles", document.language_id
            )
        )
        if len(chosen) >= max_windows:
            break
    return chosen
