"""The supervised llama.cpp worker: real processes, real signals, no mocks.

Kills wait on an event (the first streamed token, a ready worker), never on
the model being slow.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engines.base import (
    EngineCrashedError,
    EngineHealth,
    GenerationRequest,
    GenerationUsage,
    ModelLoadError,
)
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from engines.llama_worker import describe_exit, flash_attention_kwargs
from tests.support.processes import wait_for_exit

pytestmark = pytest.mark.slow

# SmolLM2 continues this for hundreds of tokens (a long run of example calls).
LONG_PROMPT = "def add(a, b):\n    return a + b\n\n\ndef main():\n    "


class Supervised:
    """An engine plus the health reports it makes, as a queue to wait on."""

    def __init__(self, engine: LlamaCppEngine):
        self.engine = engine
        self.health: asyncio.Queue[EngineHealth] = asyncio.Queue()
        engine.health_listener = self.health.put_nowait
        engine.restart_delays = (0.05,)

    async def next_health(self) -> EngineHealth:
        return await asyncio.wait_for(self.health.get(), 60.0)

    def pid(self) -> int:
        pid = self.engine.worker_pid
        assert pid is not None
        return pid


@pytest.fixture
async def smol(smollm2: Path) -> AsyncIterator[Supervised]:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(smollm2), n_ctx=1024))
    await engine.start()
    yield Supervised(engine)
    await engine.close()


def test_flash_attention_setting() -> None:
    assert flash_attention_kwargs("on", "deepseek2") == {"flash_attn": True}
    assert flash_attention_kwargs("off", "llama") == {"flash_attn": False}
    assert flash_attention_kwargs("auto", "deepseek2") == {"flash_attn": False}
    assert flash_attention_kwargs("auto", "llama") == {}


def test_exit_descriptions() -> None:
    assert describe_exit(-signal.SIGSEGV) == "killed by signal SIGSEGV"
    assert describe_exit(3) == "exited with code 3"


@pytest.mark.parametrize(("setting", "expected"), [("on", 1), ("off", 0), ("auto", 0)])
async def test_flash_attention_reaches_the_context_params(
    any_model: Path, setting: str, expected: int
) -> None:
    engine = LlamaCppEngine(
        LlamaCppOptions(model_path=str(any_model), n_ctx=256, flash_attention=setting)
    )
    try:
        await engine.start()
        # llama.cpp's enum: -1 auto, 0 disabled, 1 enabled (read back from the context).
        assert engine.context_params["flash_attn_type"] == expected
        assert engine.context_params["n_ctx"] == 256
    finally:
        await engine.close()


def test_the_engine_never_imports_llama_cpp_in_its_own_process(any_model: Path) -> None:
    # A fresh interpreter: other tests in this one may import llama_cpp themselves.
    script = (
        "import asyncio, os, sys\n"
        "from engines.base import GenerationRequest\n"
        "from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions\n"
        "async def main():\n"
        "    engine = LlamaCppEngine(LlamaCppOptions(model_path=sys.argv[1], n_ctx=256))\n"
        "    await engine.start()\n"
        "    request = GenerationRequest('x = ', max_tokens=2)\n"
        "    [piece async for piece in engine.stream(request)]\n"
        "    assert engine.worker_pid not in (None, os.getpid())\n"
        "    await engine.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in "
        "('llama_cpp', 'numpy')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(any_model)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL])
async def test_a_worker_killed_mid_generation_answers_and_restarts(
    smol: Supervised, signum: int
) -> None:
    usage = GenerationUsage()
    stream = smol.engine.stream(GenerationRequest(prompt=LONG_PROMPT, max_tokens=400), usage)
    await anext(stream)  # the worker is generating now
    os.kill(smol.pid(), signum)
    killed = time.monotonic()
    with pytest.raises(EngineCrashedError) as raised:
        async for _ in stream:
            pass
    assert time.monotonic() - killed < 5.0  # seen at once from the pipe, not after a wait
    assert usage.finish_reason == "error"

    crash = await smol.next_health()
    name = signal.Signals(signum).name
    assert crash.state == "restarting" and name in crash.message
    assert "crashed" in crash.message and "restarting" in crash.message
    assert "SmolLM2" in crash.message and "dscoder-lsp doctor" in crash.message
    assert str(raised.value) == crash.message
    # While it restarts, requests fail at once instead of waiting.
    ready = await smol.next_health()
    assert ready.state == "ready" and "restarted" in ready.message

    text = "".join(
        [piece async for piece in smol.engine.stream(GenerationRequest("x = 1 +", max_tokens=4))]
    )
    assert text
    assert await smol.engine.count_tokens(LONG_PROMPT) > 5


async def test_requests_fail_fast_while_the_worker_restarts(smol: Supervised) -> None:
    smol.engine.restart_delays = (30.0,)  # it stays down for the whole test
    os.kill(smol.pid(), signal.SIGKILL)
    crash = await smol.next_health()
    assert crash.state == "restarting"
    with pytest.raises(EngineCrashedError, match="SIGKILL"):
        async for _ in smol.engine.stream(GenerationRequest("x = ", max_tokens=2)):
            pass
    with pytest.raises(EngineCrashedError):
        await smol.engine.count_tokens("x")


async def test_a_crash_loop_ends_in_failed(any_model: Path) -> None:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(any_model), n_ctx=256))
    await engine.start()
    supervised = Supervised(engine)
    try:
        states = []
        for _ in range(3):
            pid = supervised.pid()
            os.kill(pid, signal.SIGSEGV)
            assert wait_for_exit(pid, 5.0)
            crash = await supervised.next_health()
            states.append(crash.state)
            if crash.state == "restarting":
                assert (await supervised.next_health()).state == "ready"
        assert states == ["restarting", "restarting", "failed"]
        assert "3 times" in crash.message and "dscoder-lsp doctor" in crash.message
        assert engine.worker_pid is None  # no fourth worker
        with pytest.raises(EngineCrashedError, match="failed"):
            async for _ in engine.stream(GenerationRequest("x = ", max_tokens=2)):
                pass
    finally:
        await engine.close()


async def test_a_worker_that_dies_while_loading_is_a_load_failure(any_model: Path) -> None:
    # A batch size llama.cpp cannot honour faults natively while the context is made.
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(any_model), n_ctx=256, n_batch=-1))
    health: list[EngineHealth] = []
    engine.health_listener = health.append
    try:
        with pytest.raises(ModelLoadError) as raised:
            await engine.start()
    finally:
        await engine.close()
    message = str(raised.value)
    assert "crashed while loading" in message and str(any_model) in message
    assert "signal" in message and health == []


async def test_closing_the_engine_ends_the_worker(any_model: Path) -> None:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(any_model), n_ctx=256))
    await engine.start()
    pid = engine.worker_pid
    assert pid is not None
    await engine.close()
    assert wait_for_exit(pid, 5.0)
