"""What happened to the suggestions we showed: shown, accepted, partly accepted, rejected.

Sits after the pipeline: each answered request becomes a *suggestion* (its
items, one or several alternatives) with an id per item. The editor reports
back through the item's ``dscoder.accepted`` command and the
``didShowCompletion`` / ``didPartiallyAcceptCompletion`` notifications.

Each suggestion that was shown ends in exactly one outcome:
- ``accepted``: one of its items was accepted whole;
- ``partial``: part of an item was accepted (word or line accepts), then the
  user moved on;
- ``rejected``: a newer suggestion for the same document was shown (or the
  session ended) while it was still undecided.

Showing a sibling alternative (cycling) is not a rejection. Counts are kept
per session in memory for ``dscoder/stats``; the store (completion/stats_store)
keeps them on disk, locally, for ``dscoder-lsp stats``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from completion.suppression import Suppression

ACCEPTED_COMMAND = "dscoder.accepted"
"""The command each item carries; the editor runs it when the item is accepted whole."""

MAX_TRACKED = 512
"""Suggestions remembered for their outcome; older undecided ones are dropped uncounted."""


@dataclass(frozen=True)
class AcceptanceEvent:
    """One counted step, as the store persists it."""

    kind: str
    """'shown', 'accepted', 'partial' or 'rejected'."""
    language: str
    multiline: bool
    accepted_chars: int = 0
    """UTF-16 code units of suggestion text the user kept (accepted and partial)."""
    latency_ms: float = 0.0
    """The request's time in the server, for 'shown' events."""
    at: float = field(default_factory=time.time)
    block: bool | None = None
    """Whether the request asked for a block (the pipeline's decision, known before
    the answer, unlike ``multiline``); None when the answer did not say."""


@dataclass
class _Suggestion:
    uri: str
    language: str
    latency_ms: float
    items: dict[str, tuple[bool, int]]
    """Item id -> (multi-line, length in UTF-16 units)."""
    block: bool | None = None
    shown_item: str | None = None
    partial_chars: int = 0
    partial_item: str | None = None


@dataclass
class Counts:
    """The counters of one slice (all, one language, single or multi-line)."""

    shown: int = 0
    accepted: int = 0
    partially_accepted: int = 0
    accepted_chars: int = 0
    rejected: int = 0

    def add(self, event: AcceptanceEvent) -> None:
        if event.kind == "shown":
            self.shown += 1
        elif event.kind == "accepted":
            self.accepted += 1
        elif event.kind == "partial":
            self.partially_accepted += 1
        elif event.kind == "rejected":
            self.rejected += 1
        self.accepted_chars += event.accepted_chars

    def as_json(self) -> dict[str, Any]:
        return {
            "shown": self.shown,
            "accepted": self.accepted,
            "partiallyAccepted": self.partially_accepted,
            "acceptedChars": self.accepted_chars,
            "rejected": self.rejected,
            "acceptanceRate": acceptance_rate(self.accepted, self.shown),
        }


def acceptance_rate(accepted: int, shown: int) -> float:
    """Suggestions accepted whole over suggestions shown (Copilot's measure); 0 when none."""
    return round(accepted / shown, 4) if shown else 0.0


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of ``acceptedLength``."""
    return len(text.encode("utf-16-le")) // 2


Sink = Callable[[AcceptanceEvent], None]


class AcceptanceTracker:
    """Follows suggestions from answer to outcome (thread-safe; see module docstring)."""

    def __init__(self, sink: Sink | None = None, suppression: Suppression | None = None) -> None:
        self.sink = sink
        """Receives every counted event (the persistent store)."""
        self.suppression = suppression
        """Learns each context's acceptance from the counted events (completion/suppression.py)."""
        self.total = Counts()
        self.by_language: dict[str, Counts] = {}
        self.by_lines: dict[str, Counts] = {"single": Counts(), "multi": Counts()}
        self._suggestions: OrderedDict[str, _Suggestion] = OrderedDict()
        self._item_to_suggestion: dict[str, str] = {}
        self._shown_by_uri: dict[str, str] = {}
        """The undecided suggestion currently shown in each document."""
        self._ids = itertools.count(1)
        self._session = f"{int(time.time() * 1000):x}"
        self._lock = threading.Lock()

    # ----- from the server's answers ------------------------------------------

    def offer(
        self,
        uri: str,
        language: str,
        texts: list[str],
        latency_ms: float = 0.0,
        block: bool | None = None,
    ) -> list[str]:
        """Register one answer's item texts; returns one id per item.

        An item is multi-line when its text has a line break, as the user sees it;
        ``block`` is whether the request asked for one (completion/suppression.py).
        """
        with self._lock:
            suggestion_id = f"{self._session}-{next(self._ids)}"
            ids = [f"{suggestion_id}.{index}" for index in range(len(texts))]
            self._suggestions[suggestion_id] = _Suggestion(
                uri=uri,
                language=language or "unknown",
                latency_ms=latency_ms,
                items={
                    item_id: ("\n" in text, utf16_length(text))
                    for item_id, text in zip(ids, texts, strict=True)
                },
                block=block,
            )
            for item_id in ids:
                self._item_to_suggestion[item_id] = suggestion_id
            while len(self._suggestions) > MAX_TRACKED:
                old_id, old = self._suggestions.popitem(last=False)
                self._forget(old_id, old)
        return ids

    # ----- from the editor --------------------------------------------------

    def shown(self, item_id: str) -> bool:
        """The editor displays ``item_id``; a different suggestion shown there is rejected."""
        events: list[AcceptanceEvent] = []
        with self._lock:
            found = self._lookup(item_id)
            if found is None:
                return False
            suggestion_id, suggestion = found
            self._show(suggestion_id, suggestion, item_id, events)
        self._emit(events)
        return True

    def partially_accepted(self, item_id: str, accepted_length: int) -> bool:
        """``accepted_length`` UTF-16 units of ``item_id`` are in the document (cumulative)."""
        events: list[AcceptanceEvent] = []
        with self._lock:
            found = self._lookup(item_id)
            if found is None:
                return False
            suggestion_id, suggestion = found
            self._show(suggestion_id, suggestion, item_id, events)
            _, length = suggestion.items[item_id]
            suggestion.partial_chars = max(
                suggestion.partial_chars, min(max(0, accepted_length), length)
            )
            suggestion.partial_item = item_id
        self._emit(events)
        return True

    def accepted(self, item_id: str) -> bool:
        """``item_id`` was accepted whole (its command ran)."""
        events: list[AcceptanceEvent] = []
        with self._lock:
            found = self._lookup(item_id)
            if found is None:
                return False
            suggestion_id, suggestion = found
            self._show(suggestion_id, suggestion, item_id, events)
            multiline, length = suggestion.items[item_id]
            events.append(
                AcceptanceEvent(
                    "accepted", suggestion.language, multiline, length, block=suggestion.block
                )
            )
            self._close(suggestion_id, suggestion)
        self._emit(events)
        return True

    def finish(self) -> None:
        """The session ends: what is still shown and undecided was not taken."""
        events: list[AcceptanceEvent] = []
        with self._lock:
            for uri in list(self._shown_by_uri):
                self._decide_shown(uri, events)
        self._emit(events)

    # ----- reading ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self.total.as_json(),
                "acceptanceByLanguage": {
                    language: counts.as_json()
                    for language, counts in sorted(self.by_language.items())
                },
                "acceptanceByLines": {
                    lines: counts.as_json() for lines, counts in self.by_lines.items()
                },
            }

    # ----- internals (under the lock) -----------------------------------------

    def _lookup(self, item_id: str) -> tuple[str, _Suggestion] | None:
        suggestion_id = self._item_to_suggestion.get(item_id)
        if suggestion_id is None:
            return None
        suggestion = self._suggestions.get(suggestion_id)
        return None if suggestion is None else (suggestion_id, suggestion)

    def _show(
        self,
        suggestion_id: str,
        suggestion: _Suggestion,
        item_id: str,
        events: list[AcceptanceEvent],
    ) -> None:
        if suggestion.shown_item is not None:
            suggestion.shown_item = item_id  # cycling among its own alternatives
            return
        if self._shown_by_uri.get(suggestion.uri) not in (None, suggestion_id):
            self._decide_shown(suggestion.uri, events)
        suggestion.shown_item = item_id
        self._shown_by_uri[suggestion.uri] = suggestion_id
        multiline, _ = suggestion.items[item_id]
        events.append(
            AcceptanceEvent(
                "shown",
                suggestion.language,
                multiline,
                latency_ms=suggestion.latency_ms,
                block=suggestion.block,
            )
        )

    def _decide_shown(self, uri: str, events: list[AcceptanceEvent]) -> None:
        """The suggestion shown in ``uri`` is replaced: partial if part was kept, else rejected."""
        suggestion_id = self._shown_by_uri.pop(uri, None)
        if suggestion_id is None:
            return
        suggestion = self._suggestions.get(suggestion_id)
        if suggestion is None or suggestion.shown_item is None:
            return
        if suggestion.partial_item is not None and suggestion.partial_chars > 0:
            multiline, _ = suggestion.items[suggestion.partial_item]
            events.append(
                AcceptanceEvent(
                    "partial",
                    suggestion.language,
                    multiline,
                    suggestion.partial_chars,
                    block=suggestion.block,
                )
            )
        else:
            multiline, _ = suggestion.items[suggestion.shown_item]
            events.append(
                AcceptanceEvent("rejected", suggestion.language, multiline, block=suggestion.block)
            )
        self._close(suggestion_id, suggestion, keep_shown=True)

    def _close(self, suggestion_id: str, suggestion: _Suggestion, keep_shown: bool = False) -> None:
        del self._suggestions[suggestion_id]
        self._forget(suggestion_id, suggestion)
        if not keep_shown and self._shown_by_uri.get(suggestion.uri) == suggestion_id:
            del self._shown_by_uri[suggestion.uri]

    def _forget(self, suggestion_id: str, suggestion: _Suggestion) -> None:
        for item_id in suggestion.items:
            self._item_to_suggestion.pop(item_id, None)
        if self._shown_by_uri.get(suggestion.uri) == suggestion_id:
            del self._shown_by_uri[suggestion.uri]

    def _count(self, event: AcceptanceEvent) -> None:
        self.total.add(event)
        self.by_language.setdefault(event.language, Counts()).add(event)
        self.by_lines["multi" if event.multiline else "single"].add(event)

    def _emit(self, events: list[AcceptanceEvent]) -> None:
        if not events:
            return
        with self._lock:
            for event in events:
                self._count(event)
        for event in events:
            if self.suppression is not None:
                self.suppression.record(event)
            if self.sink is not None:
                self.sink(event)
