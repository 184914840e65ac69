"""The real LSP server over stdio with a remote engine: vLLM on the CPU.

Streaming completion end to end: editor -> dscoder-lsp -> vLLM -> back,
with the FIM template detected from the server's tokenizer (/tokenize).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from tests.conftest import tiny_examples
from tests.e2e.conftest import StartServer, encoding_of, open_document, plain, position_of
from tests.e2e.test_server import inline
from tests.support.fixtures import vllm  # noqa: F401
from tests.support.servers import (
    TINY_NAME,
    ServerProcess,
    llama_cpp_python_server,
    llama_cpp_server_available,
)

pytestmark = pytest.mark.slow


def remote_flags(server: ServerProcess) -> list[str]:
    return ["--engine", "vllm", "--endpoint", server.url + "/v1"]


@pytest.mark.parametrize("kind", ["single-line", "multi-line"])
async def test_inline_completion_streams_from_vllm(
    start_server: StartServer,
    vllm: ServerProcess,  # noqa: F811
    kind: str,
) -> None:
    client = await start_server(*remote_flags(vllm))
    case = next(c for c in tiny_examples() if c["kind"] == kind and c["language"] == "python")
    text = case["prefix"] + case["suffix"]
    uri = f"file:///work/remote_{kind.replace('-', '_')}.py"
    open_document(client, uri, text)
    position = position_of(text, len(case["prefix"]), encoding_of(client))

    result = await inline(client, uri, position)

    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [case["middle"].rstrip()]


async def test_dscoder_complete_reports_the_remote_model(
    start_server: StartServer,
    vllm: ServerProcess,  # noqa: F811
) -> None:
    client = await start_server(*remote_flags(vllm), "--model-name", TINY_NAME)
    case = tiny_examples()[0]
    text = case["prefix"] + case["suffix"]
    position = position_of(text, len(case["prefix"]), encoding_of(client))
    result = await client.protocol.send_request_async(
        "dscoder/complete",
        {
            "textDocument": {"uri": "untitled:remote"},
            "text": text,
            "languageId": case["languageId"],
            "position": {"line": position.line, "character": position.character},
        },
    )
    assert result.text == case["middle"].rstrip()
    assert result.model == TINY_NAME
    assert result.template == "deepseek"
    assert result.usage.finishReason in ("stop", "cut")


async def test_a_server_that_is_down_is_reported_once_and_used_once_it_is_up(
    start_server: StartServer, tmp_path: Path
) -> None:
    if not llama_cpp_server_available():
        pytest.skip("llama-cpp-python's server extra is not installed")
    server = llama_cpp_python_server(tmp_path)  # a free port, nothing listening yet
    client = await start_server(
        "--engine", "llama-cpp-server", "--endpoint", server.url + "/v1", "--model-name", TINY_NAME
    )

    async def model_state() -> str:
        stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
        return str(stats["modelState"])

    async with asyncio.timeout(60):
        while await model_state() != "failed":
            await asyncio.sleep(0.1)
    await asyncio.sleep(4)  # the background rebuild fails again (after 1 s, then 2 s)
    popups = [m.message for m in client.messages]
    assert len(popups) == 1 and str(server.port) in popups[0], popups

    server.start()
    try:
        async with asyncio.timeout(60):  # the next rebuild (backoff 5 s, then 10 s) connects
            while await model_state() != "ready":
                await asyncio.sleep(0.2)
        case = next(c for c in tiny_examples() if c["language"] == "python")
        text = case["prefix"] + case["suffix"]
        uri = "file:///work/recovered.py"
        open_document(client, uri, text)
        position = position_of(text, len(case["prefix"]), encoding_of(client))
        result = await inline(client, uri, position)
        assert isinstance(result, types.InlineCompletionList)
        assert [item.insert_text for item in result.items] == [case["middle"].rstrip()]
        assert len(client.messages) == 1
    finally:
        server.stop()
