"""Acceptance signals and alternatives over stdio, as Copilot-speaking clients send them.

Each item carries ``dscoder.accepted`` with its id; the editor runs it on a
whole accept and notifies ``didShowCompletion`` and
``didPartiallyAcceptCompletion``. ``dscoder/stats`` counts the outcomes, and
the server writes them to SQLite under $XDG_STATE_HOME (a private one here).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import fill_case
from tests.e2e.conftest import StartServer, encoding_of, open_document, plain, position_of

pytestmark = pytest.mark.slow


async def stats(client: LanguageClient) -> dict[str, Any]:
    result: dict[str, Any] = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    return result


async def ask(
    client: LanguageClient, uri: str, position: types.Position, invoked: bool = False
) -> list[types.InlineCompletionItem]:
    kind = types.InlineCompletionTriggerKind
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position,
            context=types.InlineCompletionContext(
                trigger_kind=kind.Invoked if invoked else kind.Automatic
            ),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return result.items


def wire(client: LanguageClient, item: types.InlineCompletionItem) -> Any:
    """The item as the client echoes it back in a notification."""
    return client.protocol._converter.unstructure(item)


async def open_case(client: LanguageClient, kind: str, name: str) -> tuple[str, types.Position]:
    case = fill_case(kind)
    text = case["prefix"] + case["suffix"]
    uri = f"file:///work/{name}.py"
    open_document(client, uri, text)
    return uri, position_of(text, len(case["prefix"]), encoding_of(client))


async def settled(client: LanguageClient, key: str, value: int) -> dict[str, Any]:
    """Stats once ``key`` reached ``value`` (notifications are not answered)."""
    async with asyncio.timeout(30):
        while (now := await stats(client))[key] < value:
            await asyncio.sleep(0.01)
    return now


async def test_items_carry_the_accept_command_and_an_accept_is_counted(
    start_server: StartServer, fill_model: Path, private_state_home: Path
) -> None:
    client = await start_server("--model", str(fill_model))
    capabilities = client.initialize_result.capabilities  # type: ignore[attr-defined]
    assert "dscoder.accepted" in capabilities.execute_command_provider.commands
    uri, position = await open_case(client, "single-line", "accept")
    [item] = await ask(client, uri, position)
    assert item.command is not None and item.command.command == "dscoder.accepted"
    [item_id] = item.command.arguments or []
    assert isinstance(item_id, str)

    client.protocol.notify("textDocument/didShowCompletion", {"item": wire(client, item)})
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dscoder.accepted", arguments=[item_id])
    )
    counters = await settled(client, "accepted", 1)
    length = len(str(item.insert_text).encode("utf-16-le")) // 2
    assert counters["shown"] == 1
    assert counters["acceptedChars"] == length
    assert counters["acceptanceRate"] == 1.0
    assert counters["acceptanceByLanguage"]["python"]["accepted"] == 1
    assert counters["acceptanceByLines"]["single"]["accepted"] == 1

    # Written on the store's own thread, soon after the event.
    database = private_state_home / "dscoder-lsp" / "acceptance.sqlite3"
    async with asyncio.timeout(30):
        while len(rows := saved(database)) < 2:
            await asyncio.sleep(0.05)
    assert rows[-2:] == [("shown", "python", 0), ("accepted", "python", length)]


def saved(database: Path) -> list[tuple[str, str, int]]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute(
                "SELECT kind, language, accepted_chars FROM acceptance ORDER BY rowid"
            ).fetchall()
        except sqlite3.OperationalError:  # the table is being created
            return []


async def test_partial_accept_then_a_newer_suggestion(
    start_server: StartServer, fill_model: Path
) -> None:
    client = await start_server("--model", str(fill_model), "--set", "stats.persist=false")
    uri, position = await open_case(client, "multi-line", "partial")
    [item] = await ask(client, uri, position)
    client.protocol.notify("dscoder/didShowCompletion", {"item": wire(client, item)})
    client.protocol.notify(
        "textDocument/didPartiallyAcceptCompletion",
        {"item": wire(client, item), "acceptedLength": 3},
    )
    client.protocol.notify(
        "textDocument/didPartiallyAcceptCompletion",
        {"item": wire(client, item), "acceptedLength": "bad"},  # ignored, server goes on
    )
    assert (await settled(client, "shown", 1))["partiallyAccepted"] == 0

    uri2, position2 = await open_case(client, "single-line", "next")
    [newer] = await ask(client, uri2, position2)
    [again] = await ask(client, uri, position)  # the same cursor, a new suggestion
    client.protocol.notify("dscoder/didShowCompletion", {"itemId": again.command.arguments[0]})
    counters = await settled(client, "partiallyAccepted", 1)
    assert counters["shown"] == 2
    assert counters["acceptedChars"] == 3
    assert counters["rejected"] == 0
    assert counters["acceptanceByLines"]["multi"]["partiallyAccepted"] == 1
    assert newer.command is not None

    # Shown, then replaced by another suggestion in the same document: rejected.
    [third] = await ask(client, uri, position)
    client.protocol.notify("dscoder/didShowCompletion", {"itemId": third.command.arguments[0]})
    counters = await settled(client, "rejected", 1)
    assert counters["shown"] == 3
    assert counters["acceptanceRate"] == 0.0


async def test_an_explicit_trigger_returns_distinct_alternatives(
    start_server: StartServer, fill_model: Path
) -> None:
    # The tiny model is sure of itself: only a hot sampler finds it a second answer.
    client = await start_server(
        "--model",
        str(fill_model),
        "--set",
        "alternativesTemperature=1.2",
        "--set",
        "stats.persist=false",
    )
    uri, position = await open_case(client, "multi-line", "alternatives")
    automatic = await ask(client, uri, position)
    invoked = await ask(client, uri, position, invoked=True)
    texts = [item.insert_text for item in invoked]
    assert len(automatic) == 1
    assert texts[0] == automatic[0].insert_text  # the usual answer comes first
    assert 2 <= len(texts) <= 3
    assert len({str(text).rstrip() for text in texts}) == len(texts)
    ids = [item.command.arguments[0] for item in invoked if item.command and item.command.arguments]
    assert len(set(ids)) == len(texts)

    single = await start_server("--model", str(fill_model), "--set", "alternatives=1")
    uri, position = await open_case(single, "multi-line", "one")
    assert len(await ask(single, uri, position, invoked=True)) == 1
