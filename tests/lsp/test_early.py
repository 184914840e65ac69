"""lsp.early: reading the first message off a pipe and answering it from the cache."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from lsp import early


def framed(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "initialize",
    "params": {"capabilities": {"general": {"positionEncodings": ["utf-8"]}}},
}


def pipe_with(data: bytes) -> int:
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("DSCODER_CACHE", raising=False)
    return tmp_path


def test_a_cached_initialize_is_answered_and_kept_for_pygls() -> None:
    following = framed({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    data = framed(INITIALIZE) + following
    key = early.cache_key(INITIALIZE)
    assert key is not None
    early.store_answer(key, {"capabilities": {"positionEncoding": "utf-8"}})
    out = io.BytesIO()
    first = early.answer_early(pipe_with(data), out)
    assert first.answered and first.initialize_id == 7
    # Every byte read goes on to pygls, the initialize request included.
    assert data.startswith(first.raw) and first.raw.startswith(framed(INITIALIZE))
    header, _, body = out.getvalue().partition(b"\r\n\r\n")
    assert header == b"Content-Length: %d" % len(body)
    assert json.loads(body) == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"capabilities": {"positionEncoding": "utf-8"}},
    }


def test_other_capabilities_are_not_answered_from_the_cache() -> None:
    key = early.cache_key(INITIALIZE)
    assert key is not None
    early.store_answer(key, {"capabilities": {}})
    other = {**INITIALIZE, "params": {"capabilities": {}}}
    out = io.BytesIO()
    first = early.answer_early(pipe_with(framed(other)), out)
    assert not first.answered and first.initialize_id == 7 and out.getvalue() == b""
    assert first.cache_key is not None and first.cache_key != key


@pytest.mark.parametrize(
    "data",
    [
        framed({"jsonrpc": "2.0", "id": 1, "method": "shutdown"}),
        b"Content-Length: 5\r\n\r\n{bad}",
        b"garbage without a header end",
        b"",
    ],
    ids=["not-initialize", "bad-json", "no-header", "eof"],
)
def test_anything_else_is_handed_over_unanswered(data: bytes) -> None:
    out = io.BytesIO()
    first = early.answer_early(pipe_with(data), out)
    assert not first.answered and first.raw == data and out.getvalue() == b""


def test_a_message_split_across_reads_is_read_whole_from_a_non_blocking_pipe() -> None:
    read, write = os.pipe()
    os.set_blocking(read, False)  # as a parent may leave it: reads wait on select
    data = framed(INITIALIZE)
    pid = os.fork()
    if pid == 0:  # a writer that sends the message in three pieces
        for start in range(0, len(data), len(data) // 3 + 1):
            time.sleep(0.02)
            os.write(write, data[start : start + len(data) // 3 + 1])
        os._exit(0)
    os.close(write)
    raw, message = early.read_first_message(read)
    os.waitpid(pid, 0)
    assert raw == data and message == INITIALIZE


def test_the_prefaced_stream_yields_the_bytes_read_first() -> None:
    from lsp.server import _Prefaced

    stream = _Prefaced(io.BytesIO(b"rest of it\nmore"), b"Header: 1\r\n\r\nbo")  # type: ignore[arg-type]
    assert stream.readline() == b"Header: 1\r\n"
    assert stream.readline() == b"\r\n"
    assert stream.read(5) == b"bores"
    assert stream.readline() == b"t of it\n"
    assert stream.read(4) == b"more"
