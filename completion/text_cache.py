"""What was last derived from a document's text, per URI, for its snapshots.

Under the first stage: a snapshot is a new ``Document`` with the same text,
and rebuilding its line index or syntax tree would cost a scan or a parse.
``completion.document`` keeps line indexes here and ``completion.syntax``
keeps trees; an entry answers only for the very text it was made from.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class TextCache(Generic[Key, Value]):
    """The latest value per key, valid while the text is the same; LRU beyond ``size``."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[Key, tuple[str, Value]] = OrderedDict()

    def get(self, key: Key, text: str) -> Value | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        made_from, value = entry
        # Identity first: a snapshot shares the very text object.
        return value if made_from is text or made_from == text else None

    def put(self, key: Key, text: str, value: Value) -> None:
        self._entries[key] = (text, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
