"""``$/progress`` while the engine loads (lsp/progress.py), over stdio.

A client that declares ``window.workDoneProgress`` sees the server create a
token, then ``begin`` when loading starts and ``end`` once the engine is
ready or failed. A client without it gets none.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import (
    StartServer,
    accept_registrations,
    capabilities_for,
    server_command,
)


def declares_progress(client_name: str) -> bool:
    window = capabilities_for(client_name).window
    return bool(window is not None and window.work_done_progress)


async def settled(client: LanguageClient) -> str:
    """The model state once it is no longer loading (polled through dscoder/stats)."""
    for _ in range(1200):
        stats = await client.protocol.send_request_async("dscoder/stats", None)
        state = str(getattr(stats, "modelState", None) or stats["modelState"])
        if state not in ("idle", "loading", "restarting"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the engine never settled")


async def ended(client: LanguageClient) -> list[object]:
    """The progress values for the one token, once its ``end`` has arrived."""
    for _ in range(200):
        reports = list(client.progress_reports.values())
        if reports and isinstance(reports[0][-1], types.WorkDoneProgressEnd):
            return reports[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no progress end: {client.progress_reports}")


async def test_load_is_reported_as_progress(
    start_server: StartServer, any_model: Path, client_name: str
) -> None:
    client = await start_server("--model", str(any_model))
    assert await settled(client) == "ready"
    assert declares_progress(client_name)  # both recorded clients do
    values = await ended(client)
    assert len(client.progress_reports) == 1  # created once, by window/workDoneProgress/create
    begin, *_, end = values
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert begin.title == "dscoder"
    assert begin.message is not None and begin.message.startswith("loading")
    assert isinstance(end, types.WorkDoneProgressEnd)


async def test_failed_load_ends_the_progress(
    start_server: StartServer, tmp_path: Path, client_name: str
) -> None:
    client = await start_server("--model", str(tmp_path / "missing.gguf"))
    assert await settled(client) == "failed"
    begin, *_, end = await ended(client)
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert end.message


async def test_no_progress_without_the_client_capability(any_model: Path) -> None:
    # Not parametrised: both recorded clients declare window.workDoneProgress.
    config = ClientServerConfig(server_command=server_command("--model", str(any_model)))
    client = await config.start()
    accept_registrations(client)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), root_uri=Path.cwd().as_uri()
            )
        )
        assert await settled(client) == "ready"
        # The create request would have come when loading began, before ready.
        assert client.progress_reports == {}
    finally:
        await client.shutdown_session()
