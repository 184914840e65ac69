"""The real server when its llama.cpp worker dies: real signals, no mocks.

The worker is found as the server's child process. Kills wait on events (the
engine has the request, the engine is ready), never on the model being slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from engines.llama_worker import FAULT_ENV
from tests.e2e.conftest import StartServer, open_document, plain, server_command
from tests.e2e.test_server import (
    LONG_RUNNING,
    LONG_RUNNING_AT,
    engine_started,
    inline,
    stats,
    stats_when,
)
from tests.support.processes import children_of, wait_for_exit

pytestmark = pytest.mark.slow


def worker_of(client: LanguageClient) -> int:
    server = client._server
    assert server is not None
    workers = children_of(server.pid)
    assert len(workers) == 1, workers
    return workers[0]


def mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


async def ready(client: LanguageClient) -> dict[str, Any]:
    return await stats_when(client, lambda now: now["modelState"] == "ready")


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL])
async def test_a_worker_killed_mid_generation_is_reported_once_and_restarted(
    start_server: StartServer, smollm2: Path, signum: int
) -> None:
    client = await start_server("--model", str(smollm2), options={"maxTokensMultiline": 400})
    before = await ready(client)
    worker = worker_of(client)
    uri = "file:///work/crash.py"
    open_document(client, uri, LONG_RUNNING)

    pending = asyncio.ensure_future(inline(client, uri, LONG_RUNNING_AT))
    await engine_started(client, before["engineCalls"])
    status = asyncio.ensure_future(client.wait_for_notification("dscoder/status"))
    os.kill(worker, signum)
    killed = time.monotonic()
    result = await pending
    assert time.monotonic() - killed < 5.0  # seen at once from the pipe, not after a wait
    assert isinstance(result, types.InlineCompletionList) and not result.items

    crash: Any = plain(await status)
    name = signal.Signals(signum).name
    assert crash["state"] == "restarting" and name in crash["message"]
    assert "crashed" in crash["message"] and "SmolLM2" in crash["message"]
    after = await ready(client)
    assert after["modelState"] == "ready"
    assert worker_of(client) != worker

    text = "def add(a, b):\n    return\n\n\nprint(add(2, 3))\n"
    open_document(client, "file:///work/after.py", text)
    served = await inline(client, "file:///work/after.py", types.Position(line=1, character=10))
    assert isinstance(served, types.InlineCompletionList)
    assert served.items and "a + b" in str(served.items[0].insert_text)
    server = client._server
    assert server is not None
    libraries = mapped_files(server.pid)
    assert "libllama" not in libraries and "numpy" not in libraries  # all in the worker
    popups = [message.message for message in client.messages]
    assert len(popups) == 1 and name in popups[0] and "restart" in popups[0], popups
    assert (await stats(client))["modelState"] == "ready"


@pytest.mark.parametrize("how", ["SIGKILL", "stdin closed"])
async def test_no_orphan_worker_when_the_server_goes(any_model: Path, how: str) -> None:
    config = ClientServerConfig(server_command=server_command("--model", str(any_model)))
    client = await config.start()
    try:
        await client.initialize_session(
            types.InitializeParams(capabilities=types.ClientCapabilities())
        )
        await ready(client)
        worker = worker_of(client)
        server = client._server
        assert server is not None
        if how == "SIGKILL":
            server.kill()  # nothing in the server runs: only the kernel can end the worker
        else:
            assert server.stdin is not None
            server.stdin.close()
        # In a thread: the client's loop keeps reading what the server writes as it goes.
        gone = await asyncio.to_thread(wait_for_exit, worker, 10.0)
        assert gone, f"worker {worker} outlived the server"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10)


async def test_a_worker_that_crashes_while_loading_is_a_load_failure(
    start_server: StartServer, any_model: Path
) -> None:
    # A real SIGSEGV in the worker while it loads (engines/llama_worker.py's FAULT_ENV):
    # the settings that crash llama.cpp there are refused by validation.
    client = await start_server("--model", str(any_model), env={**os.environ, FAULT_ENV: "load"})
    failed = await stats_when(client, lambda now: now["modelState"] == "failed")
    assert "crashed while loading" in failed["modelMessage"]
    assert str(any_model) in failed["modelMessage"] and "SIGSEGV" in failed["modelMessage"]
    open_document(client, "file:///work/load.py", "x = 1\n")
    result = await inline(client, "file:///work/load.py", types.Position(line=1, character=0))
    assert isinstance(result, types.InlineCompletionList) and not result.items
    popups = [message.message for message in client.messages]
    assert len(popups) == 1 and "crashed while loading" in popups[0], popups


async def test_dscoder_complete_answers_a_crash_with_an_error(
    start_server: StartServer, smollm2: Path
) -> None:
    client = await start_server("--model", str(smollm2), options={"maxTokensMultiline": 400})
    before = await ready(client)
    worker = worker_of(client)
    request = {
        "text": LONG_RUNNING,
        "languageId": "python",
        "position": {"line": LONG_RUNNING_AT.line, "character": LONG_RUNNING_AT.character},
    }
    pending = asyncio.ensure_future(client.protocol.send_request_async("dscoder/complete", request))
    await engine_started(client, before["engineCalls"])
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    with pytest.raises(JsonRpcException) as raised:
        await pending
    assert time.monotonic() - killed < 5.0  # seen at once from the pipe, not after a wait
    assert raised.value.code == types.LSPErrorCodes.RequestFailed
    assert "SIGKILL" in raised.value.message and "crashed" in raised.value.message
    await ready(client)
    served: Any = plain(
        await client.protocol.send_request_async(
            "dscoder/complete",
            {"text": "def add(a, b):\n    return", "position": {"line": 1, "character": 10}},
        )
    )
    assert "a + b" in served["text"]
