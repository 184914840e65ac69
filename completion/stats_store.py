"""The acceptance counts on disk: SQLite in ``$XDG_STATE_HOME/dscoder-lsp/``.

Local only: nothing here is ever sent anywhere. The server writes one row per
counted event (completion/acceptance) on a thread of its own, so a slow disk
never stalls the event loop; ``dscoder-lsp stats`` reads the rows back as
a table per day, language and line kind, and the server replays the newest
into suppression when it starts (``read_recent``).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from completion.acceptance import AcceptanceEvent, acceptance_rate
from completion.suppression import SuppressionOptions

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS acceptance (
    at REAL NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    language TEXT NOT NULL,
    multiline INTEGER NOT NULL,
    accepted_chars INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    block INTEGER
)
"""
_COLUMNS = "at, day, kind, language, multiline, accepted_chars, latency_ms, block"

RESTORED_EVENTS = 20_000
"""Newest events replayed into suppression at startup. With the default half-life
of 100 shown suggestions, outcomes older than this weigh nothing that matters."""


@dataclass(frozen=True)
class StatsOptions:
    """Acceptance statistics (the ``stats`` config section)."""

    persist: bool = True
    """Keep the counts in SQLite under $XDG_STATE_HOME/dscoder-lsp/ (local only)."""
    path: str | None = None
    """Database file; unset: $XDG_STATE_HOME/dscoder-lsp/acceptance.sqlite3."""
    suppress: SuppressionOptions = field(default_factory=SuppressionOptions)
    """Hold back automatic suggestions where they are almost never accepted."""


def state_dir(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/dscoder-lsp``, or ``~/.local/state/dscoder-lsp``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dscoder-lsp"


def default_path() -> Path:
    return state_dir() / "acceptance.sqlite3"


def _columns(connection: sqlite3.Connection) -> set[str]:
    return {row[1] for row in connection.execute("PRAGMA table_info(acceptance)")}


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    connection.execute(_SCHEMA)
    if "block" not in _columns(connection):  # written before suppression was restored
        connection.execute("ALTER TABLE acceptance ADD COLUMN block INTEGER")
    return connection


class AcceptanceStore:
    """Appends events on one owned worker thread; errors are logged once, never raised."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="dscoder-stats"
        )
        self._connection: sqlite3.Connection | None = None
        self._failed = False
        self._pending: set[concurrent.futures.Future[None]] = set()

    def record(self, event: AcceptanceEvent) -> None:
        """Queue ``event`` for writing (returns at once)."""
        if self._failed:
            return
        try:
            future = self._executor.submit(self._write, event)
        except RuntimeError:  # closed
            return
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait for queued writes (blocking: for shutdown and tests)."""
        concurrent.futures.wait(list(self._pending), timeout=timeout)

    def close(self) -> None:
        """Finish queued writes and close the database (blocking, bounded)."""
        self.flush()
        self._executor.submit(self._close_connection)
        self._executor.shutdown(wait=True)

    def _write(self, event: AcceptanceEvent) -> None:
        try:
            if self._connection is None:
                self._connection = _connect(self.path)
            day = time.strftime("%Y-%m-%d", time.localtime(event.at))
            with self._connection:
                self._connection.execute(
                    f"INSERT INTO acceptance ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.at,
                        day,
                        event.kind,
                        event.language,
                        int(event.multiline),
                        event.accepted_chars,
                        event.latency_ms,
                        None if event.block is None else int(event.block),
                    ),
                )
        except (sqlite3.Error, OSError) as error:
            self._failed = True
            log.warning("acceptance stats are not saved (%s): %s", self.path, error)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def read_recent(path: Path, limit: int = RESTORED_EVENTS) -> list[AcceptanceEvent]:
    """The last ``limit`` events written, oldest first (blocking).

    For replaying into suppression when the server starts, so what a context's
    past suggestions taught is not lost with the process. Missing or unreadable
    databases read as no events, with a warning for the unreadable.
    """
    if not path.exists():
        return []
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            block = "block" if "block" in _columns(connection) else "NULL"
            rows = connection.execute(
                f"""SELECT at, kind, language, multiline, accepted_chars, latency_ms, {block}
                FROM acceptance ORDER BY rowid DESC LIMIT ?""",
                (limit,),
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        log.warning("past acceptance is not read (%s): %s", path, error)
        return []
    return [
        AcceptanceEvent(
            kind=str(kind),
            language=str(language),
            multiline=bool(multiline),
            accepted_chars=int(chars),
            latency_ms=float(latency),
            at=float(at),
            block=None if block_value is None else bool(block_value),
        )
        for at, kind, language, multiline, chars, latency, block_value in reversed(rows)
    ]


@dataclass(frozen=True)
class Row:
    """One line of the ``dscoder-lsp stats`` table."""

    day: str
    language: str
    lines: str
    shown: int
    accepted: int
    partially_accepted: int
    rejected: int
    accepted_chars: int
    latency_ms: float
    """Mean server time of the shown suggestions."""

    @property
    def acceptance_rate(self) -> float:
        return acceptance_rate(self.accepted, self.shown)

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "language": self.language,
            "lines": self.lines,
            "shown": self.shown,
            "accepted": self.accepted,
            "partiallyAccepted": self.partially_accepted,
            "rejected": self.rejected,
            "acceptedChars": self.accepted_chars,
            "acceptanceRate": self.acceptance_rate,
            "latencyMs": round(self.latency_ms, 1),
        }


def read_rows(path: Path, by: tuple[str, ...] = ("day", "language", "lines")) -> list[Row]:
    """Sums per group; ``by`` picks the columns among day, language and lines ('*' elsewhere)."""
    if not path.exists():
        return []
    columns = {
        "day": "day",
        "language": "language",
        "lines": "CASE multiline WHEN 1 THEN 'multi' ELSE 'single' END",
    }
    names = ("day", "language", "lines")
    selected = [columns[name] if name in by else "'*'" for name in names]
    groups = [str(index + 1) for index, name in enumerate(names) if name in by]
    query = f"""
        SELECT {", ".join(selected)},
            SUM(kind = 'shown'), SUM(kind = 'accepted'), SUM(kind = 'partial'),
            SUM(kind = 'rejected'), SUM(accepted_chars),
            COALESCE(AVG(CASE kind WHEN 'shown' THEN latency_ms END), 0)
        FROM acceptance
        {"GROUP BY " + ", ".join(groups) if groups else ""}
        ORDER BY 1, 2, 3
    """
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        return [
            Row(
                day=str(r[0]),
                language=str(r[1]),
                lines=str(r[2]),
                shown=int(r[3] or 0),
                accepted=int(r[4] or 0),
                partially_accepted=int(r[5] or 0),
                rejected=int(r[6] or 0),
                accepted_chars=int(r[7] or 0),
                latency_ms=float(r[8] or 0.0),
            )
            for r in connection.execute(query)
        ]
    finally:
        connection.close()


def format_table(rows: list[Row]) -> str:
    """A plain-text table, one row per group, with a header."""
    header = (
        "day",
        "language",
        "lines",
        "shown",
        "accepted",
        "partial",
        "rejected",
        "chars",
        "rate",
        "latency ms",
    )
    body = [
        (
            row.day,
            row.language,
            row.lines,
            str(row.shown),
            str(row.accepted),
            str(row.partially_accepted),
            str(row.rejected),
            str(row.accepted_chars),
            f"{row.acceptance_rate:.1%}",
            f"{row.latency_ms:.0f}",
        )
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=False)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in (header, *body)
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
