"""``--tcp``: one editor per connection, and nobody else.

Each connection gets a session of its own: a fresh ``DscoderServer`` with its
own documents, configuration and engine, so no connection can read another's
answers or re-point another's engine. Closing a connection (or its ``exit``
notification) ends that session only; the process stops on SIGINT or SIGTERM.

The gate, before any session exists:

- the first line must be an LSP header (``Content-Length:``/``Content-Type:``);
  anything else (``POST /``, ``GET /``: a web page's ``fetch``, a port scan)
  is closed at once, unread;
- with a token (``--token-file`` or ``DSCODER_TOKEN``), the first message must
  be ``initialize`` carrying it as ``initializationOptions.token``; it is
  compared in constant time and removed before the session sees the message.
  A wrong or missing token closes the connection;
- a non-loopback address needs ``--allow-remote`` and a token.

Why stdio stays the recommended mode: a pipe belongs to the editor that
started the server, so none of this is needed there (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import ipaddress
import json
import logging
import re
import signal
import socket
import sys
import threading
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import run_async
from pygls.protocol import lsp_method

from engines.credentials import remember_secret
from lsp.compose import create_server
from lsp.config import ConfigSources
from lsp.server import DscoderProtocol, DscoderServer

log = logging.getLogger(__name__)

TOKEN_ENV = "DSCODER_TOKEN"
STREAM_LIMIT = 2**26
"""Longest header line or message a connection may send (the stdio reader's limit)."""
FIRST_MESSAGE_LIMIT = 2**20
"""Largest ``initialize`` read before the token is checked."""
_LSP_HEADER = re.compile(rb"content-(?:length|type)[ \t]*:", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)", re.IGNORECASE)


class TcpSetupError(Exception):
    """The TCP server cannot start as asked (an unsafe bind, an unreadable token)."""


def tcp_token(token_file: str | None, environ: Mapping[str, str]) -> str | None:
    """The token from ``--token-file``, else ``$DSCODER_TOKEN``; None when neither is set."""
    if token_file:
        try:
            token = Path(token_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise TcpSetupError(
                f"cannot read --token-file {token_file}: {error.strerror}"
            ) from None
        if not token:
            raise TcpSetupError(f"--token-file {token_file} is empty")
        return token
    return environ.get(TOKEN_ENV, "").strip() or None


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def check_bind(host: str, allow_remote: bool, token: str | None) -> None:
    """Refuse a bind that would let other machines in without a token."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise TcpSetupError(
            f"refusing to serve on {host!r}, which other machines can reach: "
            "pass --allow-remote with a token (--token-file or DSCODER_TOKEN), "
            "or use --host 127.0.0.1 (see docs/security.md)"
        )
    if token is None:
        raise TcpSetupError(
            f"--allow-remote on {host!r} needs a token: --token-file FILE or DSCODER_TOKEN"
        )


# ----- one session per connection ---------------------------------------------------


class SessionProtocol(DscoderProtocol):
    """The protocol of a TCP session: ``exit`` ends this connection, not the process."""

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        if self._server._stop_event is not None:
            self._server._stop_event.set()
        if self.writer is not None:
            self.writer.close()


class SessionServer(DscoderServer):
    """A ``DscoderServer`` serving one TCP connection."""

    protocol_class = SessionProtocol


class _Replay:
    """A stream reader that first gives back the bytes the gate already read."""

    def __init__(self, head: bytes, reader: asyncio.StreamReader):
        self._head = head
        self._reader = reader

    async def readline(self) -> bytes:
        if self._head:
            end = self._head.find(b"\n")
            end = len(self._head) if end < 0 else end + 1
            line, self._head = self._head[:end], self._head[end:]
            if line.endswith(b"\n") or not line:
                return line
            return line + await self._reader.readline()
        try:
            return await self._reader.readline()
        except ValueError:  # a header line over the limit
            return b"X-Dscoder-Dropped: oversized header line\r\n"

    async def readexactly(self, n: int) -> bytes:
        head, self._head = self._head[:n], self._head[n:]
        if len(head) == n:
            return head
        try:
            return head + await self._reader.readexactly(n - len(head))
        except asyncio.IncompleteReadError as error:
            return head + error.partial


class _Refused(Exception):
    """The connection failed the gate; the message says why (for the log)."""


async def _read_first_message(
    first_line: bytes, reader: asyncio.StreamReader
) -> tuple[list[bytes], bytes]:
    headers = [first_line]
    while headers[-1].strip():
        if len(headers) > 16:
            raise _Refused("too many header lines")
        headers.append(await reader.readline())
        if not headers[-1]:
            raise _Refused("closed before the first message")
    length = next(
        (int(m.group(1)) for h in headers if (m := _CONTENT_LENGTH.match(h.strip()))), None
    )
    if length is None or length > FIRST_MESSAGE_LIMIT:
        raise _Refused("first message without a usable Content-Length")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise _Refused("closed inside the first message") from None
    return headers, body


def _authenticated(body: bytes, token: str) -> bytes:
    """The ``initialize`` body without its token; raises _Refused unless the token is right."""
    try:
        message = json.loads(body)
    except ValueError:
        raise _Refused("first message is not JSON") from None
    if not isinstance(message, dict) or message.get("method") != "initialize":
        raise _Refused("first message is not initialize")
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given = options.pop("token", None) if isinstance(options, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("utf-8"), token.encode("utf-8")
    ):
        raise _Refused("wrong or missing token")
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


class TcpServer:
    """Accepts connections, gates them, and runs one session for each."""

    def __init__(
        self, sources: ConfigSources, startup_problems: list[str], token: str | None = None
    ):
        self.sources = sources
        self.startup_problems = startup_problems
        self.token = token
        self.sessions: set[SessionServer] = set()
        self.refused = 0
        self._connections: set[asyncio.Task[Any]] = set()

    def new_session(self) -> SessionServer:
        # Each session owns its sources: one client's settings never reach another.
        session = create_server(
            copy.deepcopy(self.sources), list(self.startup_problems), SessionServer
        )
        assert isinstance(session, SessionServer)
        return session

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            head = await self._gate(reader)
        except _Refused as refusal:
            self.refused += 1
            log.warning("refused TCP connection from %s: %s", peer, refusal)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)
            return
        log.info("TCP session for %s", peer)
        session = self.new_session()
        self.sessions.add(session)
        try:
            await run_session(session, _Replay(head, reader), writer)
        finally:
            self.sessions.discard(session)
            if task is not None:
                self._connections.discard(task)
            log.info("TCP session for %s ended", peer)

    async def _gate(self, reader: asyncio.StreamReader) -> bytes:
        """What the gate read, once the connection has shown it speaks LSP (and the token)."""
        try:
            first = await reader.readline()
        except ValueError:
            raise _Refused("oversized first line") from None
        if not _LSP_HEADER.match(first):
            raise _Refused(f"not an LSP header: {first[:24]!r}")
        if self.token is None:
            return first
        try:
            _, body = await _read_first_message(first, reader)
        except ValueError:
            raise _Refused("oversized header line") from None
        body = _authenticated(body, self.token)
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    async def close(self) -> None:
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def run_session(
    session: DscoderServer, reader: _Replay, writer: asyncio.StreamWriter
) -> None:
    """Serve one connection until it closes or sends ``exit``; then release its engine."""
    session._stop_event = threading.Event()
    session.protocol.set_writer(writer)
    try:
        await run_async(
            stop_event=session._stop_event,
            reader=reader,
            protocol=session.protocol,
            logger=logging.getLogger("pygls.io_"),
            error_handler=session.report_server_error,
        )
    finally:
        session._stop_event.set()
        try:
            await session.service.close()
        except Exception:
            log.exception("closing a TCP session's engine failed")
        for task in list(session._tasks):
            task.cancel()
        if session._thread_pool is not None:
            session._thread_pool.shutdown(wait=False, cancel_futures=True)
        writer.close()
        with contextlib.suppress(OSError, RuntimeError):
            await writer.wait_closed()


async def _serve(
    host: str, port: int, sources: ConfigSources, problems: list[str], token: str | None
) -> None:
    server = TcpServer(sources, problems, token)
    listener = await asyncio.start_server(server.handle, host, port, limit=STREAM_LIMIT)
    for sock in listener.sockets:
        bound_host, bound_port = sock.getsockname()[:2]
        # Not the protocol stream (that is the socket): tests and scripts read the port here.
        sys.stderr.write(f"dscoder-lsp: listening on {bound_host}:{bound_port}\n")
    sys.stderr.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with listener:
        await stop.wait()
        listener.close()
        await server.close()
    log.info("TCP server stopped")


def serve_tcp(
    host: str,
    port: int,
    sources: ConfigSources,
    problems: list[str],
    token: str | None,
    allow_remote: bool,
) -> int:
    """Serve LSP on ``host:port`` until a signal; raises TcpSetupError for an unsafe bind."""
    check_bind(host, allow_remote, token)
    remember_secret(token)
    try:
        asyncio.run(_serve(host, port, sources, problems, token))
    except OSError as error:
        raise TcpSetupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    except KeyboardInterrupt:
        pass
    return 0
