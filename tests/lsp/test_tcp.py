"""``--tcp`` over real sockets: one session per connection, and a gate before it.

The server runs as a real process on a loopback port it picks itself (it
prints the port on stderr); clients are pygls language clients over TCP, and
raw sockets for what an attacker would send.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.conftest import ROOT, fill_case
from tests.e2e.conftest import plain, position_of

pytestmark = pytest.mark.slow

TIMEOUT = 60


class TcpServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path):
        self.process = process
        self.port = port
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _start(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> TcpServer:
    log = tmp_path / f"server-{len(list(tmp_path.glob('server-*')))}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "lsp.cli", "--tcp", "--port", "0", "-v", *flags],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=handle,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        start_new_session=True,
    )
    handle.close()
    # Wait for the line that names the port (not a sleep: the line or the exit).
    for _ in range(TIMEOUT * 100):
        for line in log.read_text(errors="replace").splitlines():
            if "dscoder-lsp: listening on " in line:
                return TcpServer(process, int(line.rsplit(":", 1)[1]), log)
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text(errors='replace')}")
        time.sleep(0.01)
    raise AssertionError("server never said where it listens")


def _stop(server: TcpServer) -> int:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            return server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
            raise AssertionError("the server did not stop on SIGTERM") from None
    return server.process.returncode


StartTcp = Callable[..., TcpServer]


@pytest.fixture
def start_tcp(tmp_path: Path) -> Iterator[StartTcp]:
    started: list[TcpServer] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> TcpServer:
        server = _start(tmp_path, *flags, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        _stop(server)


Connect = Callable[..., Awaitable[LanguageClient]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    clients: list[LanguageClient] = []

    async def open_client(
        server: TcpServer, options: dict[str, Any] | None = None
    ) -> LanguageClient:
        client = LanguageClient("tcp-test", "1")
        await client.start_tcp("127.0.0.1", server.port)
        clients.append(client)
        async with asyncio.timeout(TIMEOUT):
            await client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    initialization_options=options,
                    root_uri=Path.cwd().as_uri(),
                )
            )
        client.initialized(types.InitializedParams())
        return client

    yield open_client
    for client in clients:
        if not client.stopped:
            client._stop_event.set()
            for task in client._async_tasks:
                task.cancel()


def open_document(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


async def complete(client: LanguageClient, uri: str, text: str, offset: int) -> dict[str, Any]:
    position = position_of(text, offset, "utf-16")
    async with asyncio.timeout(TIMEOUT):
        result = await client.protocol.send_request_async(
            "dscoder/complete",
            {
                "textDocument": {"uri": uri},
                "position": {"line": position.line, "character": position.character},
            },
        )
    return dict(plain(result))


async def refused(port: int, data: bytes) -> bytes:
    """What the server sends back before closing a raw connection that sent ``data``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    async with asyncio.timeout(TIMEOUT):
        answer = await reader.read()  # returns at EOF: the server closed the connection
    writer.close()
    return answer


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


URI = "file:///work/shared_name.py"


async def test_two_clients_each_get_their_own_documents_and_answers(
    start_tcp: StartTcp, connect: Connect, fill_model: Path
) -> None:
    server = start_tcp("--model", str(fill_model))
    first, second = await connect(server), await connect(server)
    cases = [fill_case("single-line"), fill_case("multi-line")]
    texts = [case["prefix"] + case["suffix"] for case in cases]
    # The same URI with different text in each editor: neither sees the other's.
    open_document(first, URI, texts[0])
    open_document(second, URI, texts[1])

    answers = await asyncio.gather(
        complete(first, URI, texts[0], len(cases[0]["prefix"])),
        complete(second, URI, texts[1], len(cases[1]["prefix"])),
    )

    assert [answer["text"] for answer in answers] == [c["middle"].rstrip() for c in cases]


async def test_one_clients_settings_do_not_reach_another(
    start_tcp: StartTcp, connect: Connect, fill_model: Path
) -> None:
    server = start_tcp("--model", str(fill_model))
    first, second = await connect(server), await connect(server)
    case = fill_case("single-line")
    text = case["prefix"] + case["suffix"]
    for client in (first, second):
        open_document(client, URI, text)
    first.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"dscoder": {"enable": False}})
    )

    assert (await complete(first, URI, text, len(case["prefix"])))["text"] == ""
    assert (await complete(second, URI, text, len(case["prefix"])))["text"] == case[
        "middle"
    ].rstrip()


async def test_one_client_leaving_does_not_end_the_others_session(
    start_tcp: StartTcp, connect: Connect, fill_model: Path
) -> None:
    server = start_tcp("--model", str(fill_model))
    leaving, staying = await connect(server), await connect(server)
    case = fill_case("single-line")
    text = case["prefix"] + case["suffix"]
    open_document(staying, URI, text)

    async with asyncio.timeout(TIMEOUT):
        await leaving.shutdown_async(None)
    leaving.exit(None)
    # The server ends that session by closing its connection.
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(*leaving._async_tasks)

    assert (await complete(staying, URI, text, len(case["prefix"])))["text"] == case[
        "middle"
    ].rstrip()
    assert server.process.poll() is None
    late = await connect(server)
    open_document(late, URI, text)
    assert (await complete(late, URI, text, len(case["prefix"])))["text"] == case["middle"].rstrip()
    assert _stop(server) == 0


async def test_an_http_post_is_refused_and_changes_nothing(
    start_tcp: StartTcp, connect: Connect, fill_model: Path
) -> None:
    server = start_tcp("--model", str(fill_model))
    editor = await connect(server)
    case = fill_case("single-line")
    text = case["prefix"] + case["suffix"]
    open_document(editor, URI, text)
    # What a web page's fetch(no-cors) or a local process would send: a POST
    # whose Content-Length frames a message that re-points the engine.
    evil = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "workspace/didChangeConfiguration",
            "params": {
                "settings": {"engine": {"name": "openai", "endpoint": "http://10.9.9.9/v1"}}
            },
        }
    ).encode()
    post = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n" % len(evil) + evil
    )

    assert await refused(server.port, post) == b""
    assert await refused(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""

    answer = await complete(editor, URI, text, len(case["prefix"]))
    assert answer["text"] == case["middle"].rstrip()
    assert answer["engine"] == "llama-cpp"
    assert "refused TCP connection" in server.log_text()
    assert "10.9.9.9" not in server.log_text()


@pytest.mark.parametrize(
    "flags",
    [
        ("--host", "0.0.0.0"),
        ("--host", "0.0.0.0", "--allow-remote"),
    ],
)
def test_a_non_loopback_bind_needs_allow_remote_and_a_token(flags: tuple[str, ...]) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "DSCODER_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "lsp.cli", "--tcp", "--port", "0", *flags],
        cwd=ROOT,
        env={**environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert b"token" in result.stderr
    assert b"listening" not in result.stderr


def test_a_token_file_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lsp.cli",
            "--tcp",
            "--port",
            "0",
            "--token-file",
            str(tmp_path / "missing"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert b"cannot read --token-file" in result.stderr


async def test_a_wrong_token_is_refused_and_the_right_one_works(
    start_tcp: StartTcp, connect: Connect, fill_model: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("correct-horse-battery-staple\n")
    server = start_tcp("--model", str(fill_model), "--token-file", str(token_file))

    def initialize(options: Any) -> bytes:
        return frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"capabilities": {}, "initializationOptions": options},
            }
        )

    assert await refused(server.port, initialize({"token": "wrong"})) == b""
    assert await refused(server.port, initialize({})) == b""
    assert await refused(server.port, initialize(None)) == b""
    # Anything before initialize is refused too, unread.
    shutdown = frame({"jsonrpc": "2.0", "id": 1, "method": "shutdown"})
    assert await refused(server.port, shutdown) == b""

    editor = await connect(server, {"token": "correct-horse-battery-staple"})
    case = fill_case("single-line")
    text = case["prefix"] + case["suffix"]
    open_document(editor, URI, text)
    assert (await complete(editor, URI, text, len(case["prefix"])))["text"] == case[
        "middle"
    ].rstrip()
    log = server.log_text()
    assert log.count("wrong or missing token") == 3
    # The token is not a setting: the session never saw it.
    assert "unknown setting" not in log
    assert "correct-horse-battery-staple" not in log


async def test_the_token_can_come_from_the_environment(
    start_tcp: StartTcp, connect: Connect, fill_model: Path
) -> None:
    server = start_tcp("--model", str(fill_model), env={"DSCODER_TOKEN": "env-token-4242"})
    request = frame(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"capabilities": {}, "initializationOptions": {"token": "env-token-424"}},
        }
    )
    assert await refused(server.port, request) == b""
    editor = await connect(server, {"token": "env-token-4242"})
    result = await editor.protocol.send_request_async("dscoder/stats", {})
    assert plain(result)["engine"] == "llama-cpp"
