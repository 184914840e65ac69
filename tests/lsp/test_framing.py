"""The framing loop resyncs after bad frames and answers bad bodies."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from pygls.lsp.server import LanguageServer

from lsp.framing import ClosingWriter, read_messages


def frame(body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return b"Content-Length: %d\r\n\r\n" % size + body


def request(msg_id: int, method: str = "test/echo") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": {}}).encode()


class Recorder:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        pass

    def messages(self) -> list[dict[str, Any]]:
        found, stream = [], self.data
        while stream:
            header, _, rest = stream.partition(b"\r\n\r\n")
            length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            found.append(json.loads(rest[:length]))
            stream = rest[length:]
        return found


async def serve(stream: bytes) -> list[dict[str, Any]]:
    """Feed ``stream`` to a pygls server with one echo request; its answers."""
    server = LanguageServer("framing-test", "0")

    @server.feature("test/echo")
    def echo(ls: LanguageServer, params: Any) -> str:
        return "ok"

    recorder = Recorder()
    server.protocol.set_writer(recorder)
    reader = asyncio.StreamReader()
    reader.feed_data(stream)
    reader.feed_eof()
    await read_messages(reader, server.protocol, threading.Event())
    await asyncio.sleep(0)
    return recorder.messages()


GOOD = frame(request(99))

CASES = {
    "length is not a number": b"Content-Length: abc\r\n\r\n" + request(1),
    "negative length": b"Content-Length: -5\r\n\r\n" + request(1),
    "no length header": b"Content-Type: application/json\r\n\r\n" + request(1),
    "no headers at all": b"\r\n" + request(1),
    "garbage before the header": b"hello there\r\n",
    "length too short": frame(request(1), 10),
    "length too long": frame(request(1), len(request(1)) + 30),
    "length too long, ends in a partial header": frame(request(1), len(request(1)) + 5),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_resyncs_after_a_bad_frame(case: str) -> None:
    answers = await serve(CASES[case] + GOOD + GOOD.replace(b"99", b"98"))
    ids = [answer.get("id") for answer in answers if "result" in answer]
    assert ids[-2:] == [99, 98], answers
    # The bad frame's body is never run as a request.
    assert 1 not in ids


BODIES = {
    "not JSON": (b"{this is not json", -32700),
    "not UTF-8": (b'{"a": "\xff"}', -32700),
    "an array": (b"[1, 2]", -32600),
    "a number": (b"42", -32600),
    "id is an object": (b'{"jsonrpc":"2.0","id":{},"method":"test/echo"}', -32600),
    "id is a boolean": (b'{"jsonrpc":"2.0","id":true,"method":"test/echo"}', -32600),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, -32700),
    "params nested 100,000 deep": (
        b'{"jsonrpc":"2.0","id":5,"method":"test/echo","params":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
        -32700,
    ),
    "neither request nor response": (b'{"jsonrpc":"2.0"}', -32600),
}


@pytest.mark.parametrize("case", list(BODIES))
async def test_bad_body_gets_an_error_and_the_server_goes_on(case: str) -> None:
    body, code = BODIES[case]
    answers = await serve(frame(body) + GOOD)
    assert answers[0]["error"]["code"] == code, answers
    assert answers[0]["id"] is None
    assert answers[-1] == {"jsonrpc": "2.0", "id": 99, "result": "ok"}


async def test_input_ending_inside_a_body_stops_quietly() -> None:
    answers = await serve(GOOD + b"Content-Length: 500\r\n\r\n{")
    assert [answer["id"] for answer in answers] == [99]


def test_closed_output_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    closed: list[bool] = []

    class Gone:
        def write(self, data: bytes) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    writer = ClosingWriter(Gone(), on_closed=lambda: closed.append(True))  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="lsp.framing"):
        for _ in range(27):
            writer.write(b"x")
    assert closed == [True]
    assert len([r for r in caplog.records if "closed the connection" in r.message]) == 1
