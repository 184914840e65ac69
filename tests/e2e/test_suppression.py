"""Automatic suggestions held back where they keep being rejected, over stdio.

After ``stats.suppress.minShown`` rejected suggestions in one context, an
automatic request there gets nothing and no engine call; an explicit one
still runs, and ``dscoder/stats`` says what is held back. A restarted server
learns the same from the persisted outcomes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import StartServer
from tests.e2e.test_acceptance import ask, open_case, saved, settled, stats

pytestmark = pytest.mark.slow


async def show_twice(client: LanguageClient, uri: str, position: types.Position) -> None:
    """Two automatic suggestions shown; the second rejects the first."""
    for shown in (1, 2):
        [item] = await ask(client, uri, position)
        assert item.command and item.command.arguments
        item_id = item.command.arguments[0]
        client.protocol.notify("textDocument/didShowCompletion", {"itemId": item_id})
        await settled(client, "shown", shown)


async def test_a_context_that_rejects_everything_stops_costing_engine_calls(
    start_server: StartServer, fill_model: Path
) -> None:
    client = await start_server(
        "--model",
        str(fill_model),
        "--set",
        "stats.persist=false",
        "--set",
        "stats.suppress.minShown=2",
        "--set",
        "stats.suppress.probeEvery=1000",
        "--set",
        "scheduler.cache=false",
    )
    uri, position = await open_case(client, "single-line", "held")
    await show_twice(client, uri, position)
    assert (await stats(client))["rejected"] == 1
    calls = (await stats(client))["engineCalls"]

    assert not await ask(client, uri, position)
    held = await stats(client)
    assert held["engineCalls"] == calls
    assert held["suppression"]["heldBack"] == 1
    contexts = held["suppression"]["contexts"]
    assert [c["language"] for c in contexts if c["holding"]] == ["python"]

    assert len(await ask(client, uri, position, invoked=True)) >= 1  # explicit: never held


async def test_a_restarted_server_remembers_what_was_rejected(
    start_server: StartServer, fill_model: Path, private_state_home: Path
) -> None:
    held_early = ("--set", "stats.suppress.minShown=2", "--set", "stats.suppress.probeEvery=1000")
    first = await start_server(
        "--model", str(fill_model), *held_early, "--set", "scheduler.cache=false"
    )
    uri, position = await open_case(first, "single-line", "remembered")
    await show_twice(first, uri, position)
    database = private_state_home / "dscoder-lsp" / "acceptance.sqlite3"
    async with asyncio.timeout(30):  # written on the store's own thread
        while [kind for kind, _, _ in saved(database)].count("shown") < 2:
            await asyncio.sleep(0.05)

    second = await start_server("--model", str(fill_model), *held_early)
    async with asyncio.timeout(30):  # restored in the background after `initialized`
        while not (await stats(second))["suppression"]["contexts"]:
            await asyncio.sleep(0.05)
    [python] = (await stats(second))["suppression"]["contexts"]
    assert (python["language"], python["shown"], python["holding"]) == ("python", 2, True)
    uri, position = await open_case(second, "single-line", "remembered")
    assert not await ask(second, uri, position)
    assert (await stats(second))["engineCalls"] == 0
    assert len(await ask(second, uri, position, invoked=True)) >= 1
