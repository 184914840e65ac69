"""The in-process engine on a real GGUF: streaming, stopping, KV reuse, errors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engines.base import GenerationRequest, GenerationUsage, ModelLoadError
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from tests.support.streams import read_then_close

pytestmark = pytest.mark.slow

PROMPT = "def add(a, b):\n    return a + b\n\n\ndef main():\n    print("


@pytest.fixture
async def engine(smollm2: Path) -> AsyncIterator[LlamaCppEngine]:
    engine = LlamaCppEngine(
        LlamaCppOptions(model_path=str(smollm2), n_ctx=512),
        probe_tokens=frozenset({"<|im_start|>", "<fim_prefix>", "<｜fim▁begin｜>"}),
    )
    await engine.start()
    yield engine
    await engine.close()


async def collect(
    engine: LlamaCppEngine, request: GenerationRequest
) -> tuple[str, GenerationUsage]:
    usage = GenerationUsage()
    pieces = [piece async for piece in engine.stream(request, usage)]
    return "".join(pieces), usage


async def test_describes_the_model(engine: LlamaCppEngine) -> None:
    info = engine.info
    assert info is not None
    assert info.context_length == 512 and info.eos_token_ids
    assert info.special_tokens == frozenset({"<|im_start|>"})  # no FIM vocabulary
    assert "general.architecture" in info.metadata


async def test_streams_until_max_tokens(engine: LlamaCppEngine) -> None:
    text, usage = await collect(engine, GenerationRequest(prompt=PROMPT, max_tokens=8))
    assert text and usage.generated_tokens == 8 and usage.finish_reason == "length"
    assert usage.prompt_tokens_total > 10


async def test_greedy_is_deterministic(engine: LlamaCppEngine) -> None:
    request = GenerationRequest(prompt=PROMPT, max_tokens=12)
    first, _ = await collect(engine, request)
    second, _ = await collect(engine, request)
    assert first == second


async def test_closing_the_stream_stops_within_one_token(engine: LlamaCppEngine) -> None:
    usage = GenerationUsage()
    stream = engine.stream(GenerationRequest(prompt=PROMPT, max_tokens=200), usage)
    received = await read_then_close(stream, pieces=3)
    assert usage.finish_reason == "cancelled"
    assert usage.generated_tokens <= received + 1


async def test_cancelling_the_consumer_stops_the_model(engine: LlamaCppEngine) -> None:
    usage = GenerationUsage()
    first_piece = asyncio.Event()

    async def consume() -> None:
        async for _ in engine.stream(GenerationRequest(prompt=PROMPT, max_tokens=300), usage):
            first_piece.set()

    task = asyncio.create_task(consume())
    await first_piece.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert usage.finish_reason == "cancelled" and usage.generated_tokens < 300


async def test_shared_prompt_head_is_not_evaluated_again(engine: LlamaCppEngine) -> None:
    _, first = await collect(engine, GenerationRequest(prompt=PROMPT, max_tokens=2))
    _, second = await collect(engine, GenerationRequest(prompt=PROMPT + "'hi", max_tokens=2))
    assert first.prompt_tokens == first.prompt_tokens_total
    assert second.prompt_tokens < 5 < second.prompt_tokens_total


async def test_requests_are_serialised_on_one_worker(engine: LlamaCppEngine) -> None:
    results = await asyncio.gather(
        *(collect(engine, GenerationRequest(prompt=PROMPT, max_tokens=6)) for _ in range(3))
    )
    assert len({text for text, _ in results}) == 1


async def test_count_tokens(engine: LlamaCppEngine) -> None:
    assert 0 < await engine.count_tokens(PROMPT) < len(PROMPT)


async def test_missing_file(tmp_path: Path) -> None:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tmp_path / "x.gguf")))
    with pytest.raises(ModelLoadError, match="model file not found"):
        await engine.start()
    await engine.close()


async def test_corrupt_gguf(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.gguf"
    path.write_bytes(b"GGUF" + os.urandom(2048))
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(path)))
    with pytest.raises(ModelLoadError, match=str(path)):
        await engine.start()
    await engine.close()
