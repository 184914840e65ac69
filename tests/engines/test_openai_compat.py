"""The remote engine's HTTP client: real llama-cpp-python server, plus injected faults.

The OpenAI-compatible path runs against ``python -m llama_cpp.server`` with
the tiny GGUF (started by the tests). Faults a real server cannot produce on
demand (a connection reset after the request was sent, an error event in the
middle of a stream) use ``httpx.MockTransport``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from completion.prompt import build_prompt, get_template, probe_token_strings
from engines.base import (
    EngineError,
    EngineUnavailableError,
    GenerationRequest,
    GenerationUsage,
)
from engines.openai_compat import (
    AuthenticationError,
    RemoteEngine,
    RemoteOptions,
    error_message,
    server_root,
)
from engines.overflow import keep_ratio, overflow_numbers, shrink_request
from engines.presets import PRESETS
from engines.registry import REMOTE_ENGINES, EngineSettings, create_engine
from tests.conftest import tiny_examples
from tests.support.fixtures import llama_cpp_python  # noqa: F401
from tests.support.servers import (
    TINY_NAME,
    ServerProcess,
    free_port,
    llama_cpp_python_server,
    llama_cpp_server_available,
)

DEEPSEEK = get_template("deepseek")


def fim_request(case: dict[str, Any], max_tokens: int = 24) -> GenerationRequest:
    return GenerationRequest(
        prompt=DEEPSEEK.render(case["prefix"], case["suffix"]),
        max_tokens=max_tokens,
        stop=DEEPSEEK.stop,
        prefix=case["prefix"],
        suffix=case["suffix"],
    )


async def collect(engine: RemoteEngine, request: GenerationRequest) -> tuple[str, GenerationUsage]:
    usage = GenerationUsage()
    return "".join([p async for p in engine.stream(request, usage)]), usage


# -- pure helpers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "root"),
    [
        ("http://h:8000/v1", "http://h:8000"),
        ("http://h:8000/v1/", "http://h:8000"),
        ("http://h:8000", "http://h:8000"),
        ("https://api.deepseek.com/beta", "https://api.deepseek.com"),
        ("http://h:11434/api", "http://h:11434"),
    ],
)
def test_server_root_accepts_endpoints_with_or_without_v1(endpoint: str, root: str) -> None:
    assert server_root(endpoint) == root


def test_error_message_reads_every_error_shape() -> None:
    assert error_message('{"error": {"message": "bad key", "code": 401}}') == "bad key"
    assert error_message('{"detail": "Not Found"}') == "Not Found"
    assert error_message('{"error": "model not loaded"}') == "model not loaded"
    assert error_message("Internal Server Error") == "Internal Server Error"


def test_overflow_numbers_are_read_from_the_servers_message() -> None:
    vllm = (
        "This model's maximum context length is 512 tokens. However, your prompt contains "
        "at least 513 input tokens, which exceeds this limit even without any output tokens."
    )
    from_llama_cpp = (
        "This model's maximum context length is 512 tokens, however you requested 1421 tokens "
        "(1401 in your prompt; 20 for the completion)."
    )
    assert overflow_numbers(vllm) == (512, 513)
    assert overflow_numbers(from_llama_cpp) == (512, 1401)
    assert overflow_numbers("prompt too long") == (None, None)


def test_keep_ratio_leaves_room_for_the_answer() -> None:
    assert keep_ratio(512, 1401, 20) == pytest.approx((512 - 28) / 1401 * 0.9)
    assert keep_ratio(512, 100, 20) == 0.9
    assert keep_ratio(None, 1401, 20) == 0.5
    assert keep_ratio(64, 1000, 64) == 0.5


def test_shrink_cuts_the_far_ends_on_line_boundaries() -> None:
    prefix = "".join(f"line_{i} = {i}\n" for i in range(10)) + "def f():\n    "
    suffix = "\n    return x\n" + "".join(f"after_{i} = {i}\n" for i in range(10))
    request = GenerationRequest(
        prompt=DEEPSEEK.render(prefix, suffix), prefix=prefix, suffix=suffix, max_tokens=8
    )
    smaller = shrink_request(request, 0.5)
    assert smaller is not None and smaller.prefix is not None and smaller.suffix is not None
    assert prefix.endswith(smaller.prefix) and smaller.prefix.startswith("line_")
    assert suffix.startswith(smaller.suffix) and smaller.suffix.endswith("\n")
    assert len(smaller.prefix) < len(prefix) and len(smaller.suffix) < len(suffix)
    assert smaller.prompt == DEEPSEEK.render(smaller.prefix, smaller.suffix)
    assert smaller.max_tokens == 8


def test_shrink_keeps_the_typed_line_after_the_middle_marker() -> None:
    prefix = "".join(f"line_{i} = {i}\n" for i in range(10)) + "def f():\n    y = g("
    suffix = ")\n    return y\n" + "".join(f"after_{i} = {i}\n" for i in range(10))
    prompt = build_prompt(get_template("deepseek"), prefix, suffix, line_in_middle=True)
    request = GenerationRequest(
        prompt=prompt.text, prefix=prefix, suffix=suffix, middle_start=prompt.middle_start
    )
    smaller = shrink_request(request, 0.5)
    assert smaller is not None and smaller.prefix is not None and smaller.suffix is not None
    assert len(smaller.prefix) < len(prefix) and smaller.prefix.endswith("    y = g(")
    rebuilt = build_prompt(
        get_template("deepseek"), smaller.prefix, smaller.suffix, line_in_middle=True
    )
    assert smaller.prompt == rebuilt.text
    assert smaller.prompt.endswith("<｜fim▁end｜>y = g(")


def test_shrink_needs_prefix_and_suffix() -> None:
    assert shrink_request(GenerationRequest(prompt="abc"), 0.5) is None


def test_api_key_never_appears_in_reprs() -> None:
    settings = EngineSettings(name="vllm", endpoint="http://h/v1", api_key="sk-secret-123")
    engine = create_engine(settings)
    assert isinstance(engine, RemoteEngine)
    for text in (repr(settings), repr(engine), repr(engine.options)):
        assert "sk-secret-123" not in text


def test_api_key_comes_from_the_presets_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-from-env")
    engine = create_engine(EngineSettings(name="deepseek-api"))
    assert isinstance(engine, RemoteEngine)
    assert engine.options.api_key == "sk-from-env"
    assert engine.client.headers["authorization"] == "Bearer sk-from-env"


def test_every_preset_is_an_engine_name() -> None:
    assert set(PRESETS) == set(REMOTE_ENGINES)
    for name in ("vllm", "openai", "llama-server", "deepseek-api", "lmstudio", "xinference"):
        assert name in REMOTE_ENGINES


def test_openai_without_endpoint_is_a_clear_error() -> None:
    with pytest.raises(EngineError, match=r"engine.endpoint"):
        create_engine(EngineSettings(name="openai"))


# -- injected faults (MockTransport) -------------------------------------------


def sse(*payloads: dict[str, Any] | str) -> bytes:
    lines = [f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads]
    return "".join(lines).encode()


def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {"object": "text_completion", "choices": [{"text": text, "finish_reason": finish}]}


def mock_engine(handler: Any, **options: Any) -> RemoteEngine:
    return RemoteEngine(
        PRESETS["openai"],
        RemoteOptions(endpoint="http://mock/v1", model_name="m", **options),
        transport=httpx.MockTransport(handler),
    )


MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}


async def test_connection_failures_are_retried_then_reported() -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    engine = mock_engine(handler, connect_retries=2)
    with pytest.raises(EngineUnavailableError, match=r"cannot reach the server at http://mock"):
        await engine.start()
    assert attempts == ["/v1/models"] * 3


async def test_a_request_that_may_have_run_is_never_resent() -> None:
    posts: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        posts.append(request.content)
        raise httpx.ReadError("connection reset by peer", request=request)

    engine = mock_engine(handler, connect_retries=3)
    with pytest.raises(EngineUnavailableError, match=r"dropped the connection"):
        await collect(engine, GenerationRequest(prompt="x"))
    assert len(posts) == 1


async def test_error_event_mid_stream_is_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        body = sse(chunk("a"), {"error": {"message": "engine crashed", "code": 500}})
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    engine = mock_engine(handler)
    pieces: list[str] = []
    with pytest.raises(EngineError, match=r"engine crashed"):
        async for piece in engine.stream(GenerationRequest(prompt="x")):
            pieces.append(piece)
    assert pieces == ["a"]


async def test_non_sse_answer_names_the_config_to_fix() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        return httpx.Response(200, json=chunk("whole answer"))

    with pytest.raises(EngineError, match=r"did not stream server-sent events.*engine.name"):
        await collect(mock_engine(handler), GenerationRequest(prompt="x"))


async def test_deadline_ends_a_stream_that_never_finishes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)

        async def forever() -> Any:
            while True:
                yield sse(chunk("x"))

        return httpx.Response(200, content=forever(), headers={"content-type": "text/event-stream"})

    engine = mock_engine(handler, deadline=0.2)
    with pytest.raises(EngineUnavailableError, match=r"longer than 0.2s"):
        await collect(engine, GenerationRequest(prompt="x"))


# -- real servers ------------------------------------------------------------


async def test_unreachable_server_is_one_clear_error() -> None:
    port = free_port()  # nothing listens there
    engine = RemoteEngine(
        PRESETS["vllm"], RemoteOptions(endpoint=f"http://127.0.0.1:{port}/v1", connect_retries=1)
    )
    with pytest.raises(EngineUnavailableError) as caught:
        await engine.start()
    await engine.close()
    message = str(caught.value)
    assert f"cannot reach the server at http://127.0.0.1:{port}" in message
    assert "engine.endpoint" in message


@pytest.mark.slow
async def test_openai_path_streams_from_llama_cpp_python_server(
    llama_cpp_python: ServerProcess,  # noqa: F811
) -> None:
    engine = RemoteEngine(
        PRESETS["openai"],
        RemoteOptions(endpoint=llama_cpp_python.url + "/v1"),
        probe_token_strings(),
    )
    case = tiny_examples()[0]
    try:
        info = await engine.start()
        text, usage = await collect(engine, fim_request(case))
    finally:
        await engine.close()
    assert info.name == TINY_NAME  # autodetected from /v1/models
    assert text.startswith(case["middle"])
    assert usage.finish_reason in ("stop", "length") and usage.generated_tokens > 0


@pytest.mark.slow
async def test_llama_cpp_python_stream_cut_by_overflow_is_a_clear_error(
    llama_cpp_python: ServerProcess,  # noqa: F811
) -> None:
    """llama-cpp-python fails an over-long *streamed* prompt after its 200 header."""
    case = tiny_examples()[0]
    long_case = {**case, "prefix": "".join(f"v{i} = {i}\n" for i in range(400)) + case["prefix"]}
    engine = RemoteEngine(PRESETS["llama-cpp-server"], RemoteOptions(endpoint=llama_cpp_python.url))
    try:
        with pytest.raises(
            EngineUnavailableError, match=r"ended before|closed the stream|dropped the connection"
        ):
            await collect(engine, fim_request(long_case))
        # The server survives it, and /extras/tokenize counts without BOS.
        text, _ = await collect(engine, fim_request(case))
        assert text.startswith(case["middle"])
        assert await engine.count_tokens("def add") == 2
    finally:
        await engine.close()


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A private llama_cpp.server that demands an API key."""
    if not llama_cpp_server_available():
        pytest.skip("llama-cpp-python's server extras are not installed")
    server = llama_cpp_python_server(tmp_path)
    server.command += ["--api_key", "sk-right"]
    server.ready_path = "/docs"
    server.start(120)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
async def test_bad_api_key_is_one_clear_error(keyed_server: ServerProcess) -> None:
    wrong = RemoteEngine(
        PRESETS["openai"],
        RemoteOptions(endpoint=keyed_server.url + "/v1", model_name=TINY_NAME, api_key="sk-wrong"),
    )
    right = RemoteEngine(
        PRESETS["openai"],
        RemoteOptions(endpoint=keyed_server.url + "/v1", model_name=TINY_NAME, api_key="sk-right"),
    )
    try:
        with pytest.raises(AuthenticationError) as caught:
            await wrong.start()
        assert "rejected the API key (HTTP 401)" in str(caught.value)
        assert "sk-wrong" not in str(caught.value)
        text, _ = await collect(right, replace(fim_request(tiny_examples()[0]), max_tokens=4))
        assert text
    finally:
        await wrong.close()
        await right.close()
