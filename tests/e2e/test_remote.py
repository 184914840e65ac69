"""The real LSP server over stdio with a remote engine: vLLM on the CPU.

Streaming completion end to end: editor -> dscoder-lsp -> vLLM -> back,
with the FIM template detected from the server's tokenizer (/tokenize).
"""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.conftest import tiny_examples
from tests.e2e.conftest import StartServer, encoding_of, open_document, position_of
from tests.e2e.test_server import inline
from tests.support.fixtures import vllm  # noqa: F401
from tests.support.servers import TINY_NAME, ServerProcess

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
