"""The per-workspace index: each file's definitions and imports, parsed once.

A file is parsed the first time an import leads to it, on the index's own
worker thread (never the event loop, never pygls's thread pool), and again
only when it changes: ``didSave``, ``didChange`` of an open document (its text
is handed over), a watched-file event, or a changed size or mtime noticed
when an entry is more than a few seconds old. A request never waits on a
parse beyond the provider's ``waitMs``: what is not indexed yet serves the
next request.

Entries are only touched on the event loop's thread (or by a caller without
a loop, like the benchmark, which parses in line).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from completion.crossfile.definitions import FileSummary, parse_summary
from completion.languages import grammar_for

log = logging.getLogger(__name__)

__all__ = ["NOTHING_EXCLUDED", "PathFilter", "WorkspaceIndex"]

PathFilter = Callable[[str], bool]
"""``is_excluded(absolute_path) -> bool``: content exclusion's answer."""


def NOTHING_EXCLUDED(path: str) -> bool:
    """The default exclusion hook: nothing is excluded."""
    return False


_RECHECK_SECONDS = 3.0
"""An entry older than this is checked against the file's size and mtime."""


@dataclass
class _Entry:
    summary: FileSummary | None
    """None: the file could not be read, is too large, excluded or binary."""
    stamp: tuple[int, int] | None
    """(size, mtime_ns) for disk files; None for an open document's text."""
    checked: float
    generation: int


class WorkspaceIndex:
    """Summaries of workspace files, kept fresh incrementally (see module docstring)."""

    def __init__(
        self,
        is_excluded: PathFilter = NOTHING_EXCLUDED,
        max_file_bytes: int = 1_000_000,
        size: int = 4096,
        processes: bool = True,
    ) -> None:
        self.processes = processes
        """Parse in a worker process (the default), else a worker thread.

        py-tree-sitter holds the GIL while it parses: a thread would stall
        the event loop for a whole parse (hundreds of ms for a big file on a
        busy machine). A process never does; the thread fallback (no process
        could be started) parses through callbacks, which hand the GIL over
        every switch interval (5 ms)."""
        self.is_excluded = is_excluded
        self.max_file_bytes = max_file_bytes
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._executor: concurrent.futures.Executor | None = None
        self._generation = 0
        self.parses = 0
        """Files parsed so far (for tests and the benchmark)."""

    # ----- reading ----------------------------------------------------------

    def get(self, path: str) -> FileSummary | None:
        """The file's summary if indexed (possibly a few seconds stale), else None.

        Never parses: a missing or stale file is queued for the worker when an
        event loop runs, and parsed in line when none does.
        """
        entry = self._entries.get(path)
        if entry is not None:
            self._entries.move_to_end(path)
            if entry.stamp is not None and time.monotonic() - entry.checked > _RECHECK_SECONDS:
                entry.checked = time.monotonic()
                if _stamp(path) != entry.stamp:
                    self.schedule([path])
            return entry.summary
        self.schedule([path])
        entry = self._entries.get(path)
        return entry.summary if entry is not None else None

    @property
    def changes(self) -> int:
        """Grows whenever any entry changes (a file parsed, or found unreadable)."""
        return self._generation

    def generation(self, path: str) -> int:
        """Changes whenever the file's entry does (0: not indexed)."""
        entry = self._entries.get(path)
        return entry.generation if entry is not None else 0

    # ----- updating -----------------------------------------------------------

    def invalidate(self, path: str) -> None:
        """The file changed on disk (saved, or a watched-file event): parse it again."""
        entry = self._entries.get(path)
        if entry is not None:
            entry.checked = 0.0
            entry.stamp = (-1, -1)
        self.schedule([path])

    def forget(self, path: str) -> None:
        self._entries.pop(path, None)

    def update_text(self, path: str, text: str) -> None:
        """An open document's text: parse it off the loop (or in line without one)."""
        self._submit(path, text)

    def schedule(self, paths: Iterable[str]) -> list[asyncio.Future[None]]:
        """Queue ``paths`` for parsing from disk; futures for those that will be."""
        futures = []
        for path in paths:
            future = self._submit(path, None)
            if future is not None:
                futures.append(future)
        return futures

    async def wait(self, paths: Iterable[str], seconds: float) -> None:
        """Index ``paths``, waiting at most ``seconds`` (the rest go on)."""
        futures = [
            future
            for path in paths
            if path not in self._entries
            for future in (self._pending.get(path) or self._submit(path, None),)
            if future is not None
        ]
        if futures and seconds > 0:
            await asyncio.wait(futures, timeout=seconds)

    def _submit(self, path: str, text: str | None) -> asyncio.Future[None] | None:
        pending = self._pending.get(path)
        if pending is not None and text is None:
            return pending
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._store(path, *_read_and_parse(path, text, self.is_excluded, self.max_file_bytes))
            return None
        if self.excluded(path):  # asked here: the hook need not travel to the worker
            self._store(path, None, None)
            return None
        job = loop.run_in_executor(
            self._worker(), _read_and_parse, path, text, NOTHING_EXCLUDED, self.max_file_bytes
        )
        done: asyncio.Future[None] = loop.create_future()
        self._pending[path] = done

        def landed(
            finished: asyncio.Future[tuple[FileSummary | None, tuple[int, int] | None]],
        ) -> None:
            if self._pending.get(path) is done:
                del self._pending[path]
            if finished.cancelled():
                done.cancel()
                return
            error = finished.exception()
            if isinstance(error, concurrent.futures.BrokenExecutor):
                log.warning("the index worker died (%s); parsing on a thread from now on", error)
                self.processes, self._executor = False, None
                self._store(path, None, (-1, -1))  # stale: parsed again when next asked
            elif error is not None:
                log.warning("could not index %s: %s", path, error)
                self._store(path, None, None)
            else:
                self._store(path, *finished.result())
            if not done.done():
                done.set_result(None)

        job.add_done_callback(landed)
        return done

    def excluded(self, path: str) -> bool:
        try:
            return bool(self.is_excluded(path))
        except Exception:
            log.exception("content exclusion failed for %s; leaving the file out", path)
            return True

    def _worker(self) -> concurrent.futures.Executor:
        if self._executor is None and self.processes:
            try:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            except (OSError, ValueError, NotImplementedError) as error:
                log.warning("no index worker process (%s); parsing on a thread", error)
                self.processes = False
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="dscoder-index"
            )
        return self._executor

    def _store(self, path: str, summary: FileSummary | None, stamp: tuple[int, int] | None) -> None:
        self._generation += 1
        self.parses += 1
        self._entries[path] = _Entry(summary, stamp, time.monotonic(), self._generation)
        self._entries.move_to_end(path)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def _read_and_parse(
    path: str, text: str | None, is_excluded: PathFilter, max_bytes: int
) -> tuple[FileSummary | None, tuple[int, int] | None]:
    """Runs on the worker: read (unless given), check, parse, summarise."""
    grammar = grammar_for(None, path)
    if grammar is None or is_excluded(path):
        return None, None
    stamp = None
    if text is None:
        stamp = _stamp(path)
        if stamp is None or stamp[0] > max_bytes:
            return None, stamp
        try:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError:
            return None, stamp
        if len(data) > max_bytes or b"\x00" in data[:8192]:
            return None, stamp
        text = data.decode("utf-8", "replace")
    elif len(text) > max_bytes:
        return None, None
    return parse_summary(path, grammar, text), stamp
