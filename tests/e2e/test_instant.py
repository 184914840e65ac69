"""Answers that wait for nothing, over stdio: cache hits, typing through, the key after an accept.

The server's debounce is set long (2 s) so that any answer which waited it
shows in ``lastDebounceMs``; the cases here must report 0 and, for the cache,
no engine call.
"""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import fill_case
from tests.e2e.conftest import StartServer, encoding_of, open_document, plain, position_of

pytestmark = pytest.mark.slow

LONG_DEBOUNCE = {
    "scheduler": {"debounceMs": 2000, "debounceMaxMs": 2000, "adaptiveDebounce": False}
}


async def ask(
    client: LanguageClient, uri: str, text: str, offset: int, invoked: bool = False
) -> list[str]:
    trigger = types.InlineCompletionTriggerKind
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, offset, encoding_of(client)),
            context=types.InlineCompletionContext(
                trigger_kind=trigger.Invoked if invoked else trigger.Automatic
            ),
        )
    )
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    return [str(item.insert_text) for item in items]


async def stats(client: LanguageClient) -> dict[str, Any]:
    result: dict[str, Any] = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    return result


def insert(
    client: LanguageClient, uri: str, text: str, offset: int, typed: str, version: int
) -> str:
    """Send the edit typing ``typed`` at ``offset``; returns the new text."""
    position = position_of(text, offset, encoding_of(client))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=position, end=position), text=typed
                )
            ],
        )
    )
    return text[:offset] + typed + text[offset:]


async def test_cache_hits_and_typing_through_skip_the_debounce(
    start_server: StartServer, fill_model: Any
) -> None:
    client = await start_server("--model", str(fill_model), options=LONG_DEBOUNCE)
    case = fill_case("mid-line")
    text = case["prefix"] + case["suffix"]
    uri = "file:///work/instant.py"
    open_document(client, uri, text)
    cursor = len(case["prefix"])
    middle = case["middle"]

    assert await ask(client, uri, text, cursor, invoked=True) == [middle]  # no debounce: invoked
    calls = (await stats(client))["engineCalls"]

    assert await ask(client, uri, text, cursor) == [middle]  # the same cursor, automatic
    again = await stats(client)
    assert (again["cacheHits"], again["engineCalls"], again["lastDebounceMs"]) == (1, calls, 0)

    text = insert(client, uri, text, cursor, middle[:2], version=2)  # typing through it
    assert await ask(client, uri, text, cursor + 2) == [middle[2:]]
    through = await stats(client)
    assert (through["cacheHits"], through["engineCalls"], through["lastDebounceMs"]) == (
        2,
        calls,
        0,
    )


async def test_the_request_after_an_accept_skips_the_debounce(
    start_server: StartServer, fill_model: Any
) -> None:
    client = await start_server("--model", str(fill_model), options=LONG_DEBOUNCE)
    case = fill_case("mid-line")
    text = case["prefix"] + case["suffix"]
    uri = "file:///work/accepted.py"
    open_document(client, uri, text)
    cursor = len(case["prefix"])
    assert await ask(client, uri, text, cursor, invoked=True) == [case["middle"]]
    calls = (await stats(client))["engineCalls"]

    text = insert(client, uri, text, cursor, case["middle"], version=2)  # accepted whole
    await ask(client, uri, text, cursor + len(case["middle"]))
    after = await stats(client)
    assert after["engineCalls"] == calls + 1  # a fresh suggestion
    assert after["lastDebounceMs"] == 0
