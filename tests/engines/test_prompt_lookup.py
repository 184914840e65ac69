"""Prompt-lookup decoding (engines/llama_worker.py's ``PromptLookup``) on real models.

The greedy tokens must be the ones plain decoding gives. On the tiny model
(F32 weights) batched and single-token decodes agree, so whole completions
are compared. SmolLM2 is Q4_1: llama.cpp's batched kernels round differently
from its one-token path (logits differ by up to about 1), so its greedy
completions may part at a near-tie within a dozen tokens, as plain decoding's
already do between a cold and a warm KV cache; on SmolLM2 only a copied
argument list is compared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engines.base import GenerationRequest, GenerationUsage
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from engines.llama_worker import PromptLookup, _Model

pytestmark = pytest.mark.slow

COPY_PROMPTS = (
    "def connect(host, port, user, password, timeout, retries):\n"
    "    return Session(host, port, user, password, timeout, retries)\n\n\n"
    "def reconnect(host, port, user, password, timeout, retries):\n"
    "    return connect(",
    "def test_add():\n    calc = Calculator()\n    assert calc.add(2, 3) == 5\n\n\n"
    "def test_sub():\n    calc = Calculator()\n    assert calc.sub(5, 3) == 2\n\n\n"
    "def test_mul():\n",
    "CONFIG = {\n"
    "    'train': {'batch_size': 32, 'learning_rate': 0.001, 'epochs': 10},\n"
    "    'valid': {'batch_size': 32, 'learning_rate': 0.001, 'epochs': 10},\n"
    "    'test': {",
)
PLAIN_PROMPTS = ("def fibonacci(n):\n", "The quick brown fox")
FIM = "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>"


def fim_prompts() -> tuple[str, ...]:
    from tests.conftest import tiny_examples

    return tuple(FIM.format(**example) for example in tiny_examples())


def start(model: Path, speculative: str) -> LlamaCppEngine:
    return LlamaCppEngine(
        LlamaCppOptions(model_path=str(model), n_ctx=1024, speculative=speculative)
    )


@pytest.fixture
async def engines(request: pytest.FixtureRequest) -> AsyncIterator[tuple[LlamaCppEngine, ...]]:
    model: Path = request.getfixturevalue(request.param)
    pair = (start(model, "off"), start(model, "prompt-lookup"))
    for engine in pair:
        await engine.start()
    yield pair
    for engine in pair:
        await engine.close()


async def collect(
    engine: LlamaCppEngine, request: GenerationRequest
) -> tuple[list[str], GenerationUsage]:
    usage = GenerationUsage()
    pieces = [piece async for piece in engine.stream(request, usage)]
    return pieces, usage


def test_drafts_follow_the_latest_occurrence_of_the_longest_suffix() -> None:
    lookup = PromptLookup(draft_tokens=3, max_ngram=3, min_ngram=1)
    history = np.array([1, 2, 3, 9, 8, 2, 3, 7, 6, 5, 1, 2, 3], dtype=np.intc)
    # [1, 2, 3] occurred once, at the start; the shorter [2, 3] later too (7, 6, 5).
    assert lookup.drafts(history, 10) == [9, 8, 2]
    # [2, 3] occurred twice: the latest occurrence is the one followed.
    assert lookup.drafts(np.array([2, 3, 7, 2, 3, 6, 5, 2, 3], dtype=np.intc), 3) == [6, 5, 2]
    assert lookup.drafts(history, 2) == [9, 8]
    assert lookup.drafts(history, 0) == []
    assert lookup.drafts(np.array([4, 5, 6], dtype=np.intc), 3) == []  # nothing repeats
    # One-token matches are left out unless asked for.
    assert PromptLookup(min_ngram=2).drafts(np.array([4, 5, 4], dtype=np.intc), 3) == []
    assert lookup.drafts(np.array([4, 5, 4], dtype=np.intc), 3) == [5, 4]


@pytest.mark.parametrize("engines", ["tiny_model"], indirect=True)
async def test_tiny_model_greedy_text_is_the_same_with_drafts(
    engines: tuple[LlamaCppEngine, LlamaCppEngine],
) -> None:
    off, on = engines
    drafted = accepted = 0
    for prompt in COPY_PROMPTS + PLAIN_PROMPTS + fim_prompts():
        request = GenerationRequest(prompt, max_tokens=120)
        plain, plain_usage = await collect(off, request)
        looked_up, usage = await collect(on, request)
        assert looked_up == plain, prompt
        assert (usage.generated_tokens, usage.finish_reason) == (
            plain_usage.generated_tokens,
            plain_usage.finish_reason,
        )
        assert plain_usage.drafted_tokens == 0
        drafted += usage.drafted_tokens
        accepted += usage.accepted_tokens
    assert drafted > accepted > 0  # drafts were made, and some were wrong


@pytest.mark.parametrize("engines", ["tiny_model"], indirect=True)
async def test_the_kv_cache_holds_only_accepted_tokens(
    engines: tuple[LlamaCppEngine, LlamaCppEngine],
) -> None:
    off, on = engines
    # One whose completion tokenizes back to the same tokens (with the tiny
    # model, the CONFIG one re-splits 25 tokens from its end).
    prompt = COPY_PROMPTS[0]
    first, first_usage = await collect(on, GenerationRequest(prompt, max_tokens=60))
    assert first_usage.drafted_tokens > first_usage.accepted_tokens  # some were dropped
    # The next prompt goes on from the completion: its tokens are in the cache already.
    follow_up = GenerationRequest(prompt + "".join(first[:-1]), max_tokens=40)
    looked_up, usage = await collect(on, follow_up)
    assert usage.prompt_tokens < 5 < first_usage.generated_tokens
    assert usage.prompt_tokens_total > first_usage.prompt_tokens_total + 5
    plain, _ = await collect(off, follow_up)
    assert looked_up == plain


@pytest.mark.parametrize("engines", ["smollm2"], indirect=True)
async def test_max_tokens_and_stop_tokens_are_honoured(
    engines: tuple[LlamaCppEngine, LlamaCppEngine], smollm2: Path
) -> None:
    from llama_cpp import Llama

    off, on = engines
    prompt = COPY_PROMPTS[0]
    pieces, usage = await collect(on, GenerationRequest(prompt, max_tokens=5))
    assert usage.generated_tokens == 5 and usage.finish_reason == "length"
    assert usage.accepted_tokens > 0  # the five came from drafts, and no more were emitted
    assert pieces == (await collect(off, GenerationRequest(prompt, max_tokens=5)))[0]

    pieces, _ = await collect(on, GenerationRequest(prompt, max_tokens=12))
    vocab = Llama(model_path=str(smollm2), vocab_only=True, verbose=False)
    stop_at = pieces.index(" user")  # copied from the prompt: inside an accepted draft
    (stop_id,) = vocab.tokenize(pieces[stop_at].encode(), add_bos=False, special=True)
    request = GenerationRequest(prompt, max_tokens=12, stop_token_ids=(stop_id,))
    for engine in (on, off):
        stopped, usage = await collect(engine, request)
        assert stopped == pieces[:stop_at]
        assert usage.generated_tokens == stop_at and usage.finish_reason == "stop"


async def test_closing_the_stream_stops_the_drafting_model(smollm2: Path) -> None:
    engine = start(smollm2, "prompt-lookup")
    await engine.start()
    try:
        usage = GenerationUsage()
        stream = engine.stream(GenerationRequest(COPY_PROMPTS[1], max_tokens=300), usage)
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        assert usage.finish_reason == "cancelled" and usage.generated_tokens < 300
        pieces, after = await collect(engine, GenerationRequest(COPY_PROMPTS[1], max_tokens=4))
        assert after.finish_reason == "length" and pieces
    finally:
        await engine.close()


def generate_in_process(
    model: _Model, prompt: str, max_tokens: int, stop_after: int | None = None
) -> tuple[list[str], dict[str, Any]]:
    """The worker's decode loop in this process, cancelled once ``stop_after`` pieces are out."""
    pieces: list[str] = []
    request = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "top_p": 1.0}

    def cancelled() -> bool:
        return stop_after is not None and len(pieces) >= stop_after

    usage = model.generate(request, cancelled, lambda piece, _: pieces.append(piece))
    return pieces, usage


def test_cancellation_is_checked_before_every_token_inside_a_draft(tiny_model: Path) -> None:
    model = _Model()
    options = {"model_path": str(tiny_model), "n_ctx": 512, "n_batch": 512, "n_gpu_layers": 0}
    model.load({"options": {**options, "seed": 0, "speculative": "prompt-lookup"}})
    prompt = COPY_PROMPTS[2]
    whole, usage = generate_in_process(model, prompt, 60)
    assert usage["accepted"] > 0
    for stop_after in (1, 3, 7):
        pieces, usage = generate_in_process(model, prompt, 60, stop_after)
        assert usage["finish_reason"] == "cancelled"
        assert pieces == whole[:stop_after] and usage["generated"] == stop_after
    # What a cancelled request left in the KV cache is consistent: the next one matches.
    again, usage = generate_in_process(model, prompt, 60)
    assert again == whole and usage["prompt_tokens"] == 1
