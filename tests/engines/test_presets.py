"""Presets for servers that cannot run here: verified by shape only.

The DeepSeek API, LM Studio, Xinference and Ollama are checked against
request/response exchanges written after the examples in their public API
docs, served by ``httpx.MockTransport``: what we send (path, fields, auth)
and how we read what they stream. Real-server tests for vllm, openai
(llama-cpp-python) and llama-server live in their own modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from completion.document import Document
from completion.pipeline import CompletionOptions, CompletionPipeline
from completion.stats import Stats
from engines.base import GenerationRequest, GenerationUsage
from engines.openai_compat import ModelNotFoundError, RemoteEngine, RemoteOptions
from engines.presets import PRESETS, Wire
from engines.registry import EngineSettings, create_engine

DOCS = Path(__file__).resolve().parents[2] / "docs" / "remote-engines.md"

PREFIX = "def fib(a):\n    "
SUFFIX = "\n    return fib(a-1) + fib(a-2)\n"
FIM = (
    f"<\uff5cfim\u2581begin\uff5c>{PREFIX}<\uff5cfim\u2581hole\uff5c>{SUFFIX}"
    "<\uff5cfim\u2581end\uff5c>"
)
STOP = ("<\uff5cend\u2581of\u2581sentence\uff5c>", "<|EOT|>", "\n\n\n")
REQUEST = GenerationRequest(
    prompt=FIM, max_tokens=32, stop=STOP, prefix=PREFIX, suffix=SUFFIX, seed=7
)

Handler = Callable[[httpx.Request], httpx.Response]


def sse(*payloads: dict[str, Any] | str) -> httpx.Response:
    body = "".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads)
    return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})


def ndjson(*payloads: dict[str, Any]) -> httpx.Response:
    body = "".join(json.dumps(p) + "\n" for p in payloads)
    return httpx.Response(
        200, content=body.encode(), headers={"content-type": "application/x-ndjson"}
    )


class Recorder:
    """A MockTransport handler that records requests and answers by path."""

    def __init__(self, routes: dict[str, Handler | httpx.Response]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get(request.url.path)
        if route is None:
            return httpx.Response(404, json={"error": {"message": "no route"}})
        return route(request) if callable(route) else route

    def body(self, path: str) -> dict[str, Any]:
        request = next(r for r in self.requests if r.url.path == path)
        value: dict[str, Any] = json.loads(request.content)
        return value


async def run(
    name: str, recorder: Recorder, **settings: Any
) -> tuple[RemoteEngine, str, GenerationUsage]:
    engine = create_engine(EngineSettings(name=name, **settings))
    assert isinstance(engine, RemoteEngine)
    engine._transport = httpx.MockTransport(recorder)
    usage = GenerationUsage()
    try:
        await engine.start()
        text = "".join([piece async for piece in engine.stream(REQUEST, usage)])
    finally:
        await engine.close()
    return engine, text, usage


def openai_chunk(text: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1718345013,
        "model": "m",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


async def test_deepseek_api_sends_prompt_plus_suffix_to_beta_completions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test")
    recorder = Recorder(
        {
            "/models": httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"},
                        {"id": "deepseek-reasoner", "object": "model", "owned_by": "deepseek"},
                    ],
                },
            ),
            "/beta/completions": sse(
                openai_chunk("if a <= 1:"),
                openai_chunk("\n        return a"),
                openai_chunk(
                    "",
                    "stop",
                    usage={"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
                ),
                "[DONE]",
            ),
        }
    )
    engine, text, usage = await run("deepseek-api", recorder)
    body = recorder.body("/beta/completions")
    assert body["model"] == "deepseek-chat"
    assert body["prompt"] == PREFIX and body["suffix"] == SUFFIX
    assert body["stream"] is True and body["max_tokens"] == 32
    assert body["stop"] == ["\n\n\n"]  # special tokens are never sent as text stops
    assert "stop_token_ids" not in body
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in recorder.requests)
    assert str(recorder.requests[-1].url).startswith("https://api.deepseek.com/beta/completions")
    assert text == "if a <= 1:\n        return a"
    assert (usage.finish_reason, usage.generated_tokens, usage.prompt_tokens_total) == (
        "stop",
        9,
        12,
    )
    assert engine.info is not None and engine.info.family == "deepseek"


@pytest.mark.parametrize(
    ("name", "port", "model"),
    [("lmstudio", 1234, "deepseek-coder-6.7b-base"), ("xinference", 9997, "deepseek-coder")],
)
async def test_openai_style_servers_get_our_fim_prompt(name: str, port: int, model: str) -> None:
    recorder = Recorder(
        {
            "/v1/models": httpx.Response(
                200, json={"object": "list", "data": [{"id": model, "object": "model"}]}
            ),
            "/v1/completions": sse(
                openai_chunk("if a < 2:"), openai_chunk(" return a", "length"), "[DONE]"
            ),
        }
    )
    engine, text, usage = await run(name, recorder)
    body = recorder.body("/v1/completions")
    assert recorder.requests[-1].url.port == port
    assert body["model"] == model  # autodetected from /v1/models
    assert body["prompt"] == FIM and "suffix" not in body
    assert len(body["stop"]) <= 4
    assert text == "if a < 2: return a"
    assert usage.finish_reason == "length" and usage.generated_tokens == 2
    assert engine.info is not None and engine.info.name == model


OLLAMA_TAGS = {
    "models": [
        {
            "name": "deepseek-coder:1.3b-base",
            "model": "deepseek-coder:1.3b-base",
            "modified_at": "2024-06-04T14:38:31.83753-07:00",
            "size": 776080839,
            "digest": "sha256:0",
            "details": {"family": "llama", "parameter_size": "1B"},
        }
    ]
}


def ollama_stream() -> httpx.Response:
    stamp = "2023-08-04T19:22:45.499127Z"
    return ndjson(
        {"model": "deepseek-coder:1.3b-base", "created_at": stamp, "response": "if", "done": False},
        {"model": "deepseek-coder:1.3b-base", "created_at": stamp, "response": " a", "done": False},
        {
            "model": "deepseek-coder:1.3b-base",
            "created_at": stamp,
            "response": "",
            "done": True,
            "done_reason": "stop",
            "total_duration": 10706818083,
            "prompt_eval_count": 26,
            "eval_count": 2,
        },
    )


async def test_ollama_generate_raw_with_our_fim_prompt() -> None:
    recorder = Recorder({"/api/tags": httpx.Response(200, json=OLLAMA_TAGS)})
    recorder.routes["/api/generate"] = lambda _: ollama_stream()
    _, text, usage = await run("ollama", recorder)
    body = recorder.body("/api/generate")
    assert body["model"] == "deepseek-coder:1.3b-base"
    assert body["raw"] is True and body["prompt"] == FIM and "suffix" not in body
    assert body["options"]["num_predict"] == 32 and body["options"]["seed"] == 7
    assert text == "if a"
    assert (usage.finish_reason, usage.generated_tokens, usage.prompt_tokens) == ("stop", 2, 26)


async def test_ollama_fim_sends_prefix_and_suffix() -> None:
    recorder = Recorder({"/api/tags": httpx.Response(200, json=OLLAMA_TAGS)})
    recorder.routes["/api/generate"] = lambda _: ollama_stream()
    await run("ollama-fim", recorder, model_name="deepseek-coder:1.3b-base")
    body = recorder.body("/api/generate")
    assert body["prompt"] == PREFIX and body["suffix"] == SUFFIX
    assert "raw" not in body


async def test_ollama_unknown_model_names_the_served_ones() -> None:
    recorder = Recorder({"/api/tags": httpx.Response(200, json=OLLAMA_TAGS)})
    with pytest.raises(ModelNotFoundError, match=r"'codellama' is not served.*1\.3b-base"):
        await run("ollama", recorder, model_name="codellama")


def test_llama_server_infill_body_has_native_fim_fields() -> None:
    engine = RemoteEngine(PRESETS["llama-server"], RemoteOptions(endpoint="http://h:8080"))
    body = engine.build_body(REQUEST)
    assert body["input_prefix"] == PREFIX and body["input_suffix"] == SUFFIX
    assert body["input_extra"] == [] and body["prompt"] == ""
    assert body["n_indent"] == 4 and body["n_predict"] == 32
    assert body["cache_prompt"] is True and body["t_max_predict_ms"] > 0


def test_every_preset_is_documented_with_its_start_command() -> None:
    docs = DOCS.read_text("utf-8")
    for preset in PRESETS.values():
        assert f"`{preset.name}`" in docs, preset.name
        assert preset.start_command and preset.verified
        assert preset.wire in Wire


async def test_a_server_without_a_tokenizer_does_not_calibrate_the_estimate() -> None:
    """LM Studio has no /tokenize: its counts are our own estimate, not evidence."""
    recorder = Recorder(
        {
            "/v1/models": httpx.Response(
                200, json={"object": "list", "data": [{"id": "m", "object": "model"}]}
            ),
        }
    )
    engine = create_engine(EngineSettings(name="lmstudio"))
    assert isinstance(engine, RemoteEngine) and not engine.counts_exactly
    engine._transport = httpx.MockTransport(recorder)
    await engine.start()
    try:
        pipeline = CompletionPipeline(engine, CompletionOptions(), Stats())
        text = "".join(f"漢字_{n} = value_{n}\n" for n in range(3000))
        document = Document("file:///cjk.py", text, "python")
        offset = text.index("漢字_1500")
        context = pipeline.make_context(document, offset)
        await pipeline.fit_prompt(document, offset, None, context, count_exactly=True)
        assert not pipeline.counter.calibrated
        assert pipeline.counter.bytes_per_token == 3.0
    finally:
        await engine.close()
