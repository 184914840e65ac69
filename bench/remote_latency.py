"""Remote-engine figures against one real vLLM server (CPU, tiny test model).

1. vLLM itself: load time (when this script starts it) and decode tokens/s.
2. Client overhead: the same prompt through ``RemoteEngine.stream`` and
   through a bare ``httpx`` streaming POST to the same server; median wall
   time of each and their ratio.
3. Cancel to close: after the first streamed piece, the time ``aclose()``
   takes (socket closed on our side), and the time until the server reports
   no running request (its abort seen through ``/metrics``).
4. Eight simulated editors typing against the one server. Each key sends a
   completion request for the text so far. Our client closes the previous
   stream on every key; the naive client lets every request run to the end.
   Figures: p50/p95 latency of the completion shown at each typing pause
   (key -> full answer), and server-generated tokens per typed character
   (from vLLM's ``vllm:generation_tokens_total``).

    .venv/bin/python bench/remote_latency.py [--url http://127.0.0.1:PORT] [--keys 40]

Without ``--url`` (or ``DSCODER_VLLM_URL``) it starts vLLM from
tools/install_vllm.sh's venv and stops it at the end. Bounded: a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from completion.prompt import get_template, probe_token_strings  # noqa: E402
from engines.base import GenerationRequest, GenerationUsage  # noqa: E402
from engines.openai_compat import RemoteEngine, RemoteOptions  # noqa: E402
from engines.presets import PRESETS  # noqa: E402
from tests.conftest import tiny_examples  # noqa: E402
from tests.support.servers import ServerProcess, vllm_server  # noqa: E402

DEEPSEEK = get_template("deepseek")
RUN_ON = replace(PRESETS["vllm"], body={"ignore_eos": True})


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def request_for(prefix: str, suffix: str, max_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        prompt=DEEPSEEK.render(prefix, suffix),
        max_tokens=max_tokens,
        stop=DEEPSEEK.stop,
        prefix=prefix,
        suffix=suffix,
    )


async def metric(client: httpx.AsyncClient, url: str, name: str) -> float:
    text = (await client.get(url + "/metrics")).text
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


async def idle(client: httpx.AsyncClient, url: str) -> None:
    async with asyncio.timeout(60):
        while await metric(client, url, "vllm:num_requests_running") > 0:
            await asyncio.sleep(0.002)


async def decode_speed(engine: RemoteEngine) -> float:
    request = replace(request_for("def f():\n    ", "\n", 200), stop=())
    started = time.perf_counter()
    usage = GenerationUsage()
    async for _ in engine.stream(request, usage):
        pass
    return usage.generated_tokens / (time.perf_counter() - started)


async def overhead(engine: RemoteEngine, url: str, runs: int) -> tuple[float, float]:
    case = tiny_examples()[0]
    request = request_for(case["prefix"], case["suffix"], 16)
    body = engine.build_body(request)
    ours: list[float] = []
    bare: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as client:

        async def run_ours() -> None:
            async for _ in engine.stream(request):
                pass

        async def run_bare() -> None:
            async with client.stream("POST", "/v1/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line[6:].strip() != "[DONE]":
                        json.loads(line[6:])

        for run in range(runs):
            # Alternate which goes first, so warm-up and drift hit both alike.
            order = ((run_ours, ours), (run_bare, bare))
            for call, times in order if run % 2 else order[::-1]:
                started = time.perf_counter()
                await call()
                times.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(bare)


async def cancel_to_close(url: str, runs: int) -> tuple[list[float], list[float]]:
    engine = RemoteEngine(RUN_ON, RemoteOptions(endpoint=url + "/v1"), probe_token_strings())
    await engine.start()
    case = tiny_examples()[0]
    request = replace(request_for(case["prefix"], case["suffix"], 400), stop=())
    closes: list[float] = []
    aborts: list[float] = []
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        for _ in range(runs):
            await idle(client, url)
            stream = engine.stream(request)
            async for _ in stream:
                break
            started = time.perf_counter()
            await stream.aclose()  # type: ignore[attr-defined]
            closes.append(time.perf_counter() - started)
            await idle(client, url)
            aborts.append(time.perf_counter() - started)
    await engine.close()
    return closes, aborts


def typing_script(editor: int, keys: int) -> tuple[str, str, str]:
    """(fixed prefix, text to type, suffix) for one editor."""
    cases = tiny_examples()
    case = cases[editor % len(cases)]
    other = cases[(editor + 1) % len(cases)]
    text = (case["middle"] + "\n" + other["prefix"] + other["middle"])[:keys]
    return case["prefix"], text, case["suffix"]


async def editor(
    engine: RemoteEngine,
    index: int,
    keys: int,
    cancel: bool,
    shown: list[float],
    max_tokens: int,
) -> int:
    """Type one script; returns the characters typed."""
    prefix, text, suffix = typing_script(index, keys)
    tasks: list[asyncio.Task[float]] = []
    latest: asyncio.Task[float] | None = None

    async def complete(typed: str) -> float:
        started = time.perf_counter()
        async for _ in engine.stream(request_for(prefix + typed, suffix, max_tokens)):
            pass
        return time.perf_counter() - started

    await asyncio.sleep(index * 0.013)  # editors do not type in lockstep
    for position in range(1, len(text) + 1):
        if cancel and latest is not None and not latest.done():
            latest.cancel()
        latest = asyncio.create_task(complete(text[:position]))
        tasks.append(latest)
        pause = text[position - 1] in " \n(" or position == len(text)
        if pause:
            # The user waits for the suggestion of the last key.
            with contextlib.suppress(asyncio.CancelledError):
                shown.append(await latest)
            await asyncio.sleep(0.3)
        else:
            await asyncio.sleep(0.07)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    return len(text)


async def editors(url: str, keys: int, cancel: bool, max_tokens: int) -> dict[str, float]:
    engine = RemoteEngine(
        PRESETS["vllm"],
        RemoteOptions(endpoint=url + "/v1", max_concurrency=64, deadline=300, read_timeout=120),
        probe_token_strings(),
    )
    await engine.start()
    shown: list[float] = []
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        await idle(client, url)
        before = await metric(client, url, "vllm:generation_tokens_total")
        started = time.perf_counter()
        typed = await asyncio.gather(
            *(editor(engine, i, keys, cancel, shown, max_tokens) for i in range(8))
        )
        wall = time.perf_counter() - started
        await idle(client, url)
        generated = await metric(client, url, "vllm:generation_tokens_total") - before
    await engine.close()
    return {
        "p50_ms": pct(shown, 0.5) * 1000,
        "p95_ms": pct(shown, 0.95) * 1000,
        "tokens_per_char": generated / sum(typed),
        "chars": float(sum(typed)),
        "wall_s": wall,
    }


async def main_async(args: argparse.Namespace, url: str) -> None:
    engine = RemoteEngine(
        PRESETS["vllm"], RemoteOptions(endpoint=url + "/v1"), probe_token_strings()
    )
    await engine.start()
    run_on = RemoteEngine(RUN_ON, RemoteOptions(endpoint=url + "/v1"), probe_token_strings())
    await run_on.start()
    print(f"decode speed (1 stream, 200 tokens): {await decode_speed(run_on):.0f} tokens/s")
    await run_on.close()
    ours, bare = await overhead(engine, url, args.runs)
    await engine.close()
    print(
        f"client overhead: ours {ours * 1000:.1f} ms vs bare httpx {bare * 1000:.1f} ms "
        f"(median of {args.runs}, 16 tokens): ratio {ours / bare:.3f}"
    )
    closes, aborts = await cancel_to_close(url, args.runs)
    print(
        f"cancel -> socket closed: p50 {pct(closes, 0.5) * 1000:.2f} ms, "
        f"max {max(closes) * 1000:.2f} ms; cancel -> server idle (abort seen in /metrics): "
        f"p50 {pct(aborts, 0.5) * 1000:.1f} ms, max {max(aborts) * 1000:.1f} ms"
    )
    for label, cancel in (("ours (cancel on key)", True), ("naive (no cancel)", False)):
        figures = await editors(url, args.keys, cancel, args.max_tokens)
        print(
            f"8 editors, {label}: shown-suggestion latency p50 {figures['p50_ms']:.0f} ms, "
            f"p95 {figures['p95_ms']:.0f} ms; server tokens per typed char "
            f"{figures['tokens_per_char']:.1f} ({figures['chars']:.0f} chars, "
            f"{figures['wall_s']:.1f} s)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("DSCODER_VLLM_URL"))
    parser.add_argument("--keys", type=int, default=40, help="characters each editor types")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    server: ServerProcess | None = None
    url = args.url
    if not url:
        server = vllm_server(Path(tempfile.mkdtemp(prefix="bench-vllm-")))
        server.start()
        url = server.url
        print(f"vLLM load time (process start -> /v1/models ready): {server.start_seconds:.1f} s")
    try:
        asyncio.run(main_async(args, url.rstrip("/").removesuffix("/v1")))
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
