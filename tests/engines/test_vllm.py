"""The vllm engine against a real vLLM server on the CPU (tiny model in HF format).

vLLM starts once per session (tests/support/fixtures.py) and these tests skip
with a reason when it is not installed (tools/install_vllm.sh). The server is
killed and restarted by the last test of this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from completion.prompt import get_template, probe_token_strings
from engines.base import (
    ContextTooLongError,
    EngineUnavailableError,
    GenerationRequest,
    GenerationUsage,
)
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from engines.openai_compat import ModelNotFoundError, RemoteEngine, RemoteOptions
from engines.presets import PRESETS, Preset
from tests.conftest import TINY_GGUF, tiny_examples
from tests.support.fixtures import vllm  # noqa: F401
from tests.support.servers import TINY_NAME, ServerProcess
from tests.support.streams import read_then_close

pytestmark = pytest.mark.slow

DEEPSEEK = get_template("deepseek")
# A preset that ignores EOS, so a generation runs to max_tokens unless aborted.
RUN_ON = replace(PRESETS["vllm"], body={"ignore_eos": True})


def engine_for(
    server: ServerProcess, preset: Preset = PRESETS["vllm"], **options: Any
) -> RemoteEngine:
    return RemoteEngine(
        preset,
        RemoteOptions(endpoint=server.url + "/v1", **options),
        probe_token_strings(),
    )


def fim_request(case: dict[str, Any], max_tokens: int = 24) -> GenerationRequest:
    return GenerationRequest(
        prompt=DEEPSEEK.render(case["prefix"], case["suffix"]),
        max_tokens=max_tokens,
        stop=DEEPSEEK.stop,
        prefix=case["prefix"],
        suffix=case["suffix"],
    )


async def collect(engine: Any, request: GenerationRequest) -> tuple[str, GenerationUsage]:
    usage = GenerationUsage()
    pieces = [piece async for piece in engine.stream(request, usage)]
    return "".join(pieces), usage


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{val}"' in head for key, val in labels.items()):
            total += float(value)
    return total


async def metrics(server: ServerProcess) -> str:
    async with httpx.AsyncClient(trust_env=False) as client:
        return (await client.get(server.url + "/metrics")).text


async def test_start_reads_model_card_and_special_tokens(vllm: ServerProcess) -> None:  # noqa: F811
    engine = engine_for(vllm)
    try:
        info = await engine.start()
    finally:
        await engine.close()
    assert info.name == TINY_NAME
    assert info.context_length == 512
    assert info.special_tokens is not None
    assert set(DEEPSEEK.probe_tokens) <= info.special_tokens


async def test_streams_the_hole_in_pieces(vllm: ServerProcess) -> None:  # noqa: F811
    case = next(c for c in tiny_examples() if c["kind"] == "single-line")
    engine = engine_for(vllm)
    usage = GenerationUsage()
    pieces: list[str] = []
    try:
        async for piece in engine.stream(fim_request(case), usage):
            pieces.append(piece)
    finally:
        await engine.close()
    assert len(pieces) > 1
    assert "".join(pieces).startswith(case["middle"])
    assert usage.finish_reason in ("stop", "length")
    assert usage.generated_tokens >= len(pieces)
    assert usage.prompt_tokens_total > 0


async def test_greedy_output_matches_the_gguf_on_llama_cpp(vllm: ServerProcess) -> None:  # noqa: F811
    """Same weights, two runtimes: identical greedy completions for every example hole."""
    remote = engine_for(vllm)
    local = LlamaCppEngine(LlamaCppOptions(model_path=str(TINY_GGUF), n_ctx=512))
    await local.start()
    try:
        for case in tiny_examples():
            request = fim_request(case, max_tokens=32)
            from_vllm, _ = await collect(remote, request)
            from_gguf, _ = await collect(local, request)
            assert from_vllm == from_gguf, case["kind"] + " " + case["language"]
            assert from_vllm.startswith(case["middle"].rstrip().split("\n")[0])
    finally:
        await remote.close()
        await local.close()


async def test_count_tokens_uses_the_server_tokenizer(vllm: ServerProcess) -> None:  # noqa: F811
    engine = engine_for(vllm)
    local = LlamaCppEngine(LlamaCppOptions(model_path=str(TINY_GGUF), n_ctx=512))
    text = "def add_count(count, total):\n    return count + total\n"
    try:
        await engine.start()
        await local.start()
        assert await engine.count_tokens(text) == await local.count_tokens(text)
        assert await engine.count_tokens("") == 0
    finally:
        await engine.close()
        await local.close()


async def test_fim_special_tokens_are_sent_as_stop_token_ids(vllm: ServerProcess) -> None:  # noqa: F811
    engine = engine_for(vllm)
    try:
        await engine.start()
        body = engine.build_body(fim_request(tiny_examples()[0]))
    finally:
        await engine.close()
    assert len(body["stop_token_ids"]) >= 3
    assert body["stream"] is True and body["model"] == TINY_NAME


async def settled(server: ServerProcess) -> str:
    """/metrics once the server has no request running or queued (an aborted one included)."""
    async with asyncio.timeout(30):
        while True:
            text = await metrics(server)
            busy = metric(text, "vllm:num_requests_running") + metric(
                text, "vllm:num_requests_waiting"
            )
            if busy == 0:
                return text
            await asyncio.sleep(0.05)


async def longest_run(engine: RemoteEngine, request: GenerationRequest) -> GenerationRequest:
    """``request`` asking for as many tokens as the context window leaves, with no stop.

    With EOS ignored, the server can only end it early by aborting it.
    """
    room = 512 - await engine.count_tokens(request.prompt)
    return replace(request, max_tokens=room - 8, stop=())


def assert_aborted(before: str, after: str, max_tokens: int) -> None:
    """The request between two /metrics snapshots ended early, by an abort.

    How many tokens the server produced before it noticed the close depends on
    how busy this machine is, so that latency is a figure in
    bench/remote_latency.py, not a bound here. What cannot depend on load: a
    request that was not aborted runs to ``max_tokens`` and counts as finished.
    """

    def finished(text: str) -> float:
        return sum(
            metric(text, "vllm:request_success_total", finished_reason=reason)
            for reason in ("stop", "length")
        )

    generated = metric(after, "vllm:generation_tokens_total") - metric(
        before, "vllm:generation_tokens_total"
    )
    assert finished(after) == finished(before), "the request ran to its end"
    assert generated < max_tokens, f"server generated {generated} of {max_tokens} tokens"


async def test_closing_the_stream_aborts_the_generation(vllm: ServerProcess) -> None:  # noqa: F811
    before = await settled(vllm)
    aborts_before = vllm.log_text().count("Aborted request")
    engine = engine_for(vllm, RUN_ON)
    try:
        request = await longest_run(engine, fim_request(tiny_examples()[0]))
        usage = GenerationUsage()
        await read_then_close(engine.stream(request, usage), pieces=3)
        after = await settled(vllm)
    finally:
        await engine.close()
    assert usage.finish_reason == "cancelled"
    assert_aborted(before, after, request.max_tokens)
    if vllm.process is not None:  # its log is ours to read
        async with asyncio.timeout(10):
            while vllm.log_text().count("Aborted request") == aborts_before:
                await asyncio.sleep(0.05)


async def test_cancelling_the_reading_task_aborts_too(vllm: ServerProcess) -> None:  # noqa: F811
    before = await settled(vllm)
    engine = engine_for(vllm, RUN_ON)
    first = asyncio.Event()
    request = await longest_run(engine, fim_request(tiny_examples()[1]))

    async def read() -> None:
        async for _ in engine.stream(request):
            first.set()

    task = asyncio.create_task(read())
    try:
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await settled(vllm)
    finally:
        await engine.close()
    assert_aborted(before, after, request.max_tokens)


async def test_requests_run_concurrently(vllm: ServerProcess) -> None:  # noqa: F811
    engine = engine_for(vllm, RUN_ON)
    firsts: list[float] = []
    ends: list[float] = []

    async def one(case: dict[str, Any]) -> None:
        first = True
        async for _ in engine.stream(replace(fim_request(case, max_tokens=300), stop=())):
            if first:
                firsts.append(time.monotonic())
                first = False
        ends.append(time.monotonic())

    try:
        await asyncio.gather(*(one(case) for case in tiny_examples()[:4]))
    finally:
        await engine.close()
    # Every stream had started before any of them finished.
    t0 = min(firsts)
    timeline = ([round(t - t0, 3) for t in firsts], [round(t - t0, 3) for t in ends])
    assert len(ends) == 4 and max(firsts) < min(ends), timeline


async def test_too_long_prompt_is_shrunk_and_retried_once(vllm: ServerProcess) -> None:  # noqa: F811
    case = tiny_examples()[0]
    filler = "".join(f"value_{i} = {i}\n" for i in range(300))
    long_case = {**case, "prefix": filler + case["prefix"]}
    engine = engine_for(vllm)
    strict = engine_for(vllm, shrink_on_overflow=False)
    try:
        text, usage = await collect(engine, fim_request(long_case))
        assert text and usage.finish_reason in ("stop", "length")
        with pytest.raises(ContextTooLongError, match=r"prompt too long"):
            await collect(strict, fim_request(long_case))
    finally:
        await engine.close()
        await strict.close()


async def test_wrong_model_name_is_one_clear_error(vllm: ServerProcess) -> None:  # noqa: F811
    engine = engine_for(vllm, model_name="deepseek-coder-33b")
    with pytest.raises(
        ModelNotFoundError, match=r"'deepseek-coder-33b' is not served.*tiny-dscoder"
    ):
        await engine.start()
    await engine.close()


async def test_server_killed_mid_stream_then_restarted(vllm: ServerProcess) -> None:  # noqa: F811
    """Last in this module: it kills the shared server, then brings it back."""
    if vllm.process is None:
        pytest.skip("the vLLM server was not started by this session (DSCODER_VLLM_URL)")
    engine = engine_for(vllm, RUN_ON)
    request = replace(fim_request(tiny_examples()[0]), max_tokens=400, stop=())
    try:
        usage = GenerationUsage()
        try:
            async for _ in engine.stream(request, usage):
                vllm.kill()
        except EngineUnavailableError as error:
            assert re.search(r"mid-generation|dropped", str(error)), error
        else:
            # On an idle machine vLLM can send all 400 tokens before the kill
            # lands: then the stream must be whole, never silently short.
            assert (usage.finish_reason, usage.generated_tokens) == ("length", 400), usage
        with pytest.raises(EngineUnavailableError, match=r"cannot reach"):
            await collect(engine, request)
        await asyncio.to_thread(vllm.start)
        text, usage = await collect(engine, fim_request(tiny_examples()[0]))
        assert text and usage.finish_reason in ("stop", "length")
    finally:
        await engine.close()
        if not vllm.running:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(vllm.start)


# -- serve-vllm (command line only; no server) --------------------------------


def test_serve_vllm_adds_the_v2_lite_flags_and_prints_the_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from engines.vllm_launcher import main

    assert main(["deepseek-ai/DeepSeek-Coder-V2-Lite-Base", "--port", "8123", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    command = err.split("\n")[0]
    for flag in ("--trust-remote-code", "--max-model-len 8192", "--enforce-eager"):
        assert flag in command
    assert "--enable-prefix-caching" in command and "--port 8123" in command
    assert "--engine vllm --endpoint http://127.0.0.1:8123/v1" in out
    assert '"engine": {"name": "vllm", "endpoint": "http://127.0.0.1:8123/v1"}' in out


def test_serve_vllm_keeps_user_flags_and_hides_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engines.vllm_launcher import main

    monkeypatch.setenv("TEAM_KEY", "sk-team-secret")
    argv = ["deepseek-ai/deepseek-coder-6.7b-base", "--api-key-env", "TEAM_KEY", "--dry-run"]
    assert main([*argv, "--gpu-memory-utilization", "0.8"]) == 0
    out, err = capsys.readouterr()
    assert "--gpu-memory-utilization 0.8" in err and "--trust-remote-code" not in err
    assert "sk-team-secret" not in out + err and "--api-key ***" in err
    assert '"apiKeyEnv": "TEAM_KEY"' in out


async def test_sequential_requests_reuse_one_connection(vllm: ServerProcess) -> None:  # noqa: F811
    if vllm.process is None:
        pytest.skip("needs the server's access log (DSCODER_VLLM_URL server)")
    engine = engine_for(vllm)
    marker = len(vllm.log_text())
    try:
        for case in tiny_examples()[:3]:
            await collect(engine, fim_request(case, max_tokens=4))
    finally:
        await engine.close()
    log = vllm.log_text()[marker:]
    ports = re.findall(r"127\.0\.0\.1:(\d+) - \"POST /v1/completions", log)
    assert len(ports) == 3 and len(set(ports)) == 1, ports
