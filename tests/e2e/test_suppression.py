"""Automatic suggestions held back where they keep being rejected, over stdio.

After ``stats.suppress.minShown`` rejected suggestions in one context, an
automatic request there gets nothing and no engine call; an explicit one
still runs, and ``dscoder/stats`` says what is held back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.test_acceptance import ask, open_case, settled, stats

pytestmark = pytest.mark.slow


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
    for shown in (1, 2):
        [item] = await ask(client, uri, position)
        assert item.command and item.command.arguments
        item_id = item.command.arguments[0]
        client.protocol.notify("textDocument/didShowCompletion", {"itemId": item_id})
        await settled(client, "shown", shown)  # each new one rejects the one before
    assert (await stats(client))["rejected"] == 1
    calls = (await stats(client))["engineCalls"]

    assert not await ask(client, uri, position)
    held = await stats(client)
    assert held["engineCalls"] == calls
    assert held["suppression"]["heldBack"] == 1
    contexts = held["suppression"]["contexts"]
    assert [c["language"] for c in contexts if c["holding"]] == ["python"]

    assert len(await ask(client, uri, position, invoked=True)) >= 1  # explicit: never held
