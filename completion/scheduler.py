"""When to call the model: cache, in-flight reuse, debounce, prefetch.

Sits between the request and the pipeline. For each cursor, in order:
1. the cache (typing through a shown suggestion costs nothing);
2. a generation already running for this document whose output still
   matches what the user typed since it started: wait for it instead of
   starting another;
3. a debounce, adaptive to the user's typing speed, skipped where users
   expect an answer at once: an explicit request, the start of a new line,
   right after a suggestion was accepted (or typed to its end), and after
   the kinds of key this user has been seen to pause after (``PauseLearner``);
4. a new generation ("flight"), owned here rather than by the request, so a
   newer request can adopt it. When the last request waiting on a flight is
   cancelled, the flight runs on for a short grace (``cancelled_grace_ms``):
   editors cancel the pending request on every key and send the next one a
   little later (VS Code after its 50 ms debounce), and that request may
   adopt it. A request that cannot use it stops it at once, and so does the
   end of the grace; stopping the flight stops the engine within a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from completion.cache import CompletionCache, window_after, window_before
from completion.context import Context
from completion.document import Document
from completion.indentation import detect_style, leading_ws
from completion.pipeline import Completion, CompletionPipeline
from completion.stats import Stats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerOptions:
    """Caching and request scheduling (the ``scheduler`` config section)."""

    cache: bool = True
    """Serve repeated cursors and typing-through from memory."""
    cache_entries: int = 512
    """Most cached suggestions kept (least recently used go first)."""
    reuse_inflight: bool = True
    """Adopt a running generation whose output still matches the typed text."""
    debounce_ms: int = 60
    """Wait this long after a keystroke before calling the model."""
    debounce_max_ms: int = 250
    """Upper bound for the adaptive debounce."""
    adaptive_debounce: bool = True
    """Wait longer while the user types fast, less when they type slowly."""
    cancel_superseded: bool = True
    """A newer request for a document cancels the older one."""
    cancelled_grace_ms: int = 150
    """How long a generation whose requests were all cancelled keeps running,
    so the editor's next request can adopt it (0: it stops with the cancel).
    A next request that cannot use it stops it at once."""
    prefetch: bool = False
    """After a suggestion, compute the next one as if it were accepted."""
    prefetch_next_line: bool = False
    """When the model has nothing more for the end of a line, compute the next
    line's suggestion as if Enter were pressed and the editor had indented the
    new line (as the line above, one level more after an opener), so the
    request there is answered from the cache."""
    learn_pauses: bool = True
    """Learn after which kinds of key (a word character, a space, an opening
    bracket or comma, other punctuation, a line's indentation) this user pauses,
    and skip the debounce after those; pauses are also kept out of the typing
    speed the adaptive debounce follows."""


@dataclass
class Flight:
    """One running generation and the document state it started from."""

    uri: str
    fingerprint: str
    offset: int
    before: str
    after: str
    task: asyncio.Task[Completion]
    partial: str = ""
    waiters: int = 0
    expiry: asyncio.TimerHandle | None = None
    """The end of the grace after its last waiter was cancelled, if running."""
    listeners: list[asyncio.Future[None]] = field(default_factory=list)
    """Futures resolved at the next change of ``partial``."""

    def end_grace(self) -> None:
        """Drop the pending end of the grace, if any (adopted, landed, or stopped)."""
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None

    def grow(self, text: str) -> None:
        self.partial = text
        listeners, self.listeners = self.listeners, []
        for listener in listeners:
            if not listener.done():
                listener.set_result(None)

    def matches(self, document: Document, offset: int, fingerprint: str) -> str | None:
        """The text typed since this flight started, if it can still serve ``offset``."""
        if self.uri != document.uri or self.fingerprint != fingerprint or offset < self.offset:
            return None
        if self.task.cancelled() or self.task.cancelling():
            return None  # stopping: it will serve nobody
        if window_after(document, offset) != self.after:
            return None
        if window_before(document, self.offset) != self.before:
            return None
        typed = document.text[self.offset : offset]
        if self.partial.startswith(typed) or (
            not self.task.done() and typed.startswith(self.partial)
        ):
            return typed
        return None


PAUSE_MIN_MS = 300.0
"""A gap between keys at least this long (and three times the typing average) is a pause."""


def is_pause(gap_ms: float, average_ms: float) -> bool:
    return gap_ms >= max(PAUSE_MIN_MS, 3 * average_ms)


@dataclass
class TypingPace:
    """An exponential average of the gap between keys (requests) for one document.

    Pauses are left out: they say how long the user stops, not how fast they
    type, and counting them made the debounce grow to its maximum after a few.
    """

    last: float = 0.0
    average_ms: float = 0.0
    last_kind: str = ""
    """The ``key_kind`` of the latest request."""

    def update(self, now: float, learn_pauses: bool = True) -> None:
        gap_ms = (now - self.last) * 1000 if self.last else 0.0
        self.last = now
        # Without pause learning, only gaps over a second count as pauses.
        typing = not is_pause(gap_ms, self.average_ms) if learn_pauses else gap_ms < 1000
        if gap_ms > 0 and typing:
            self.average_ms = (
                gap_ms if not self.average_ms else 0.7 * self.average_ms + 0.3 * gap_ms
            )


LINE_START = "line start"
INDENT = "indent"


def key_kind(text: str, offset: int, previous: str) -> str:
    """What the key before ``offset`` was, as far as pausing after it goes.

    A blank line's first request is its ``line start`` (after Enter, with or
    without the editor's indentation); further blank keys are ``indent`` typed
    by hand. ``previous`` is the kind of the document's previous request.
    """
    line_prefix = text[text.rfind("\n", 0, offset) + 1 : offset]
    if not line_prefix.strip():
        return INDENT if previous in (LINE_START, INDENT) and line_prefix else LINE_START
    last = text[offset - 1]
    if last.isalnum() or last == "_":
        return "word"
    if last in " \t":
        return "space"
    if last in "([{,":
        return "opener"
    return "punctuation"


@dataclass
class PauseLearner:
    """Per kind of key, the share of keys the user paused after (decaying counts).

    Fed with every request's gap, so it follows this user: a key kind after
    which a quarter or more of keys were followed by a pause gets no debounce,
    since waiting there mostly delays a suggestion the user waits for.
    """

    keys: dict[str, float] = field(default_factory=dict)
    pauses: dict[str, float] = field(default_factory=dict)
    decay: float = 0.98
    """Weight of the past per key of the same kind (about the last 50 count)."""
    min_keys: float = 8.0
    """Keys of a kind seen before its share is trusted."""
    share_at_once: float = 0.25
    """The share of keys followed by a pause from which a kind gets no debounce:
    four calls for each pause answered at once."""

    def observe(self, kind: str, paused: bool) -> None:
        """The key of ``kind`` was followed by a pause (True) or by another key."""
        self.keys[kind] = self.keys.get(kind, 0.0) * self.decay + 1
        self.pauses[kind] = self.pauses.get(kind, 0.0) * self.decay + paused

    def share(self, kind: str) -> float | None:
        """The share of ``kind`` keys followed by a pause; None until enough are seen."""
        keys = self.keys.get(kind, 0.0)
        if keys < self.min_keys:
            return None
        return self.pauses.get(kind, 0.0) / keys

    def at_once(self, kind: str) -> bool | None:
        """Whether to skip the debounce after ``kind``; None while unknown."""
        share = self.share(kind)
        return None if share is None else share >= self.share_at_once


@dataclass(frozen=True)
class Served:
    """The last suggestion answered for a document, to recognise its accept."""

    offset: int
    text: str
    before: str


@dataclass
class Scheduler:
    """Decides, per request, between cache, adoption, and a new generation."""

    options: SchedulerOptions
    stats: Stats
    cache: CompletionCache = field(default_factory=CompletionCache)
    pauses: PauseLearner = field(default_factory=PauseLearner)
    _flights: dict[str, Flight] = field(default_factory=dict)
    _pace: dict[str, TypingPace] = field(default_factory=dict)
    _served: dict[str, Served] = field(default_factory=dict)
    holds_back: Callable[[str, bool], bool] | None = None
    """(language, multi-line) -> hold an automatic request back (completion/suppression.py)."""

    def forget(self, uri: str) -> None:
        """Drop a closed document's typing pace and last answer (a flight ends itself)."""
        self._pace.pop(uri, None)
        self._served.pop(uri, None)

    def debounce_seconds(self, uri: str, immediate: bool) -> float:
        pace = self._pace.setdefault(uri, TypingPace())
        if immediate or self.options.debounce_ms <= 0:
            return 0.0
        delay = float(self.options.debounce_ms)
        if self.options.adaptive_debounce and pace.average_ms:
            # Fast typists get a longer wait: their next key is likely coming.
            delay = max(delay, min(pace.average_ms * 1.2, float(self.options.debounce_max_ms)))
        return delay / 1000

    def note_key(self, document: Document, offset: int) -> str:
        """Note a request (a key) at ``offset``; teach the learner whether the
        document's previous key was followed by a pause. Returns the key's kind."""
        pace = self._pace.setdefault(document.uri, TypingPace())
        kind = key_kind(document.text, offset, pace.last_kind)
        now = time.monotonic()
        if pace.last_kind and pace.last:
            gap_ms = (now - pace.last) * 1000
            self.pauses.observe(pace.last_kind, is_pause(gap_ms, pace.average_ms))
        pace.update(now, self.options.learn_pauses)
        pace.last_kind = kind
        return kind

    def at_once(
        self, document: Document, offset: int, context: Context, invoked: bool, kind: str
    ) -> bool:
        """Whether this request skips the debounce (see the module docstring)."""
        if invoked or self.accepted(document, offset):
            return True
        learned = self.pauses.at_once(kind) if self.options.learn_pauses else None
        blank = context.multiline and not context.line_prefix.strip()
        if learned is None:
            return blank  # until this user's pauses are known: at a new line
        return learned or (blank and kind == LINE_START)

    def accepted(self, document: Document, offset: int) -> bool:
        """The text before ``offset`` ends the last suggestion served here: the
        user accepted it (or typed all of it) and wants the next one now."""
        served = self._served.get(document.uri)
        if served is None or not served.text:
            return False
        start = offset - len(served.text)
        return (
            start == served.offset
            and document.text[start:offset] == served.text
            and window_before(document, start) == served.before
        )

    def serve(self, document: Document, result: Completion) -> Completion:
        """Remember the answer for ``document``, to tell its accept when it comes."""
        if result.text:
            self._served[document.uri] = Served(
                result.start, result.text, window_before(document, result.start)
            )
        return result

    def cached(
        self, pipeline: CompletionPipeline, fingerprint: str, document: Document, offset: int
    ) -> Completion | None:
        """The answer from the cache, if it has one: no debounce, no engine."""
        if not self.options.cache:
            return None
        started = time.perf_counter()
        entry = self.cache.lookup(document, offset, fingerprint)
        if entry is None:
            return None
        self.note_key(document, offset)
        self.stats.add(requests=1, cache_hits=1)
        result = Completion(
            text=entry.text,
            start=offset,
            end=offset + entry.replaces,
            multiline=entry.multiline,
            model=pipeline.engine.info.name if pipeline.engine.info else "",
            template=pipeline.template.name,
            cached=True,
        )
        result.timing.total_ms = (time.perf_counter() - started) * 1000
        self.stats.record_latency(result.timing.total_ms)
        return self.serve(document, result)

    async def complete(
        self,
        pipeline: CompletionPipeline,
        fingerprint: str,
        document: Document,
        offset: int,
        file_path: str | None = None,
        invoked: bool = False,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> Completion:
        """The answer for ``offset``: from the cache first, waiting on nothing;
        otherwise, after ``prepare`` (the caller's own wait, such as indexing
        for cross-file context), by adoption or a new generation."""
        hit = self.cached(pipeline, fingerprint, document, offset)
        if hit is not None:
            return hit
        kind = self.note_key(document, offset)
        if prepare is not None:
            await prepare()
        started = time.perf_counter()

        flight = self._flights.get(document.uri)
        if flight is not None and self.options.reuse_inflight:
            typed = flight.matches(document, offset, fingerprint)
            if typed is not None:
                adopted = await self._adopt(flight, typed, offset, started)
                if adopted is not None:
                    return self.serve(document, adopted)
        flight = self._flights.get(document.uri)
        if flight is not None and flight.waiters == 0:
            # Nobody waits on it and this request cannot use it.
            self._cancel_flight(document.uri)

        text = document.text
        context = pipeline.make_context(document, offset, file_path)
        holds_back = self.holds_back
        if not invoked and holds_back and holds_back(document.language_id, context.multiline):
            held = Completion(text="", start=offset, end=offset, multiline=context.multiline)
            held.skipped = "suggestions here are rarely accepted (stats.suppress)"
            return held
        delay = self.debounce_seconds(
            document.uri, self.at_once(document, offset, context, invoked, kind)
        )
        if delay:
            await asyncio.sleep(delay)
        self.stats.record_debounce(delay * 1000)  # requests cancelled meanwhile do not count
        if self.options.cancel_superseded:
            self._cancel_flight(document.uri)
        # Built for this very text, unless it was edited during the debounce.
        reuse = context if document.text is text else None
        flight = self._launch(pipeline, fingerprint, document, offset, file_path, reuse)
        result = await self._wait(flight)
        result.timing.debounce_ms = delay * 1000
        return self.serve(document, result)

    def _launch(
        self,
        pipeline: CompletionPipeline,
        fingerprint: str,
        document: Document,
        offset: int,
        file_path: str | None,
        context: Context | None = None,
        prefetched: bool = False,
    ) -> Flight:
        # The flight works on a snapshot (sharing the parsed tree): the live
        # document keeps changing.
        snapshot = document.snapshot(pipeline.options.context.parse_budget_ms or None)
        flight: Flight

        def progress(text: str) -> None:
            flight.grow(text)

        async def run() -> Completion:
            result = await pipeline.complete(snapshot, offset, file_path, progress, context)
            # An empty answer the model gave (not a failure) is kept too: asking
            # again at the same place would give the same nothing.
            if self.options.cache and (result.text or answered(result)):
                replaces = result.end - result.start
                self.cache.store(
                    snapshot, offset, result.text, result.multiline, fingerprint, replaces
                )
            # An answer that replaces closers is not prefetched past: the
            # accepted document would need the range applied. A prefetch is
            # not prefetched past either: one guess ahead, not a chain.
            if not prefetched and result.end == result.start and answered(result):
                self._prefetch_after(pipeline, fingerprint, snapshot, offset, result, file_path)
            return result

        task = asyncio.create_task(run(), name=f"flight {document.uri}")
        flight = Flight(
            uri=document.uri,
            fingerprint=fingerprint,
            offset=offset,
            before=window_before(document, offset),
            after=window_after(document, offset),
            task=task,
        )
        self._flights[document.uri] = flight
        task.add_done_callback(lambda done: self._landed(flight, done))
        # A generation for another document, kept only for its grace, would
        # hold the engine: the user has moved on.
        for other in list(self._flights.values()):
            if other.expiry is not None and other.uri != flight.uri:
                self._cancel_flight(other.uri)
        return flight

    def _prefetch(
        self,
        pipeline: CompletionPipeline,
        fingerprint: str,
        document: Document,
        offset: int,
        text: str,
        file_path: str | None,
    ) -> None:
        """Start the suggestion that follows ``text`` as if it were accepted.

        It runs as a flight with no waiters: accepting adopts it, and any other
        request for the document cancels it.
        """
        accepted = accepted_document(document, offset, text)
        self.stats.add(prefetches=1)
        self._launch(
            pipeline, fingerprint, accepted, offset + len(text), file_path, prefetched=True
        )

    def _prefetch_after(
        self,
        pipeline: CompletionPipeline,
        fingerprint: str,
        document: Document,
        offset: int,
        result: Completion,
        file_path: str | None,
    ) -> None:
        """Start what the user likely asks for next, where a prefetch option says so."""
        if self.options.prefetch and result.text:
            self._prefetch(pipeline, fingerprint, document, offset, result.text, file_path)
        elif self.options.prefetch_next_line and not result.text and ends_line(document, offset):
            enter = "\n" + next_line_indent(document.text, offset)
            self._prefetch(pipeline, fingerprint, document, offset, enter, file_path)

    def _landed(self, flight: Flight, task: asyncio.Task[Completion]) -> None:
        if self._flights.get(flight.uri) is flight:
            del self._flights[flight.uri]
        flight.end_grace()
        if not task.cancelled() and (error := task.exception()) is not None:
            log.debug("generation for %s failed: %s", flight.uri, error)

    async def _wait(self, flight: Flight) -> Completion:
        with self._waiting(flight):
            return await asyncio.shield(flight.task)

    async def _covers(self, flight: Flight, typed: str) -> bool:
        """Wait until the flight's output covers ``typed`` (True) or departs from it.

        Decided as soon as the stream shows it, so a request does not sit out
        a whole generation only to find it wrote something else. The caller
        counts as a waiter meanwhile.
        """
        while not flight.task.done() and not flight.partial.startswith(typed):
            if not typed.startswith(flight.partial):
                return False
            grew: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            flight.listeners.append(grew)
            try:
                either: list[asyncio.Future[Any]] = [flight.task, grew]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                grew.cancel()
        return True

    @contextlib.contextmanager
    def _waiting(self, flight: Flight) -> Iterator[None]:
        """Count a waiter on ``flight``; the last one to leave starts its grace."""
        flight.waiters += 1
        flight.end_grace()
        try:
            yield
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and running(flight.task):
                # Nobody wants this generation now: stop the engine, after a
                # grace in which the editor's next request may adopt it (if
                # it still can: a newer flight for the document replaces it).
                grace = self.options.cancelled_grace_ms / 1000
                current = self._flights.get(flight.uri) is flight
                if grace > 0 and self.options.reuse_inflight and current:
                    loop = asyncio.get_running_loop()
                    flight.expiry = loop.call_later(grace, self._expire, flight)
                else:
                    flight.task.cancel()

    def _expire(self, flight: Flight) -> None:
        flight.expiry = None
        if flight.waiters == 0 and running(flight.task):
            flight.task.cancel()

    async def _adopt(
        self, flight: Flight, typed: str, offset: int, started: float
    ) -> Completion | None:
        # One waiter throughout, so the flight is never left without one
        # between deciding and waiting. If the flight is stopped meanwhile (a
        # newer request superseded it, or the engine is closing), this request
        # is stopped with it.
        with self._waiting(flight):
            if not await self._covers(flight, typed):
                return None
            finished = await asyncio.shield(flight.task)
        if not finished.text.startswith(typed):
            return None
        # A fully typed suggestion serves nothing; an empty answer for this
        # very cursor is the answer.
        if len(finished.text) <= len(typed) and (typed or not answered(finished)):
            return None
        # Counted only when adopted: otherwise the request goes on to a
        # generation of its own, which counts it there.
        self.stats.add(requests=1, inflight_reuses=1)
        result = Completion(
            text=finished.text[len(typed) :],
            start=offset,
            end=offset + finished.end - finished.start,
            multiline=finished.multiline,
            template=finished.template,
            model=finished.model,
            cached=True,
        )
        result.timing.total_ms = (time.perf_counter() - started) * 1000
        # What this request spent waiting on the generation it adopted.
        result.timing.engine_ms = result.timing.total_ms
        self.stats.record_latency(result.timing.total_ms)
        return result

    def _cancel_flight(self, uri: str) -> None:
        flight = self._flights.pop(uri, None)
        if flight is None:
            return
        flight.end_grace()
        if running(flight.task):
            flight.task.cancel()

    async def close(self) -> None:
        for flight in self._flights.values():
            flight.end_grace()
        tasks = [flight.task for flight in self._flights.values()]
        self._flights.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def running(task: asyncio.Task[Completion]) -> bool:
    """Not finished, and not already told to stop (a second cancel would
    interrupt the engine's own clean-up)."""
    return not task.done() and not task.cancelling()


def ends_line(document: Document, offset: int) -> bool:
    """The cursor is after code, with nothing but blanks to the end of its line."""
    text = document.text
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    rest = text[offset : line_end if line_end >= 0 else len(text)]
    return bool(text[line_start:offset].strip()) and not rest.strip()


INDENT_SAMPLE = 20_000
"""Characters before the cursor read to tell the document's indentation style."""


def next_line_indent(text: str, offset: int) -> str:
    """The indentation an editor gives the line after Enter at ``offset``:
    the line's own, one level deeper after a block or bracket opener."""
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    indent = leading_ws(line)
    if not line.rstrip().endswith((":", "{", "(", "[")):
        return indent
    style = detect_style(text[max(0, offset - INDENT_SAMPLE) : offset])
    if style is not None and style.tabs:
        return indent + "\t"
    return indent + " " * (style.width if style is not None else 4)


def answered(result: Completion) -> bool:
    """The model ran to an answer (possibly empty), rather than failing."""
    return result.usage.finish_reason in ("stop", "length", "cut")


def accepted_document(document: Document, offset: int, text: str) -> Document:
    """A copy of ``document`` with ``text`` inserted at ``offset``, as if accepted.

    The copy's tree is the original's, edited and reparsed incrementally, not
    parsed from scratch.
    """
    accepted = document.snapshot()
    accepted.replace(offset, offset, text)
    return accepted
