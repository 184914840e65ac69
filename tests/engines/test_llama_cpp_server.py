"""The llama-server preset against llama.cpp's real C++ server (``/infill``).

The binary is built by tools/build_llama_server.sh from the llama.cpp sources
vendored in the llama-cpp-python sdist; these tests skip with that reason
when it has not been built (it takes a long time on small machines).
"""

from __future__ import annotations

from typing import Any

import pytest

from completion.prompt import get_template, probe_token_strings
from engines.base import GenerationRequest, GenerationUsage
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS
from tests.conftest import TINY_GGUF, tiny_examples
from tests.support.fixtures import llama_cpp_server  # noqa: F401
from tests.support.servers import TINY_NAME, ServerProcess

pytestmark = pytest.mark.slow

DEEPSEEK = get_template("deepseek")


def infill_request(case: dict[str, Any], max_tokens: int = 24) -> GenerationRequest:
    return GenerationRequest(
        prompt=DEEPSEEK.render(case["prefix"], case["suffix"]),
        max_tokens=max_tokens,
        stop=DEEPSEEK.stop,
        prefix=case["prefix"],
        suffix=case["suffix"],
    )


def engine_for(server: ServerProcess) -> RemoteEngine:
    return RemoteEngine(
        PRESETS["llama-server"], RemoteOptions(endpoint=server.url), probe_token_strings()
    )


async def test_infill_fills_every_example_hole(
    llama_cpp_server: ServerProcess,  # noqa: F811
) -> None:
    engine = engine_for(llama_cpp_server)
    try:
        info = await engine.start()
        assert info.name == TINY_NAME
        assert info.special_tokens is not None
        assert set(DEEPSEEK.probe_tokens) <= info.special_tokens
        for case in tiny_examples():
            usage = GenerationUsage()
            text = "".join([p async for p in engine.stream(infill_request(case), usage)])
            assert text.startswith(case["middle"].split("\n")[0]), (case["kind"], text)
            assert usage.finish_reason in ("stop", "length")
            assert usage.generated_tokens > 0
    finally:
        await engine.close()


async def test_tokenize_matches_the_gguf_vocabulary(
    llama_cpp_server: ServerProcess,  # noqa: F811
) -> None:
    engine = engine_for(llama_cpp_server)
    local = LlamaCppEngine(LlamaCppOptions(model_path=str(TINY_GGUF), n_ctx=512))
    text = "function subIndex(index, number) {\n  return index - number;\n}\n"
    try:
        await engine.start()
        await local.start()
        assert await engine.count_tokens(text) == await local.count_tokens(text)
    finally:
        await engine.close()
        await local.close()


async def test_closing_the_infill_stream_frees_the_server(
    llama_cpp_server: ServerProcess,  # noqa: F811
) -> None:
    engine = engine_for(llama_cpp_server)
    case = tiny_examples()[0]
    try:
        stream = engine.stream(infill_request(case, max_tokens=400))
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        # The single slot is free again: the next request is answered.
        text = "".join([p async for p in engine.stream(infill_request(case))])
        assert text.startswith(case["middle"].split("\n")[0])
    finally:
        await engine.close()
