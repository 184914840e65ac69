"""The real server over stdio: sync, inline completion, fallback, cancellation.

Exact completions come from the tiny FIM test model; long generations for
cancellation come from SmolLM2, which has no FIM training and runs on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
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
)

pytestmark = pytest.mark.slow


example = fill_case


async def inline(
    client: LanguageClient, uri: str, position: types.Position
) -> types.InlineCompletionList | list[types.InlineCompletionItem] | None:
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )


async def stats(client: LanguageClient) -> dict[str, object]:
    result = await client.protocol.send_request_async("dscoder/stats", {})
    return plain(result)


async def stats_when(
    client: LanguageClient, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while not condition(now := await stats(client)):
            await asyncio.sleep(0.01)
    return now


async def engine_started(client: LanguageClient, calls_before: object) -> None:
    """Wait until the server has handed a new request to the engine."""
    async with asyncio.timeout(60):
        while (await stats(client))["engineCalls"] == calls_before:
            await asyncio.sleep(0.01)


# SmolLM2 counts on from here for about a second (59 tokens, deterministic),
# so a cancel or a kill sent once the engine has started always lands mid-
# generation. (A body after `def main():` it ends in 6 tokens, which a loaded
# machine's cancel could lose the race to.)
LONG_RUNNING = (
    "def main():\n    numbers = [\n"
    + "".join(f"        {n},\n" for n in range(1, 5))
    + "        \n"
)
LONG_RUNNING_AT = types.Position(line=6, character=8)


async def test_initialize_advertises_features(start_server: StartServer, fill_model) -> None:
    client = await start_server("--model", str(fill_model))
    capabilities = client.initialize_result.capabilities  # type: ignore[attr-defined]
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is not None
    sync = capabilities.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental
    info = client.initialize_result.server_info  # type: ignore[attr-defined]
    assert info.name == "dscoder-lsp"


@pytest.mark.parametrize("kind", ["single-line", "multi-line", "mid-line"])
async def test_inline_completion_fills_the_hole_exactly(
    start_server: StartServer, fill_model, kind: str
) -> None:
    client = await start_server("--model", str(fill_model))
    case = example(kind)
    text = case["prefix"] + case["suffix"]
    uri = f"file:///work/{kind}.py"
    open_document(client, uri, text)
    position = position_of(text, len(case["prefix"]), encoding_of(client))

    result = await inline(client, uri, position)

    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [case["middle"].rstrip()]
    assert result.items[0].range == types.Range(start=position, end=position)


async def test_incremental_changes_are_applied(start_server: StartServer, fill_model) -> None:
    """Open a scrambled buffer, repair it with incremental edits around an emoji."""
    client = await start_server("--model", str(fill_model))
    case = example("single-line")
    encoding = encoding_of(client)
    good = "# 😀 漢字\n" + case["prefix"] + case["suffix"]
    broken = "# 😀 漢字\nJUNK" + case["prefix"] + case["suffix"]
    uri = "file:///work/edited.py"
    open_document(client, uri, broken)
    junk_start = position_of(broken, broken.index("JUNK"), encoding)
    junk_end = position_of(broken, broken.index("JUNK") + 4, encoding)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=junk_start, end=junk_end), text=""
                )
            ],
        )
    )
    cursor = len("# 😀 漢字\n") + len(case["prefix"])
    position = position_of(good, cursor, encoding)
    edited = await inline(client, uri, position)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    # The repaired buffer gets the answer the good text gets when opened whole.
    fresh_uri = "file:///work/fresh.py"
    open_document(client, fresh_uri, good)
    fresh = await inline(client, fresh_uri, position)
    assert isinstance(edited, types.InlineCompletionList)
    assert isinstance(fresh, types.InlineCompletionList)
    assert [item.insert_text for item in edited.items] == [item.insert_text for item in fresh.items]
    assert edited.items and edited.items[0].insert_text


async def test_completion_fallback_inserts_at_cursor(start_server: StartServer, fill_model) -> None:
    client = await start_server("--model", str(fill_model))
    case = example("single-line")
    text = case["prefix"] + case["suffix"]
    uri = "file:///work/fallback.py"
    open_document(client, uri, text)
    position = position_of(text, len(case["prefix"]), encoding_of(client))

    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position
        )
    )

    assert isinstance(result, types.CompletionList)
    [item] = result.items
    expected = case["middle"].rstrip()
    assert item.text_edit is not None
    assert item.text_edit.new_text == expected
    assert item.text_edit.range == types.Range(start=position, end=position)
    assert item.label == expected.strip().split("\n")[0]


async def test_dscoder_complete_reports_timing(start_server: StartServer, fill_model) -> None:
    client = await start_server("--model", str(fill_model))
    case = example("single-line")
    text = case["prefix"] + case["suffix"]
    position = position_of(text, len(case["prefix"]), encoding_of(client))
    result = await client.protocol.send_request_async(
        "dscoder/complete",
        {
            "textDocument": {"uri": "untitled:x"},
            "text": text,
            "languageId": "python",
            "position": {"line": position.line, "character": position.character},
        },
    )
    assert result.text == case["middle"].rstrip()
    assert result.timing.totalMs >= result.timing.engineMs > 0
    assert result.usage.finishReason in ("stop", "cut")
    # The tiny model's vocabulary says DeepSeek; SmolLM2 has no FIM tokens.
    assert result.template == ("deepseek" if "tiny" in fill_model.name else "plain")


async def test_cancel_request_stops_the_engine(start_server: StartServer, smollm2) -> None:
    max_tokens = 400
    client = await start_server("--model", str(smollm2), options={"maxTokensMultiline": max_tokens})
    uri = "file:///work/cancel.py"
    open_document(client, uri, LONG_RUNNING)
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=LONG_RUNNING_AT,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )
    before = await stats(client)

    msg_id = str(uuid.uuid4())
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )
    )
    await engine_started(client, before["engineCalls"])
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as raised:
        await pending
    assert raised.value.code == types.LSPErrorCodes.RequestCancelled

    # The engine winds down after the answer went out; wait for it to count.
    after = await stats_when(client, lambda now: now["cancelled"] > before["cancelled"])
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["requestsCancelled"] == before["requestsCancelled"] + 1
    generated = after["generatedTokens"] - before["generatedTokens"]
    assert 0 <= generated < max_tokens


async def test_newer_request_supersedes_older(start_server: StartServer, smollm2) -> None:
    client = await start_server("--model", str(smollm2), options={"maxTokensMultiline": 300})
    uri = "file:///work/supersede.py"
    open_document(client, uri, LONG_RUNNING)
    position = LONG_RUNNING_AT
    calls = (await stats(client))["engineCalls"]
    first = asyncio.ensure_future(inline(client, uri, position))
    await engine_started(client, calls)
    second = asyncio.ensure_future(inline(client, uri, position))

    with pytest.raises(JsonRpcException) as raised:
        await first
    assert raised.value.code == types.LSPErrorCodes.RequestCancelled
    result = await second
    assert isinstance(result, types.InlineCompletionList)
    counters = await stats(client)
    assert counters["superseded"] >= 1
    assert counters["requestsCancelled"] >= 1
