"""Holding back automatic suggestions where they are almost never taken.

Sits beside the acceptance tracker (completion/acceptance.py), which feeds it
every counted outcome, and is asked by the scheduler before an automatic
request reaches the engine. A *context* is the document's language plus
whether the request asked for one line or a block (the pipeline's decision,
so it is known before the engine is called). Once a context has shown
``min_shown`` suggestions, and its acceptance (accepted whole or in part,
with older outcomes fading after ``half_life`` shown suggestions) is below
``threshold``, its automatic requests are answered with nothing, which
saves the engine call. One held-back request in ``probe_every`` still goes
through, so a context whose suggestions become useful is found again.
Explicit requests are never held back. bench/suppression.py replays
simulated streams of outcomes and prints calls saved against accepted
suggestions lost; the defaults come from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from completion.acceptance import AcceptanceEvent


@dataclass(frozen=True)
class SuppressionOptions:
    """Holding back automatic suggestions in contexts that reject them (``stats.suppress``)."""

    enabled: bool = True
    """Hold back automatic suggestions where past acceptance is near zero (explicit
    requests always run)."""
    min_shown: int = 30
    """Suggestions a context must have shown before it may be held back."""
    threshold: float = 0.01
    """Acceptance rate (accepted or partly accepted over shown, fading) below which it is."""
    half_life: int = 100
    """Shown suggestions after which an outcome counts half."""
    probe_every: int = 10
    """One held-back request in this many still runs, so the context can recover."""


@dataclass
class _Context:
    shown: float = 0.0
    """Shown suggestions, fading (each new one multiplies the old by the decay)."""
    taken: float = 0.0
    """Of those, accepted whole or in part, fading alike."""
    seen: int = 0
    """Shown suggestions, plain count (for ``min_shown``)."""
    held_back: int = 0
    probes: int = 0
    _streak: int = 0

    def rate(self) -> float:
        return self.taken / self.shown if self.shown else 0.0


class Suppression:
    """Per-context acceptance, and the hold-back decision (see module docstring)."""

    def __init__(self, options: Callable[[], SuppressionOptions] | None = None) -> None:
        self.options = options or SuppressionOptions
        """Read on every decision, so a changed config applies at once."""
        self._contexts: dict[tuple[str, bool], _Context] = {}
        self._lock = threading.Lock()

    def record(self, event: AcceptanceEvent) -> None:
        """One outcome the acceptance tracker counted."""
        options = self.options()
        decay = 0.5 ** (1 / max(1, options.half_life))
        with self._lock:
            block = event.multiline if event.block is None else event.block
            context = self._contexts.setdefault((event.language, block), _Context())
            if event.kind == "shown":
                context.shown = context.shown * decay + 1
                context.taken *= decay
                context.seen += 1
            elif event.kind in ("accepted", "partial"):
                context.taken += 1

    def restore(self, events: Iterable[AcceptanceEvent]) -> int:
        """Learn from past sessions' events (oldest first, from the store); how many.

        Run once at startup, before suggestions are normally shown; an event
        counted live before it ends is simply faded as if it came first.
        """
        count = 0
        for event in events:
            self.record(event)
            count += 1
        return count

    def holds_back(self, language: str, multiline: bool) -> bool:
        """Whether an automatic request in this context should not reach the engine."""
        options = self.options()
        if not options.enabled:
            return False
        with self._lock:
            context = self._contexts.get((language or "unknown", multiline))
            if context is None or not _holding(context, options):
                return False
            context._streak += 1
            if context._streak >= max(1, options.probe_every):
                context._streak = 0
                context.probes += 1
                return False
            context.held_back += 1
            return True

    def snapshot(self) -> dict[str, Any]:
        """For ``dscoder/stats``: what is held back now, and how often it was."""
        options = self.options()
        with self._lock:
            contexts = [
                {
                    "language": language,
                    "lines": "multi" if multiline else "single",
                    "shown": context.seen,
                    "rate": round(context.rate(), 4),
                    "heldBack": context.held_back,
                    "probes": context.probes,
                    "holding": options.enabled and _holding(context, options),
                }
                for (language, multiline), context in sorted(self._contexts.items())
            ]
        return {
            "enabled": options.enabled,
            "heldBack": sum(c["heldBack"] for c in contexts),
            "contexts": contexts,
        }


def _holding(context: _Context, options: SuppressionOptions) -> bool:
    return context.seen >= options.min_shown and context.rate() < options.threshold
