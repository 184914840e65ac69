"""Bad input gets a clear error, and the server keeps serving."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.e2e.conftest import StartServer, open_document, plain, server_command

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
