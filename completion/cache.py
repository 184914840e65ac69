"""Completion cache: exact hits, and typing through a shown suggestion.

Sits before the debounce and the engine. An entry remembers the document
around the cursor when a completion was made (a bounded window of text
before and after it) and the completion itself. A later cursor is served
from the entry when the text between the two cursors is exactly what the
user typed of the suggestion, so typing through it, or accepting a line of
it, costs no model call. Backspacing to an earlier cursor hits the entry
made there, since every served state is stored too.

Memory is bounded by entry count and by the characters held.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from completion.document import Document

WINDOW = 2048
"""Characters kept on each side of the cursor to recognise the same place."""


@dataclass(frozen=True)
class CacheEntry:
    uri: str
    fingerprint: str
    """Engine, model and options the completion was made with."""
    offset: int
    before: str
    """Up to WINDOW characters before the cursor."""
    after: str
    """Up to WINDOW characters after the cursor."""
    text: str
    multiline: bool
    replaces: int = 0
    """Characters after the cursor the text replaces (closers it re-types)."""

    @property
    def size(self) -> int:
        return len(self.before) + len(self.after) + len(self.text)


def window_before(document: Document, offset: int) -> str:
    return document.text[max(0, offset - WINDOW) : offset]


def window_after(document: Document, offset: int) -> str:
    return document.text[offset : offset + WINDOW]


class CompletionCache:
    """An LRU of ``CacheEntry`` with typing-through lookups."""

    def __init__(self, max_entries: int = 512, max_chars: int = 4_000_000):
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[tuple[str, str, int, int], CacheEntry] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def chars(self) -> int:
        return self._chars

    def clear(self) -> None:
        self._entries.clear()
        self._chars = 0

    def store(
        self,
        document: Document,
        offset: int,
        text: str,
        multiline: bool,
        fingerprint: str,
        replaces: int = 0,
    ) -> CacheEntry:
        entry = CacheEntry(
            uri=document.uri,
            fingerprint=fingerprint,
            offset=offset,
            before=window_before(document, offset),
            after=window_after(document, offset),
            text=text,
            multiline=multiline,
            replaces=replaces,
        )
        key = (entry.uri, fingerprint, offset, hash((entry.before, entry.after)))
        old = self._entries.pop(key, None)
        if old is not None:
            self._chars -= old.size
        self._entries[key] = entry
        self._chars += entry.size
        while self._entries and (
            len(self._entries) > self.max_entries or self._chars > self.max_chars
        ):
            _, evicted = self._entries.popitem(last=False)
            self._chars -= evicted.size
        return entry

    def lookup(self, document: Document, offset: int, fingerprint: str) -> CacheEntry | None:
        """The remaining suggestion at ``offset``, or None.

        Newest entries are tried first. An empty remainder (the whole
        suggestion was typed) is not a hit: the user wants the next one. An
        empty entry (the model had nothing to add here) is a hit at its own
        cursor only.
        """
        text = document.text
        after = window_after(document, offset)
        for key in reversed(self._entries):
            entry = self._entries[key]
            if entry.uri != document.uri or entry.fingerprint != fingerprint:
                continue
            typed_length = offset - entry.offset
            within = 0 <= typed_length < len(entry.text) or typed_length == 0 == len(entry.text)
            if not within or entry.after != after:
                continue
            if text[entry.offset : offset] != entry.text[:typed_length]:
                continue
            if window_before(document, entry.offset) != entry.before:
                continue
            self._entries.move_to_end(key)
            if typed_length == 0:
                return entry
            return self.store(
                document,
                offset,
                entry.text[typed_length:],
                entry.multiline,
                fingerprint,
                entry.replaces,
            )
        return None
