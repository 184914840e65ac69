"""LSP base-protocol framing that survives bad input, for both stdio readers.

pygls's own loop (``pygls.io_.run_async``) stops answering for good after one
frame with a bad ``Content-Length`` (``abc``, negative, missing): the body is
then read as header lines and the next header is glued to it, so no header
ever matches again. This loop drops such a frame, logs one line, and resyncs
on the next ``Content-Length:`` header wherever it appears in the stream.

A body is checked before pygls sees it, so every bad one gets an answer as
JSON-RPC asks: one that does not parse gets -32700, one that is not a request
object (an array, a number, an id of ``{}``) gets -32600, both with id null.

``ClosingWriter`` is the output side: once the editor has gone (EPIPE), it
stops writing and says so once, instead of one traceback per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO, Protocol

from pygls.protocol import JsonRPCProtocol

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

# A body larger than this is taken for a corrupt header, not waited for.
MAX_BODY_BYTES = 1 << 30

_CONTENT_LENGTH = re.compile(rb"content-length:", re.IGNORECASE)
_HEADER = re.compile(rb"[A-Za-z0-9-]+:")
_LENGTH_VALUE = re.compile(rb"content-length:[ \t]*(\S*)[ \t]*\r?\n?", re.IGNORECASE)


class AsyncReader(Protocol):
    def readline(self) -> Awaitable[bytes]: ...

    def readexactly(self, n: int) -> Awaitable[bytes]: ...


class _Pushback:
    """A reader with bytes put back in front (a header found inside a body)."""

    def __init__(self, reader: AsyncReader):
        self._reader = reader
        self._pending = b""

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending

    async def readline(self) -> bytes:
        if self._pending:
            line, newline, rest = self._pending.partition(b"\n")
            if newline:
                self._pending = rest
                return line + newline
            self._pending = b""
            return line + await self._reader.readline()
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        head, self._pending = self._pending[:n], self._pending[n:]
        if len(head) == n:
            return head
        try:
            return head + await self._reader.readexactly(n - len(head))
        except asyncio.IncompleteReadError as error:  # EOF: what there was
            return head + error.partial


def _parse_length(line: bytes) -> int | None:
    """The value of a ``Content-Length`` line, or None when it is not a length."""
    match = _LENGTH_VALUE.match(line)
    value = match.group(1) if match else b""
    if not value.isdigit():
        return None
    length = int(value)
    return length if 0 < length <= MAX_BODY_BYTES else None


async def read_messages(
    reader: AsyncReader,
    protocol: JsonRPCProtocol,
    stop_event: threading.Event,
) -> None:
    """Read frames until EOF or ``stop_event``, resyncing after a bad one.

    Each bad frame is logged once: a bad header when it is read, a frame
    without any length at its blank line, a body that does not parse in
    ``handle_body``; the bytes skipped after it are not logged again.
    """
    stream = _Pushback(reader)
    length: int | None = None
    in_frame = False  # a header of the current frame has been read
    reported = False  # the current frame's problem is already logged
    resyncing = False  # skipping bytes up to the next Content-Length
    while not stop_event.is_set():
        line = await stream.readline()
        if not line:
            return
        if not line.strip():  # the blank line that ends the headers
            if length is not None:
                body = await stream.readexactly(length)
                if len(body) < length:
                    log.warning("input ended inside a message (%d of %d bytes)", len(body), length)
                    return
                parsed, rest = handle_body(protocol, body)
                stream.unread(rest)
                resyncing = not parsed and not rest
            elif in_frame:
                if not reported:
                    log.warning("dropped a frame without a Content-Length header; resyncing")
                resyncing = True
            length, in_frame, reported = None, False, False
            continue
        found = _CONTENT_LENGTH.search(line)
        if found is None:
            if resyncing:
                continue
            if _HEADER.match(line):
                in_frame = True  # Content-Type, or a header we do not know
                continue
            log.warning("skipping bytes that are not an LSP header; resyncing")
            length, in_frame, reported, resyncing = None, False, False, True
            continue
        if found.start() > 0 and not resyncing:
            log.warning("skipped %d bytes before a Content-Length header", found.start())
        resyncing, in_frame = False, True
        length = _parse_length(line[found.start() :])
        if length is None:
            log.warning("dropped a frame with a bad header %r; resyncing", line.strip()[:80])
            reported = True


def handle_body(protocol: JsonRPCProtocol, body: bytes) -> tuple[bool, bytes]:
    """Parse and dispatch one body; a bad one gets its JSON-RPC error.

    Returns whether the body parsed as JSON, and the bytes from a
    ``Content-Length`` header found inside a body that did not parse (its
    length was too long and swallowed the next frame), to be read again.
    """
    try:
        data = json.loads(body)
    except RecursionError:
        reply_error(protocol, PARSE_ERROR, "Parse error: JSON nested too deeply")
        log.warning("dropped a message nested too deeply to parse")
        return True, b""
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        reply_error(protocol, PARSE_ERROR, f"Parse error: {error}")
        log.warning("dropped a message that is not JSON (%s)", error)
        return False, _swallowed_frame(body)
    problem = request_problem(data)
    if problem is not None:
        log.warning("dropped an invalid message: %s", problem)
        reply_error(protocol, INVALID_REQUEST, f"Invalid Request: {problem}")
        return True, b""
    try:
        message = protocol.structure_message(data)
    except Exception as error:  # params nested too deeply, a notification's bad params
        log.warning("could not read message %s: %s", data.get("method"), error)
        if "id" in data and "method" in data:
            reply_error(protocol, -32603, f"could not read the message: {error}", data["id"])
        return True, b""
    try:
        protocol.handle_message(message)
    except Exception:  # SystemExit (the exit notification) goes through
        log.exception("could not handle message %s", data.get("method"))
    return True, b""


def _swallowed_frame(body: bytes) -> bytes:
    """The start of the next frame inside a body whose length was too long."""
    text = body.decode("utf-8", "surrogateescape")
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        found = _CONTENT_LENGTH.search(body, 1)
        return body[found.start() :] if found else b""
    return text[end:].lstrip().encode("utf-8", "surrogateescape")


def request_problem(data: Any) -> str | None:
    """What makes a parsed body not a JSON-RPC message, if anything."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    response = "method" not in data
    if "id" in data and not _valid_id(data["id"]) and not (response and data["id"] is None):
        return f"id must be a string or an integer, not {json.dumps(data['id'])[:40]}"
    if "method" in data and not isinstance(data["method"], str):
        return "method must be a string"
    if "method" not in data and "result" not in data and "error" not in data:
        return "neither a request, a notification nor a response"
    return None


def _valid_id(value: Any) -> bool:
    # pygls's message ids are str | int; JSON-RPC's null id is for responses.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def reply_error(protocol: JsonRPCProtocol, code: int, message: str, msg_id: Any = None) -> None:
    protocol._send_data(
        {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
    )


class ClosingWriter:
    """stdout for pygls that goes quiet once the editor has closed it."""

    def __init__(self, stdout: BinaryIO, on_closed: Callable[[], None] | None = None):
        self._stdout = stdout
        self._on_closed = on_closed
        self.closed = False

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._stdout.close()

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._stdout.write(data)
            self._stdout.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self.closed = True
            log.warning("the editor closed the connection; no more output will be sent")
            if self._on_closed is not None:
                self._on_closed()
