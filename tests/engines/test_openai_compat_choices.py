"""Several samples in one request (``n``), against real servers.

vLLM honours ``n``: one POST streams every choice, each piece tagged with
its ``index``. llama_cpp.server ignores it and answers choice 0 alone; the
engine learns that from the answer and stops offering several samples.
Requests are counted by the engine's own HTTP transport.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from completion.prompt import get_template, probe_token_strings
from engines.base import GenerationRequest, GenerationUsage, SamplesSeveral
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS
from tests.conftest import tiny_examples
from tests.engines.test_openai_compat import MODELS, chunk, mock_engine, sse
from tests.support.fixtures import llama_cpp_python, vllm  # noqa: F401
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

DEEPSEEK = get_template("deepseek")


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport, counting the generation requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.generations = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/completions"):
            self.generations += 1
        return await super().handle_async_request(request)


def sampled_request() -> GenerationRequest:
    case = next(c for c in tiny_examples() if c["kind"] == "multi-line")
    return GenerationRequest(
        prompt=DEEPSEEK.render(case["prefix"], case["suffix"]),
        max_tokens=16,
        temperature=2.0,
        seed=1,
        stop=DEEPSEEK.stop,
    )


async def choices_of(engine: RemoteEngine, n: int) -> tuple[dict[int, str], GenerationUsage]:
    usage = GenerationUsage()
    texts: dict[int, str] = {}
    async for index, piece in engine.stream_choices(sampled_request(), n, usage):
        texts[index] = texts.get(index, "") + piece
    return texts, usage


def counted_engine(preset: str, server: ServerProcess) -> tuple[RemoteEngine, CountingTransport]:
    transport = CountingTransport()
    options = RemoteOptions(endpoint=server.url + "/v1")
    return RemoteEngine(PRESETS[preset], options, probe_token_strings(), transport), transport


async def test_vllm_streams_n_choices_from_one_request(vllm: ServerProcess) -> None:  # noqa: F811
    engine, transport = counted_engine("vllm", vllm)
    try:
        await engine.start()
        assert isinstance(engine, SamplesSeveral) and engine.samples_several
        texts, usage = await choices_of(engine, 3)
        again, _ = await choices_of(engine, 3)
    finally:
        await engine.close()
    assert transport.generations == 2  # one request per call, whatever n
    assert usage.choices == 3 and set(texts) <= {0, 1, 2}
    assert len(set(texts.values())) >= 2  # a hot sampler: the choices differ
    assert usage.finish_reason in ("stop", "length")
    assert usage.generated_tokens >= sum(1 for text in texts.values() if text)
    assert len(again) >= 2 and engine.samples_several


async def test_llama_cpp_server_ignores_n_and_the_engine_learns_it(
    llama_cpp_python: ServerProcess,  # noqa: F811
) -> None:
    engine, transport = counted_engine("openai", llama_cpp_python)
    try:
        await engine.start()
        assert engine.samples_several  # not assumed either way before an answer
        texts, usage = await choices_of(engine, 3)
        assert not engine.samples_several
        # Asked again, it sends no n at all: a plain single generation.
        single, _ = await choices_of(engine, 3)
    finally:
        await engine.close()
    assert set(texts) == {0} and usage.choices == 1 and texts[0]
    assert set(single) == {0}
    assert transport.generations == 2


def test_the_body_carries_n_only_when_several_are_asked() -> None:
    engine = RemoteEngine(PRESETS["vllm"], RemoteOptions(endpoint="http://127.0.0.1:9/v1"))
    request = replace(sampled_request(), seed=None)
    assert "n" not in engine.build_body(request)
    assert engine.build_body(request, 3)["n"] == 3
    infill = RemoteEngine(PRESETS["llama-server"], RemoteOptions(endpoint="http://127.0.0.1:9"))
    assert not infill.samples_several  # /infill has no n: sequential from the start


async def test_a_server_that_rejects_n_gets_the_request_once_more_without_it() -> None:
    """Older llama-server builds answer 400 to n > 1 (no such server here: a fake)."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        body = json.loads(request.content)
        bodies.append(body)
        if body.get("n", 1) > 1:
            return httpx.Response(400, json={"error": {"message": "Only one choice is allowed"}})
        stream = sse(chunk("x", "stop"), "[DONE]")
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    engine = mock_engine(handler)
    try:
        texts, usage = await choices_of(engine, 3)
        assert not engine.samples_several
        await choices_of(engine, 3)
    finally:
        await engine.close()
    assert texts == {0: "x"} and usage.finish_reason == "stop"
    assert [body.get("n") for body in bodies] == [3, None, None]  # rejected once, then never sent
