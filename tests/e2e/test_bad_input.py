"""Bad input gets a clear error, and the server keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.conftest import fill_case
from tests.e2e.conftest import (
    StartServer,
    encoding_of,
    open_document,
    plain,
    position_of,
    server_command,
)

pytestmark = pytest.mark.slow


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )


async def still_serves(client: LanguageClient) -> None:
    """A follow-up request on a good document is answered."""
    uri = "file:///work/healthy.py"
    open_document(client, uri, "x = 1\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 0))
    assert isinstance(result, types.InlineCompletionList)


async def shown_messages(client: LanguageClient, count: int = 1) -> list[str]:
    async with asyncio.timeout(60):
        while len(client.messages) < count:
            await asyncio.sleep(0.02)
    return [message.message for message in client.messages]


async def test_unopened_document(tiny_client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException, match="document is not open"):
        await tiny_client.text_document_inline_completion_async(
            inline_params("file:///work/never-opened.py", 0, 0)
        )
    await still_serves(tiny_client)


async def test_position_past_end_of_line(tiny_client: LanguageClient) -> None:
    uri = "file:///work/short.py"
    open_document(tiny_client, uri, "x = 1\ny = 2\n")
    with pytest.raises(JsonRpcException, match="past the end of the line"):
        await tiny_client.text_document_inline_completion_async(inline_params(uri, 0, 40))
    await still_serves(tiny_client)


async def test_position_past_end_of_file(tiny_client: LanguageClient) -> None:
    uri = "file:///work/short2.py"
    open_document(tiny_client, uri, "x = 1\n")
    with pytest.raises(JsonRpcException, match="past the end of the document"):
        await tiny_client.text_document_inline_completion_async(inline_params(uri, 9, 0))
    await still_serves(tiny_client)


async def test_position_inside_a_multi_unit_character(tiny_client: LanguageClient) -> None:
    # 😀 is two UTF-16 units (VS Code) and four UTF-8 bytes (Neovim): 1 is inside it.
    uri = "file:///work/emoji.py"
    open_document(tiny_client, uri, "😀 = 1\n")
    with pytest.raises(JsonRpcException, match="falls inside"):
        await tiny_client.text_document_inline_completion_async(inline_params(uri, 0, 1))
    await still_serves(tiny_client)


async def test_binary_document_gets_no_completion(tiny_client: LanguageClient) -> None:
    uri = "file:///work/blob.bin"
    open_document(tiny_client, uri, "GGUF\x00\x01\x02 data", language_id="plaintext")
    result = await tiny_client.text_document_inline_completion_async(inline_params(uri, 0, 4))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
    await still_serves(tiny_client)


async def test_five_megabyte_document(tiny_client: LanguageClient) -> None:
    line = "value_{0} = compute({0}) + offset  # filler to make a big file\n"
    text = "".join(line.format(n) for n in range(80_000))
    assert len(text) > 5_000_000
    uri = "file:///work/huge.py"
    open_document(tiny_client, uri, text)
    result = await tiny_client.text_document_inline_completion_async(inline_params(uri, 40_000, 0))
    assert isinstance(result, types.InlineCompletionList)
    await still_serves(tiny_client)


async def test_malformed_config_is_reported_and_defaults_used(
    start_server: StartServer, any_model: Path
) -> None:
    client = await start_server(
        "--model", str(any_model), options={"maxTokens": "lots", "nonsense": 1}
    )
    messages = await shown_messages(client)
    assert any("maxTokens" in m and "nonsense" in m for m in messages), messages
    await still_serves(client)


async def test_missing_model_is_reported_once(start_server: StartServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    client = await start_server("--model", str(missing))
    messages = await shown_messages(client)
    assert any(str(missing) in m and "not found" in m for m in messages), messages
    uri = "file:///work/a.py"
    open_document(client, uri, "x = 1\n")
    for _ in range(3):
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 0))
        assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
    assert len([m for m in client.messages if "not found" in m.message]) == 1
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    assert stats["modelState"] == "failed" and "not found" in stats["lastError"]


async def test_corrupt_gguf_is_reported(start_server: StartServer, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + os.urandom(4096))
    client = await start_server("--model", str(corrupt))
    messages = await shown_messages(client)
    assert any(str(corrupt) in m for m in messages), messages
    await still_serves(client)


async def test_config_change_at_runtime(tiny_client: LanguageClient) -> None:
    tiny_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"dscoder": {"enable": False}})
    )
    uri = "file:///work/disabled.py"
    open_document(tiny_client, uri, "def f():\n    \n")
    result = await tiny_client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
    stats = plain(await tiny_client.protocol.send_request_async("dscoder/stats", {}))
    assert stats["skipped"] >= 1


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _messages(stream: bytes) -> list[dict[str, object]]:
    """Split an LSP byte stream into its JSON bodies."""
    messages = []
    while stream:
        header, _, rest = stream.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", header).group(1))  # type: ignore[union-attr]
        messages.append(json.loads(rest[:length]))
        stream = rest[length:]
    return messages


def test_malformed_messages_do_not_kill_the_server(any_model: Path) -> None:
    """Garbage JSON and a bad request body, then a valid initialize gets its answer."""
    initialize = (
        b'{"jsonrpc":"2.0","id":7,"method":"initialize",'
        b'"params":{"processId":null,"rootUri":null,"capabilities":{}}}'
    )
    stdin = (
        _frame(b"{this is not json")
        + _frame(
            b'{"jsonrpc":"2.0","id":1,"method":"textDocument/inlineCompletion",'
            b'"params":{"position":"nowhere"}}'
        )
        + _frame(initialize)
        + _frame(b'{"jsonrpc":"2.0","id":8,"method":"dscoder/stats"}')
    )
    process = subprocess.run(
        server_command("--model", str(any_model)),
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert b'"id":7' in process.stdout.replace(b" ", b"")
    assert b'"capabilities"' in process.stdout
    # The bad request got an error response rather than silence.
    assert b'"id":1' in process.stdout.replace(b" ", b"")
    # A request without params (legal JSON-RPC) is answered with a result.
    stats = next(answer for answer in _messages(process.stdout) if answer.get("id") == 8)
    assert "requests" in stats["result"], stats
    assert sys.executable  # the server ran under this interpreter


def test_stdin_and_stdout_on_one_socket(any_model: Path) -> None:
    """As under socat or inetd: answers are whole even though both ends share a socket."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        process = subprocess.Popen(
            server_command("--model", str(any_model)),
            stdin=theirs,
            stdout=theirs,
            stderr=subprocess.PIPE,
        )
        # Same open file as the server's stdin and stdout: their blocking flag.
        probe = os.dup(theirs.fileno())
        theirs.close()
        try:
            ours.sendall(
                _frame(
                    b'{"jsonrpc":"2.0","id":7,"method":"initialize",'
                    b'"params":{"processId":null,"rootUri":null,"capabilities":{}}}'
                )
                + _frame(b'{"jsonrpc":"2.0","id":8,"method":"dscoder/stats"}')
            )
            ours.settimeout(60)
            received = b""
            while b'"id": 8' not in received and b'"id":8' not in received:
                chunk = ours.recv(65536)
                if not chunk:
                    break
                received += chunk
            answers = {answer.get("id"): answer for answer in _messages(received)}
            assert "capabilities" in answers[7]["result"]  # type: ignore[operator]
            assert "requests" in answers[8]["result"]  # type: ignore[operator]
            # Made non-blocking for reading, the shared socket could cut writes short.
            assert os.get_blocking(probe)
        finally:
            os.close(probe)
            process.kill()
            process.wait(timeout=30)
            assert process.stderr is not None
            process.stderr.close()


@pytest.mark.parametrize("stdin_kind", ["pipe", "file", "truncated pipe"])
def test_messages_are_read_from_a_pipe_a_file_or_a_cut_stream(
    any_model: Path, tmp_path: Path, stdin_kind: str
) -> None:
    """stdin is read on the event loop when it is a pipe and by pygls otherwise."""
    stdin = _frame(
        b'{"jsonrpc":"2.0","id":7,"method":"initialize",'
        b'"params":{"processId":null,"rootUri":null,"capabilities":{}}}'
    ) + _frame(b'{"jsonrpc":"2.0","id":8,"method":"dscoder/stats"}')
    if stdin_kind == "truncated pipe":  # the client dies in the middle of a message
        stdin += b'Content-Length: 500\r\n\r\n{"jsonrpc":"2.0","id":9,'
    command = server_command("--model", str(any_model))
    if stdin_kind == "file":
        path = tmp_path / "messages"
        path.write_bytes(stdin)
        with path.open("rb") as source:
            process = subprocess.run(
                command, stdin=source, capture_output=True, timeout=60, check=False
            )
    else:
        process = subprocess.run(command, input=stdin, capture_output=True, timeout=60, check=False)
    answers = {answer.get("id"): answer for answer in _messages(process.stdout)}
    assert "capabilities" in answers[7]["result"]  # type: ignore[operator]
    assert "requests" in answers[8]["result"]  # type: ignore[operator]
    assert process.returncode == 0, process.stderr.decode()[-2000:]
    if stdin_kind != "truncated pipe":  # the cut message is logged as a protocol error
        assert b"Traceback" not in process.stderr, process.stderr.decode()[-2000:]


# ----- the bad-input table (issue 14) ------------------------------------------
#
# One row per case: what is sent, what the answer must be, then the checks
# every row shares: the server is still alive, and the next normal completion
# is exactly the tiny model's answer, inserted at the cursor (the range is
# empty: nothing the user typed is replaced).

HEALTHY = fill_case("single-line")


def _healthy_text() -> tuple[str, types.Position]:
    text = HEALTHY["prefix"] + HEALTHY["suffix"]
    return text, position_of(text, len(HEALTHY["prefix"]), "utf-16")


async def next_completion_works(client: LanguageClient, uri: str, encoding: str) -> None:
    text = HEALTHY["prefix"] + HEALTHY["suffix"]
    open_document(client, uri, text)
    position = position_of(text, len(HEALTHY["prefix"]), encoding)
    result = await client.text_document_inline_completion_async(
        inline_params(uri, position.line, position.character)
    )
    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [HEALTHY["middle"].rstrip()]
    assert result.items[0].range == types.Range(start=position, end=position)
    # Closed again, so it never becomes another check's cross-file context.
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


class RawServer:
    """The real server over a pipe, for input no LSP client library would send."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, model: Path, stderr: Path) -> RawServer:
        with stderr.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *server_command("--model", str(model)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
            )
        return cls(process)

    def send(self, data: bytes | dict[str, Any]) -> None:
        assert self.process.stdin is not None
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.process.stdin.write(body if isinstance(data, bytes) else _frame(body))

    def request(self, msg_id: int, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def answer(self, msg_id: int) -> dict[str, Any]:
        """Read messages until the answer to ``msg_id``; all are kept in ``seen``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(60):
            while True:
                length = 0
                while (line := await self.process.stdout.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                assert line, "the server closed its output"
                message = json.loads(await self.process.stdout.readexactly(length))
                self.seen.append(message)
                if message.get("id") == msg_id and "method" not in message:
                    return message

    def errors(self, code: int) -> list[dict[str, Any]]:
        return [m for m in self.seen if "error" in m and m["error"]["code"] == code]

    async def initialize(self, msg_id: int = 1) -> dict[str, Any]:
        self.request(msg_id, "initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        answer = await self.answer(msg_id)
        self.notify("initialized", {})
        return answer

    async def complete_healthy(self, msg_id: int) -> None:
        text, position = _healthy_text()
        uri = f"file:///work/healthy-{msg_id}.py"
        item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})
        self.request(
            msg_id,
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": position.line, "character": position.character},
                "context": {"triggerKind": 1},
            },
        )
        items = (await self.answer(msg_id))["result"]["items"]
        assert [item["insertText"] for item in items] == [HEALTHY["middle"].rstrip()]
        spot = {"line": position.line, "character": position.character}
        assert items[0]["range"] == {"start": spot, "end": spot}

    async def finish(self, msg_id: int = 99, shutdown: bool = True) -> int:
        if shutdown:
            self.request(msg_id, "shutdown")
            assert "error" not in await self.answer(msg_id)
        self.notify("exit")
        assert self.process.stdin is not None
        self.process.stdin.close()
        async with asyncio.timeout(60):
            return await self.process.wait()


STATS_REQUEST = b'{"jsonrpc":"2.0","id":5,"method":"dscoder/stats","params":{}}'

FRAMING_CASES = {
    # name: (bytes sent, error code answered with id null, or None: frame dropped)
    "Content-Length: abc": (b"Content-Length: abc\r\n\r\n" + STATS_REQUEST, None),
    "negative Content-Length": (b"Content-Length: -61\r\n\r\n" + STATS_REQUEST, None),
    "no Content-Length": (b"Content-Type: application/json\r\n\r\n" + STATS_REQUEST, None),
    "length too short": (
        b"Content-Length: %d\r\n\r\n" % (len(STATS_REQUEST) - 9) + STATS_REQUEST,
        -32700,
    ),
    "length too long": (
        b"Content-Length: %d\r\n\r\n" % (len(STATS_REQUEST) + 20) + STATS_REQUEST,
        -32700,
    ),
    "malformed JSON": (_frame(b'{"jsonrpc": "2.0", "id": 5, "method": '), -32700),
    "not an object": (_frame(b"[1, 2, 3]"), -32600),
    "nested 100,000 levels deep": (_frame(b"[" * 100_000 + b"]" * 100_000), -32700),
    "request id {}": (_frame(b'{"jsonrpc":"2.0","id":{},"method":"dscoder/stats"}'), -32600),
}


@pytest.mark.parametrize("case", list(FRAMING_CASES))
async def test_bad_frames(case: str, fill_model: Path, tmp_path: Path) -> None:
    sent, code = FRAMING_CASES[case]
    server = await RawServer.start(fill_model, tmp_path / "stderr")
    await server.initialize()
    server.send(sent)
    await server.complete_healthy(2)
    if code is None:  # dropped, with one log line; its request never ran
        assert not any(m.get("id") == 5 for m in server.seen)
        log = (tmp_path / "stderr").read_text()
        assert len([line for line in log.splitlines() if "lsp.framing" in line]) == 1, log
    else:
        errors = server.errors(code)
        assert len(errors) == 1 and errors[0]["id"] is None, server.seen
    assert await server.finish() == 0


async def test_shutdown_before_initialize(fill_model: Path, tmp_path: Path) -> None:
    server = await RawServer.start(fill_model, tmp_path / "stderr")
    server.request(1, "shutdown")
    assert (await server.answer(1))["error"]["code"] == -32002
    assert "capabilities" in (await server.initialize(2))["result"]
    await server.complete_healthy(3)
    assert await server.finish() == 0


async def test_request_before_initialize(fill_model: Path, tmp_path: Path) -> None:
    server = await RawServer.start(fill_model, tmp_path / "stderr")
    server.request(1, "dscoder/stats", {})
    assert (await server.answer(1))["error"]["code"] == -32002
    await server.initialize(2)
    await server.complete_healthy(3)
    assert await server.finish() == 0


async def test_requests_after_shutdown(fill_model: Path, tmp_path: Path) -> None:
    server = await RawServer.start(fill_model, tmp_path / "stderr")
    await server.initialize()
    await server.complete_healthy(2)
    server.request(3, "shutdown")
    assert "error" not in await server.answer(3)
    server.request(4, "dscoder/stats", {})
    assert (await server.answer(4))["error"]["code"] == -32600
    assert await server.finish(shutdown=False) == 0


async def test_exit_without_shutdown_exits_1(fill_model: Path, tmp_path: Path) -> None:
    server = await RawServer.start(fill_model, tmp_path / "stderr")
    await server.initialize()
    await server.complete_healthy(2)
    assert await server.finish(shutdown=False) == 1


CONFIG_CASES = {
    # name: (initializationOptions, the key the one message names, or None: no message)
    "temperature NaN": ({"temperature": math.nan}, "temperature"),
    "topP infinite": ({"topP": math.inf}, "topP"),
    "topP negative": ({"topP": -0.5}, "topP"),
    "unknown template": ({"template": "nonsense"}, "deepseek"),
    "unknown engine": ({"engine": {"name": "gpt-7"}}, "engine.name"),
    "maxTokens over half the window": ({"maxTokens": 3000}, "maxTokens"),
    "maxTokens 2048 on a small model": ({"maxTokens": 2048}, None),
    "maxDocumentBytes -1": ({"maxDocumentBytes": -1}, "maxDocumentBytes"),
    "threads negative": ({"engine": {"threads": -2}}, "engine.threads"),
    "prefixShare 2": ({"context": {"prefixShare": 2}}, "context.prefixShare"),
    "cacheEntries negative": ({"scheduler": {"cacheEntries": -1}}, "cacheEntries"),
    "cancelledGraceMs negative": ({"scheduler": {"cancelledGraceMs": -1}}, "cancelledGraceMs"),
    "connectTimeout negative": ({"engine": {"connectTimeout": -1}}, "connectTimeout"),
    "debounceMs 1e7": ({"scheduler": {"debounceMs": 1e7}}, "debounceMs"),
    "flashAttention maybe": ({"engine": {"flashAttention": "maybe"}}, "flashAttention"),
    "other tools' sections only": ({"python": {"analysis": {}}, "editor": {"tabSize": 4}}, None),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
async def test_bad_config_values(start_server: StartServer, fill_model: Path, case: str) -> None:
    options, named = CONFIG_CASES[case]
    client = await start_server("--model", str(fill_model), options=options)
    await next_completion_works(client, "file:///work/config.py", encoding_of(client))
    popups = [m.message for m in client.messages if "configuration" in m.message]
    if named is None:
        assert popups == []
    else:
        assert len(popups) == 1 and named in popups[0], popups
        # The same value again is not reported again.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"dscoder": options})
        )
        await next_completion_works(client, "file:///work/config-again.py", encoding_of(client))
        assert len([m for m in client.messages if "configuration" in m.message]) == 1
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    assert stats["errors"] == 0


async def test_lone_surrogate_is_replaced_and_counted_as_skipped(
    start_server: StartServer, fill_model: Path
) -> None:
    # One file's context: the broken file, in the ring of recent views, would
    # otherwise lead the tiny model's next answer elsewhere.
    one_file = {"context": {"crossFile": {"enabled": False}}}
    client = await start_server("--model", str(fill_model), options=one_file)
    uri = "file:///work/surrogate.py"
    open_document(client, uri, "# broken \ud800 here\nx = 1\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 2, 0))
    assert isinstance(result, types.InlineCompletionList)
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    assert stats["errors"] == 0 and stats["skipped"] >= 1
    await next_completion_works(client, "file:///work/after-surrogate.py", encoding_of(client))


async def test_thirty_megabyte_document_is_text_only(
    start_server: StartServer, fill_model: Path
) -> None:
    client = await start_server("--model", str(fill_model))
    line = "value_{0} = compute({0}) + offset  # filler to make a very big file\n"
    text = "".join(line.format(n) for n in range(450_000))
    assert len(text) > 30_000_000
    uri = "file:///work/thirty.py"
    open_document(client, uri, text)
    for version in (2, 3):
        where = types.Position(line=1000 * version, character=0)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=where, end=where), text="x"
                    )
                ],
            )
        )
    result = await client.text_document_inline_completion_async(inline_params(uri, 5, 0))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
    await next_completion_works(client, "file:///work/small.py", encoding_of(client))
    said = [m.message for m in client.log_messages if "maxDocumentBytes" in m.message]
    assert len(said) == 1 and uri in said[0], said


async def test_max_document_bytes_counts_utf8_bytes(
    start_server: StartServer, fill_model: Path
) -> None:
    client = await start_server("--model", str(fill_model), options={"maxDocumentBytes": 1000})
    uri = "file:///work/accents.py"
    open_document(client, uri, "s = '" + "é" * 600 + "'\n")  # 606 characters, 1206 bytes
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 0))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    assert stats["skipped"] >= 1
    await next_completion_works(client, "file:///work/ascii.py", encoding_of(client))


async def test_crlf_document_gets_crlf_completion(
    start_server: StartServer, fill_model: Path
) -> None:
    client = await start_server("--model", str(fill_model))
    case = fill_case("multi-line")
    prefix, suffix = case["prefix"].replace("\n", "\r\n"), case["suffix"].replace("\n", "\r\n")
    uri = "file:///work/crlf.py"
    open_document(client, uri, prefix + suffix)
    position = position_of(prefix + suffix, len(prefix), encoding_of(client))
    result = await client.text_document_inline_completion_async(
        inline_params(uri, position.line, position.character)
    )
    assert isinstance(result, types.InlineCompletionList)
    expected = case["middle"].rstrip()
    assert "\n" in expected
    assert [item.insert_text for item in result.items] == [expected.replace("\n", "\r\n")]


class _LoginPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><head><title>Sign in</title></head></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_remote_listing_that_is_html(start_server: StartServer) -> None:
    http = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{http.server_address[1]}/v1"
        client = await start_server(
            "--engine", "openai", "--endpoint", endpoint, "--model-name", "m"
        )
        messages = await shown_messages(client)
        failure = [m for m in messages if "answered HTML, not JSON" in m]
        assert len(failure) == 1 and "engine.endpoint" in failure[0] and endpoint in failure[0]
        uri = "file:///work/remote.py"
        open_document(client, uri, "x = 1\n")
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 0))
        assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
        stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
        assert stats["modelState"] == "failed" and "HTML" in stats["lastError"]
    finally:
        http.shutdown()
        http.server_close()


def test_config_command_prints_json_and_fails_on_problems(fill_model: Path) -> None:
    command = [sys.executable, "-m", "lsp.cli", "config", "--set", "temperature=NaN"]
    process = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert process.returncode == 1
    printed = json.loads(process.stdout, parse_constant=lambda name: pytest.fail(name))
    assert printed["model"]["path"] and printed["temperature"] == 0.0
    assert b"temperature" in process.stderr


def test_output_closed_by_the_editor_is_logged_once(fill_model: Path, tmp_path: Path) -> None:
    """The editor quit: no traceback per unsent answer, one line, and the server ends."""
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as log_file:
        process = subprocess.Popen(
            server_command("--model", str(fill_model)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(
        _frame(
            b'{"jsonrpc":"2.0","id":1,"method":"initialize",'
            b'"params":{"processId":null,"rootUri":null,"capabilities":{}}}'
        )
    )
    process.stdin.flush()
    header = process.stdout.readline()
    assert header.startswith(b"Content-Length")
    process.stdout.close()  # the editor is gone
    try:
        for msg_id in range(2, 29):
            body = b'{"jsonrpc":"2.0","id":%d,"method":"dscoder/stats","params":{}}' % msg_id
            process.stdin.write(_frame(body))
            process.stdin.flush()
    except BrokenPipeError:
        pass  # the server stopped reading once its output was gone
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    assert process.wait(timeout=60) == 0
    log = stderr.read_text()
    assert log.count("closed the connection") == 1, log
    assert "BrokenPipeError" not in log and "Traceback" not in log, log


def test_cli_complete_against_an_html_listing_prints_one_line(tmp_path: Path) -> None:
    http = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    try:
        endpoint = f"http://127.0.0.1:{http.server_address[1]}/v1"
        command = [sys.executable, "-m", "lsp.cli", "complete", f"{source}:2:1"]
        command += ["--engine", "openai", "--endpoint", endpoint, "--model-name", "m"]
        process = subprocess.run(command, capture_output=True, timeout=60, check=False)
    finally:
        http.shutdown()
        http.server_close()
    assert process.returncode == 1
    lines = process.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "answered HTML, not JSON" in lines[0], lines
