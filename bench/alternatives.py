"""Alternatives on vLLM: one request with ``n`` against one request per sample.

Starts vLLM on the CPU with the tiny HF model (tests/fixtures), then, at an
open hole, draws ``--count`` samples ``--rounds`` times both ways through the
real pipeline: ``complete_choices`` (one call, ``n = count``) and
``complete`` with one seed per sample (what the local engine and servers
that ignore ``n`` do, without the early stop). Prints engine calls, tokens
the server generated, distinct answers after post-processing, and
wall time per round (p50; load-dependent, so the load average is printed).

    .venv/bin/python bench/alternatives.py [--rounds 5] [--count 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from completion.document import Document
from completion.pipeline import Completion, CompletionOptions, CompletionPipeline
from completion.prompt import probe_token_strings
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS
from tests.support.servers import vllm_server

PREFIX = "def scale(values, factor):\n    "


async def measure(url: str, rounds: int, count: int) -> None:
    engine = RemoteEngine(PRESETS["vllm"], RemoteOptions(endpoint=url), probe_token_strings())
    await engine.start()
    pipeline = CompletionPipeline(engine, CompletionOptions(alternatives_temperature=1.0))
    document = Document(uri="file:///bench/scale.py", text=PREFIX + "\n", language_id="python")
    offset = len(PREFIX)
    await pipeline.complete(document, offset)  # warm the prefix cache alike for both

    async def batched(seed: int) -> list[Completion]:
        return await pipeline.complete_choices(engine, document, offset, None, count, seed)

    async def sequential(seed: int) -> list[Completion]:
        return [
            await pipeline.complete(document, offset, seed=seed + index) for index in range(count)
        ]

    try:
        for label, run in (("one request, n", batched), ("one per sample", sequential)):
            before = pipeline.stats.snapshot()
            walls: list[float] = []
            distinct = 0
            generated = 0
            for round_number in range(rounds):
                started = time.perf_counter()
                results = await run(1 + round_number * count)
                walls.append((time.perf_counter() - started) * 1000)
                distinct += len({r.text.rstrip() for r in results if r.text})
                # Choices of one call share its usage: count each call once.
                generated += sum({id(r.usage): r.usage.generated_tokens for r in results}.values())
            after = pipeline.stats.snapshot()
            calls = after["engineCalls"] - before["engineCalls"]
            print(
                f"{label:<15} engine calls/round {calls / rounds:.1f}   generated tokens"
                f"/round {generated / rounds:.1f}   distinct answers/round "
                f"{distinct / rounds:.1f}   wall p50 {statistics.median(walls):.0f} ms"
            )
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs:
        server = vllm_server(Path(logs)).start()
        try:
            print(f"vLLM ready in {server.start_seconds:.0f} s; load {os.getloadavg()[0]:.2f}")
            asyncio.run(measure(server.url + "/v1", args.rounds, args.count))
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
