"""An open document: its text, a line index, and the edits applied to it.

The first stage's input. Offsets here are Python string indices (code
points); converting LSP positions (UTF-16 by default) into them is lsp/'s job.
Every edit is passed on to the document's incremental syntax tree
(``completion.syntax``: ``Tree.edit`` per edit, reparsed lazily by
``syntax_tree()``) and then to the listeners.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from completion.syntax import SyntaxTree
from completion.syntax_window import WINDOWED_FROM, LineSpan
from completion.text_cache import TextCache

if TYPE_CHECKING:
    from tree_sitter import Tree

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class DocumentEdit:
    """One replacement, in code-point offsets of the text before and after it."""

    start: int
    old_end: int
    new_end: int
    old_text: str
    new_text: str


EditListener = Callable[["Document", DocumentEdit], None]


def line_starts_of(text: str, base: int = 0) -> list[int]:
    """Offsets (plus ``base``) where each line after the first begins."""
    if "\r" in text:
        return [base + match.end() for match in _LINE_BREAK.finditer(text)]
    starts: list[int] = []
    find = text.find
    index = find("\n")
    while index != -1:  # str.find beats the regex twofold on '\n'-only text
        starts.append(base + index + 1)
        index = find("\n", index + 1)
    return starts


# Line-start lists are never changed in place (edits build new ones): sharing is safe.
_INDEXES: TextCache[str, list[int]] = TextCache()


@dataclass
class Document:
    """The server's copy of one editor buffer."""

    uri: str
    text: str
    language_id: str = ""
    version: int = 0
    listeners: list[EditListener] = field(default_factory=list, repr=False)
    _line_starts: list[int] = field(default_factory=list, repr=False)
    _syntax: SyntaxTree | None = field(default=None, init=False, repr=False, compare=False)
    _syntax_key: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shared = _INDEXES.get(self.uri, self.text)
        self._line_starts = shared if shared is not None else [0, *line_starts_of(self.text)]
        _INDEXES.put(self.uri, self.text, self._line_starts)

    @property
    def syntax(self) -> SyntaxTree | None:
        """The incremental tree holder for this document's language (None: text rules)."""
        if self._syntax_key != self.language_id:
            self._syntax_key = self.language_id
            self._syntax = SyntaxTree.for_document(self.uri, self.language_id)
        return self._syntax

    @property
    def grammar(self) -> str | None:
        """The tree-sitter grammar name, or None when the language has none."""
        syntax = self.syntax
        return syntax.grammar if syntax is not None else None

    def syntax_tree(
        self, budget_ms: float | None = None, around: tuple[int, int] | None = None
    ) -> Tree | None:
        """The tree of the current text, brought up to date now (incrementally).

        With ``budget_ms``, a reparse that takes longer is finished by a later
        call, and this one gets the tree as of the last parse, moved by the
        edits since (see ``SyntaxTree.tree``). A document of ``WINDOWED_FROM``
        characters or more gets a tree of its head and of the top-level
        constructs around offsets ``around`` (start, end), or around the last
        edit (``completion.syntax_window``).
        """
        syntax = self.syntax
        if syntax is None:
            return None
        if len(self.text) < WINDOWED_FROM:
            return syntax.tree(self.text, budget_ms)
        needed = None
        if around is not None:
            low, high = max(0, around[0]), min(len(self.text), around[1])
            needed = LineSpan(self.line_of(low), self.line_of(high) + 1)
        return syntax.window_tree(self, budget_ms, needed)

    def tree_covers(self, tree: Tree, first: int, last: int) -> bool:
        """True when ``tree`` has the nodes of lines ``first`` to ``last`` (inclusive)."""
        syntax = self.syntax
        return syntax is None or syntax.covers(self, tree, first, last)

    def snapshot(self, budget_ms: float | None = None) -> Document:
        """A frozen copy for a background job; it shares the parsed tree.

        With ``budget_ms``, a reparse that runs longer is left for later and
        the copy parses for itself when (and if) it needs a tree.
        """
        copy = Document(self.uri, self.text, self.language_id, self.version)  # shares the index
        tree = self.syntax_tree(budget_ms)
        current = self._syntax is not None and self._syntax.current
        if tree is not None and current and copy.syntax is not None:
            copy.syntax.adopt(tree.copy(), copy.text)
        return copy

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def line_start(self, line: int) -> int:
        return self._line_starts[line]

    def line_end(self, line: int) -> int:
        """Offset of the end of ``line``'s content, before its line break."""
        if line + 1 < len(self._line_starts):
            end = self._line_starts[line + 1]
            text = self.text
            if end >= 2 and text[end - 2 : end] == "\r\n":
                return end - 2
            return end - 1
        return len(self.text)

    def line_text(self, line: int) -> str:
        return self.text[self.line_start(line) : self.line_end(line)]

    def line_of(self, offset: int) -> int:
        """The line that contains ``offset``."""
        return bisect.bisect_right(self._line_starts, offset) - 1

    def replace(self, start: int, end: int, new_text: str) -> DocumentEdit:
        """Replace ``text[start:end]`` with ``new_text`` and update the line index."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"edit range {start}..{end} is outside 0..{len(self.text)}")
        old_text = self.text[start:end]
        text = self.text[:start] + new_text + self.text[end:]
        if self._syntax is not None:
            self._syntax.edit(self, start, end, new_text, text)  # sees the old index
        self.text = text
        self._reindex(start, end, len(new_text))
        edit = DocumentEdit(start, end, start + len(new_text), old_text, new_text)
        for listener in self.listeners:
            listener(self, edit)
        return edit

    def set_text(self, text: str) -> DocumentEdit:
        return self.replace(0, len(self.text), text)

    def _reindex(self, start: int, old_end: int, new_length: int) -> None:
        # Re-scan from the line before the edit's first character to one
        # character past it (a '\r' and a '\n' that the edit brings together
        # merge into one break), and shift
        # every later line start by the change in length.
        delta = new_length - (old_end - start)
        first = self.line_of(max(start - 1, 0))
        scan_from = self._line_starts[first]
        # Old line starts strictly after the edited region survive, shifted.
        keep_from = bisect.bisect_right(self._line_starts, old_end + 1)
        tail = [offset + delta for offset in self._line_starts[keep_from:]]
        scan_to = tail[0] if tail else len(self.text)
        head = self._line_starts[: first + 1]
        middle = line_starts_of(self.text[scan_from:scan_to], scan_from)
        if tail:  # the break before tail[0] is already in tail
            middle = [offset for offset in middle if offset < scan_to]
        self._line_starts = head + middle + tail
        _INDEXES.put(self.uri, self.text, self._line_starts)
