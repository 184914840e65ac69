"""The ring of recently edited and viewed chunks (completion/crossfile/recent.py)."""

from __future__ import annotations

from completion.crossfile.recent import RecentChunks

LINES = [f"value_{n} = compute_{n}(argument_{n})" for n in range(100)]


def record(ring: RecentChunks, uri: str, line: int) -> None:
    ring.record(uri, uri.rsplit("/", 1)[-1], len(LINES), LINES.__getitem__, line, "python")


def test_newest_first_and_never_the_files_own_chunks() -> None:
    ring = RecentChunks(size=4, chunk_lines=8)
    record(ring, "file:///a.py", 10)
    record(ring, "file:///b.py", 50)
    chunks = ring.candidates("file:///a.py")
    assert [(c.path, c.start_line, c.end_line) for c in chunks] == [("b.py", 46, 53)]
    assert chunks[0].text == "".join(line + "\n" for line in LINES[46:54])
    assert [c.path for c in ring.candidates("file:///c.py")] == ["b.py", "a.py"]


def test_an_overlapping_chunk_replaces_the_older_one() -> None:
    ring = RecentChunks(size=4, chunk_lines=8)
    record(ring, "file:///a.py", 10)
    record(ring, "file:///a.py", 12)  # 6 of 8 lines shared: the same place
    record(ring, "file:///a.py", 40)
    starts = [c.start_line for c in ring.candidates("file:///other.py")]
    assert starts == [36, 8]


def test_the_oldest_chunk_goes_first() -> None:
    ring = RecentChunks(size=2, chunk_lines=4)
    for line in (10, 30, 50):
        record(ring, "file:///a.py", line)
    assert [c.start_line for c in ring.candidates("file:///b.py")] == [48, 28]


def test_the_key_ignores_the_asking_files_own_chunks() -> None:
    ring = RecentChunks(size=8, chunk_lines=4)
    record(ring, "file:///b.py", 10)
    key = ring.key("file:///a.py")
    record(ring, "file:///a.py", 20)  # typing in a.py
    record(ring, "file:///a.py", 60)
    assert ring.key("file:///a.py") == key
    record(ring, "file:///b.py", 80)
    assert ring.key("file:///a.py") != key
