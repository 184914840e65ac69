"""The acceptance counts on disk, and the table ``dscoder-lsp stats`` prints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from completion.acceptance import AcceptanceEvent
from completion.stats_store import (
    AcceptanceStore,
    format_table,
    read_recent,
    read_rows,
    state_dir,
)

DAY = 1_780_000_000.0  # a fixed moment, so the day column is known


def write(path: Path, *events: AcceptanceEvent) -> None:
    store = AcceptanceStore(path)
    for event in events:
        store.record(event)
    store.close()


def test_rows_sum_per_language_and_line_kind(tmp_path: Path) -> None:
    path = tmp_path / "state" / "acceptance.sqlite3"
    write(
        path,
        AcceptanceEvent("shown", "python", False, latency_ms=10, at=DAY),
        AcceptanceEvent("accepted", "python", False, 5, at=DAY),
        AcceptanceEvent("shown", "python", False, latency_ms=30, at=DAY),
        AcceptanceEvent("rejected", "python", False, at=DAY),
        AcceptanceEvent("shown", "rust", True, latency_ms=50, at=DAY),
        AcceptanceEvent("partial", "rust", True, 7, at=DAY),
    )
    rows = read_rows(path, ("language", "lines"))
    assert [(r.language, r.lines) for r in rows] == [("python", "single"), ("rust", "multi")]
    python, rust = rows
    assert (python.shown, python.accepted, python.rejected, python.accepted_chars) == (2, 1, 1, 5)
    assert python.acceptance_rate == 0.5
    assert python.latency_ms == 20
    assert (rust.shown, rust.partially_accepted, rust.accepted_chars) == (1, 1, 7)
    [total] = read_rows(path, ())
    assert (total.shown, total.accepted, total.day) == (3, 1, "*")
    table = format_table(rows)
    assert table.splitlines()[0].split()[:3] == ["day", "language", "lines"]
    assert "50.0%" in table


def test_a_missing_database_reads_as_no_rows(tmp_path: Path) -> None:
    assert read_rows(tmp_path / "none.sqlite3") == []


def test_an_unwritable_place_is_logged_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    write(blocker / "acceptance.sqlite3", AcceptanceEvent("shown", "python", False))
    assert not (blocker / "acceptance.sqlite3").exists()


def test_the_state_dir_follows_xdg() -> None:
    assert state_dir({"XDG_STATE_HOME": "/x"}) == Path("/x/dscoder-lsp")
    assert state_dir({}).parts[-3:] == (".local", "state", "dscoder-lsp")


def test_the_stats_command_prints_the_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lsp.cli import main

    path = tmp_path / "acceptance.sqlite3"
    write(
        path,
        AcceptanceEvent("shown", "python", False, latency_ms=12, at=DAY),
        AcceptanceEvent("accepted", "python", False, 4, at=DAY),
    )
    assert main(["stats", "--db", str(path), "--by", "language"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["day", "language", "lines", "shown"]
    assert lines[1].split() == ["*", "python", "*", "1", "1", "0", "0", "4", "100.0%", "12"]
    assert main(["stats", "--db", str(path), "--json", "--by", ""]) == 0
    assert '"acceptanceRate": 1.0' in capsys.readouterr().out
    assert main(["stats", "--db", str(path), "--by", "week"]) == 2
    assert main(["stats", "--db", str(tmp_path / "none.sqlite3")]) == 0
    assert "no suggestions recorded yet" in capsys.readouterr().out


def test_the_newest_events_read_back_oldest_first_with_their_block_flag(tmp_path: Path) -> None:
    path = tmp_path / "acceptance.sqlite3"
    write(
        path,
        AcceptanceEvent("shown", "python", False, latency_ms=10, at=DAY, block=False),
        AcceptanceEvent("rejected", "python", False, at=DAY + 1, block=False),
        AcceptanceEvent("shown", "rust", True, latency_ms=20, at=DAY + 2, block=True),
        AcceptanceEvent("partial", "rust", True, 4, at=DAY + 3),
    )
    events = read_recent(path)
    assert [(e.kind, e.language, e.block) for e in events] == [
        ("shown", "python", False),
        ("rejected", "python", False),
        ("shown", "rust", True),
        ("partial", "rust", None),
    ]
    assert events[2].latency_ms == 20 and events[3].accepted_chars == 4
    assert [e.kind for e in read_recent(path, limit=2)] == ["shown", "partial"]
    assert read_recent(tmp_path / "none.sqlite3") == []


def test_a_database_from_before_the_block_column_is_read_and_extended(tmp_path: Path) -> None:
    path = tmp_path / "acceptance.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE acceptance (at REAL NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL,"
            " language TEXT NOT NULL, multiline INTEGER NOT NULL,"
            " accepted_chars INTEGER NOT NULL, latency_ms REAL NOT NULL)"
        )
        connection.execute(
            "INSERT INTO acceptance VALUES (?, '2026-05-28', 'shown', 'go', 1, 0, 5.0)", (DAY,)
        )
    connection.close()
    [old] = read_recent(path)
    assert (old.kind, old.language, old.multiline, old.block) == ("shown", "go", True, None)
    write(path, AcceptanceEvent("shown", "go", False, at=DAY + 1, block=True))
    assert [e.block for e in read_recent(path)] == [None, True]
    assert [r.shown for r in read_rows(path, ("language",))] == [2]


def test_an_unreadable_database_reads_as_no_events(tmp_path: Path) -> None:
    path = tmp_path / "acceptance.sqlite3"
    path.write_bytes(b"not a database, but a file of the same name" * 100)
    assert read_recent(path) == []
