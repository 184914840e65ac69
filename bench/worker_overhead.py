"""What running llama.cpp in a worker process costs, against the old in-thread engine.

Both paths run the same decode code (engines/llama_worker.py's ``_Model``):

- ``thread``: the model in this process, on one worker thread, pieces handed
  to the event loop through ``call_soon_threadsafe`` (the engine before the
  worker process existed);
- ``worker``: ``LlamaCppEngine``, the model in a child process, pieces over a
  pipe as JSON lines.

Per request: a one-token generation of a prompt already in the KV cache, so
nearly all of its time is overhead; p50 and p90 wall time of each path, and
the difference. Per token: a long greedy generation; wall time minus the
time spent inside the model, divided by the tokens, for each path.

    PYTHONPATH=. .venv/bin/python bench/worker_overhead.py [--requests 300] [--tokens 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.base import GenerationRequest, GenerationUsage  # noqa: E402
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions  # noqa: E402
from engines.llama_worker import _Model  # noqa: E402
from tests.conftest import TINY_GGUF, smollm2_path  # noqa: E402

SHORT_PROMPT = "def add(a, b):\n    return"
LONG_PROMPT = "def add(a, b):\n    return a + b\n\n\ndef main():\n    "


class ThreadPath:
    """The old engine's shape: the model on a dedicated thread in this process."""

    def __init__(self, options: LlamaCppOptions):
        self.model = _Model()
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.options = options

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.executor, self.model.load, {"options": asdict(self.options)}
        )

    async def generate(self, prompt: str, max_tokens: int) -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        cancel = threading.Event()

        def emit(piece: str, generated: int) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        request = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "top_p": 1.0}

        def run() -> dict[str, Any]:
            try:
                return self.model.generate(request, cancel.is_set, emit)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        job = loop.run_in_executor(self.executor, run)
        while await queue.get() is not None:
            pass
        usage = await job
        return int(usage["generated"]), float(usage["engine_seconds"])

    def close(self) -> None:
        self.executor.shutdown()


class WorkerPath:
    def __init__(self, options: LlamaCppOptions):
        self.engine = LlamaCppEngine(options)

    async def start(self) -> None:
        await self.engine.start()

    async def generate(self, prompt: str, max_tokens: int) -> tuple[int, float]:
        usage = GenerationUsage()
        async for _ in self.engine.stream(GenerationRequest(prompt, max_tokens=max_tokens), usage):
            pass
        return usage.generated_tokens, usage.engine_seconds


Generate = Callable[[str, int], Any]


async def timed(generate: Generate, prompt: str, max_tokens: int) -> tuple[float, int, float]:
    started = time.perf_counter()
    tokens, inside = await generate(prompt, max_tokens)
    return time.perf_counter() - started, tokens, inside


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


async def per_request(model: Path, count: int) -> None:
    options = LlamaCppOptions(model_path=str(model), n_ctx=512)
    thread, worker = ThreadPath(options), WorkerPath(options)
    await thread.start()
    await worker.start()
    walls: dict[str, list[float]] = {"thread": [], "worker": []}
    for warm in (thread, worker):
        await timed(warm.generate, SHORT_PROMPT, 1)  # fill the KV cache
    for _ in range(count):  # interleaved, so both see the same machine load
        for path_name, path in (("thread", thread), ("worker", worker)):
            wall, _, _ = await timed(path.generate, SHORT_PROMPT, 1)
            walls[path_name].append(wall)
    thread.close()
    await worker.engine.close()
    p50 = {name: statistics.median(values) for name, values in walls.items()}
    p90 = {name: statistics.quantiles(values, n=10)[-1] for name, values in walls.items()}
    print(f"per request ({model.name}, one token, cached prompt, {count} requests each)")
    for name in walls:
        print(f"  {name:6s} p50 {ms(p50[name])}  p90 {ms(p90[name])}")
    print(f"  overhead of the worker: p50 {ms(p50['worker'] - p50['thread'])}")


async def per_token(model: Path, tokens: int, runs: int) -> None:
    options = LlamaCppOptions(model_path=str(model), n_ctx=1024)
    thread, worker = ThreadPath(options), WorkerPath(options)
    await thread.start()
    await worker.start()
    outside: dict[str, list[float]] = {"thread": [], "worker": []}
    walls: dict[str, list[float]] = {"thread": [], "worker": []}
    counts: dict[str, int] = {}
    for _ in range(runs):
        for name, path in (("thread", thread), ("worker", worker)):
            wall, generated, inside = await timed(path.generate, LONG_PROMPT, tokens)
            counts[name] = generated
            walls[name].append(wall / generated)
            outside[name].append((wall - inside) / generated)
    thread.close()
    await worker.engine.close()
    print(f"per streamed token ({model.name}, {counts['worker']} tokens, {runs} runs each)")
    for name in walls:
        print(
            f"  {name:6s} wall/token {ms(statistics.median(walls[name]))}  "
            f"outside the model/token {ms(statistics.median(outside[name]))}"
        )
    extra = statistics.median(outside["worker"]) - statistics.median(outside["thread"])
    print(f"  overhead of the worker per token: {ms(extra)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    short_model = TINY_GGUF if TINY_GGUF.is_file() else smollm2_path()
    await per_request(short_model, args.requests)
    await per_token(smollm2_path(), args.tokens, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
