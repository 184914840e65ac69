"""Typing simulation: replay real files typed at human speed into the real server.

Each run starts ``dscoder-lsp --stdio`` on the in-process engine, opens a
source file with a region removed, and types that region back one key at a
time with human gaps and pauses. After every key the client sends an
incremental didChange and an inlineCompletion request, cancelling the
previous one, as VS Code does. The same replay runs in a naive mode (no
cache, no debounce, no cancellation, no stream reuse) for comparison.

Figures printed per mode: engine calls per 100 keystrokes, cache hit rate,
prompt tokens evaluated per engine call (p50/p95, and as a share of the
prompt), time from pause to suggestion (p50/p95) and how much of it was
neither debounce nor engine time ("pause slack"), how many pauses got a
suggestion to show (a ghost) and the time to it (p50/p95), server overhead
per request (p50, end to end minus engine time), and RSS.

The client keeps a ghost as the editors do: the rest of the last suggestion
for the newest key, shortened while the typed keys match it (the Neovim
plugin's own typing-through) and hidden by any other key. So the figures
include how many keys were typed with a ghost on screen (llama.vim's "still
visible when the next key is typed"), how many typed through it, whether the
server answered each of those with exactly the rest (a client without
local typing-through keeps it then), and a pause that starts with a ghost on
screen counts as a ghost at 0 ms. ``--accept`` takes a ghost's line with one
key when it is what comes next, as a user would; ``--pauses`` prints each
pause (where, its debounce, its engine time, whether a ghost showed). Every
mode's figures end in one side-by-side table.

The typed text runs across many lines (``--keys`` characters from a start
line in each file, Enter and indentation included), so the figures cover
the calls after a new line as well as those along one. ``--before
KEY=VALUE`` adds a run of the same replay with that setting (for instance
``context.typedRegion=false``, the behaviour before the typed region), and
prints it beside the default; ``--compare KEY=VALUE`` adds one run, and one
column, per setting; ``--no-naive`` skips the naive mode.

    .venv/bin/python bench/typing_simulation.py [--keys 300] [--model PATH]
        [--option context.stableHeadLines=0 ...] [--before context.typedRegion=false]
        [--no-naive] [--accept] [--pauses]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [
    (ROOT / "completion" / "cache.py", "python", 60),
    (ROOT / "bench" / "corpus" / "inventory.ts", "typescript", 20),
]
NAIVE = {
    "scheduler": {
        "cache": False,
        "debounceMs": 0,
        "adaptiveDebounce": False,
        "reuseInflight": False,
        "cancelSuperseded": False,
    }
}


def plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    return value


@dataclass
class Replay:
    keys: int = 0
    pause_latencies_ms: list[float] = field(default_factory=list)
    ghost_latencies_ms: list[float] = field(default_factory=list)
    """Per pause whose answer had a suggestion (a ghost shown): time to it."""
    pauses: int = 0
    pause_slack_ms: list[float] = field(default_factory=list)
    """Per pause: time to suggestion minus that request's debounce and engine wait."""
    pause_outside_ms: list[float] = field(default_factory=list)
    """Per pause: time to suggestion minus the time the request spent in the server."""
    round_trips_ms: list[float] = field(default_factory=list)
    """Round trips of a request that does no work (dscoder/stats), after the replay."""
    stats: dict[str, Any] = field(default_factory=dict)
    rss_mb: float = 0.0
    typing_calls: list[list[int]] = field(default_factory=list)
    """[evaluated, total] prompt tokens of each engine call made while typing
    (a file's opening call, which evaluates its whole prompt, is left out)."""
    ghost_at_key: int = 0
    """Keys typed while a ghost was on screen (llama.vim's "still visible")."""
    matching_keys: int = 0
    """Keys typed while a ghost was on screen that typed its next character."""
    kept_locally: int = 0
    """Of those, keys after which the shortened ghost stayed on screen (the
    client's own typing-through, as editors/nvim/lua/dscoder/ghost.lua does)."""
    kept_by_server: int = 0
    """Of the matching keys, those the server answered (at once or after its
    debounce) with exactly the rest of the ghost: a client without local
    typing-through would keep showing it."""
    typed_through_answers_ms: list[float] = field(default_factory=list)
    """Time to the server's answer for a typed-through key."""
    pause_log: list[str] = field(default_factory=list)
    """One line per pause, for --pauses."""
    accepts: int = 0
    """Lines of a ghost accepted with one key (--accept)."""
    ghost_debounced_ms: list[float] = field(default_factory=list)
    """The ghost latencies of pauses whose request waited out a debounce."""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def replay_file(
    client: LanguageClient,
    path: Path,
    language: str,
    start_line: int,
    max_keys: int,
    naive: bool,
    rng: random.Random,
    result: Replay,
    accept: bool = False,
) -> None:
    lines = path.read_text("utf-8").splitlines(keepends=True)
    head = "".join(lines[:start_line])
    to_type = "".join(lines[start_line:])[:max_keys]
    tail = "".join(lines[start_line:])[max_keys:]
    uri = path.as_uri()  # the real file, so cross-file context finds its imports
    text = head + tail
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    line, character = start_line, 0
    version = 1
    # The editor opens the file: its first prompt is evaluated whole, once.
    opening = client.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        ),
    )
    try:
        await asyncio.wait_for(opening, timeout=30)
    except Exception:
        pass
    calls_before = len(await prompt_eval_log(client))
    pending: asyncio.Future[Any] | None = None
    pending_id = ""
    ghost = Ghost()
    index = 0
    while index < len(to_type):
        # With --accept, a ghost whose line is what comes next is taken with
        # one key (accept line), as a user would; otherwise one character.
        char = ghost.line() if accept and to_type.startswith(ghost.line(), index) else ""
        result.accepts += bool(char)
        char = char or to_type[index]
        index += len(char)
        matched = ghost.type(char, result)
        version += 1
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=line, character=character),
                            end=types.Position(line=line, character=character),
                        ),
                        text=char,
                    )
                ],
            )
        )
        if char == "\n":
            line, character = line + 1, 0
        else:
            character += len(char.encode("utf-16-le")) // 2  # no line break in an accept
        result.keys += 1
        if pending is not None and not pending.done() and not naive:
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=pending_id))
        pending_id = f"k{path.name}-{index}"
        sent = time.perf_counter()
        pending = client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            ),
            msg_id=pending_id,
        )
        # Superseded requests end in RequestCancelled; that is expected here.
        pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        pending.add_done_callback(ghost.on_answer(ghost.key, matched, sent, result))
        pause = (char == "\n" and rng.random() < 0.5) or rng.random() < 0.04
        if pause:
            # The user stops: time until a ghost is on screen (at once if the
            # client kept one while typing through), or until the answer.
            try:
                result.pauses += 1
                shown_before = ghost.visible()
                answer = await asyncio.wait_for(pending, timeout=30)
                latency_ms = (time.perf_counter() - sent) * 1000
                result.pause_latencies_ms.append(latency_ms)
                if shown_before:
                    result.ghost_latencies_ms.append(0.0)
                elif shows_ghost(answer):
                    result.ghost_latencies_ms.append(latency_ms)
                stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
                if shows_ghost(answer) and not shown_before and stats.get("lastDebounceMs"):
                    result.ghost_debounced_ms.append(latency_ms)
                result.pause_log.append(
                    f"{path.name}:{line}:{character} after {char!r}: {latency_ms:6.1f} ms,"
                    f" debounce {stats.get('lastDebounceMs', 0.0):6.1f},"
                    f" engine {stats.get('lastEngineWaitMs', 0.0):6.1f},"
                    f" ghost {'kept' if shown_before else shows_ghost(answer)}"
                )
                # Time the user waited beyond the debounce and the model's own time.
                waited = stats.get("lastDebounceMs", 0.0) + stats.get("lastEngineWaitMs", 0.0)
                result.pause_slack_ms.append(latency_ms - waited)
                result.pause_outside_ms.append(latency_ms - stats.get("lastServerMs", 0.0))
            except Exception:
                pass
            await asyncio.sleep(rng.uniform(0.4, 0.9))
        else:
            await asyncio.sleep(max(0.03, rng.gauss(0.11, 0.04)))
    if pending is not None:
        try:
            await asyncio.wait_for(pending, timeout=30)
        except Exception:
            pass
    result.typing_calls.extend((await prompt_eval_log(client))[calls_before:])


def shows_ghost(answer: Any) -> bool:
    """True when an inlineCompletion answer has a suggestion to show."""
    items = getattr(answer, "items", answer) or []
    return any(getattr(item, "insert_text", "") for item in items)


@dataclass
class Ghost:
    """The client's ghost text: the rest of the last suggestion at the cursor.

    Typing its next character shortens it (local typing-through); any other
    key hides it until an answer for the newest key arrives. Answers for an
    older key are dropped, as the editors drop them.
    """

    text: str = ""
    key: int = 0
    """Keys typed so far; an answer for an older key is stale."""

    def visible(self) -> bool:
        return bool(self.text)

    def line(self) -> str:
        """What accepting a line would insert: the ghost up to its first line
        break, if that is two characters or more (else nothing to accept)."""
        first = self.text.split("\n", 1)[0]
        return first if len(first) >= 2 else ""

    def type(self, char: str, result: Replay) -> str:
        """Apply one key; returns the ghost's rest if the key typed through it, else ""."""
        self.key += 1
        if not self.text:
            return ""
        result.ghost_at_key += 1
        if not self.text.startswith(char):
            self.text = ""
            return ""
        result.matching_keys += 1
        self.text = self.text[len(char) :]
        if self.text:
            result.kept_locally += 1
        return self.text

    def on_answer(self, key: int, expected: str, sent: float, result: Replay) -> Any:
        def landed(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            text = suggestion_text(done.result())
            if expected:
                if text == expected:
                    result.kept_by_server += 1
                result.typed_through_answers_ms.append((time.perf_counter() - sent) * 1000)
            if key == self.key and text:
                self.text = text

        return landed


def suggestion_text(answer: Any) -> str:
    items = getattr(answer, "items", answer) or []
    return str(getattr(items[0], "insert_text", "") or "") if items else ""


async def prompt_eval_log(client: LanguageClient) -> list[list[int]]:
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {"promptEval": True}))
    return [list(pair) for pair in stats.get("promptEval", [])]


async def run_mode(
    model: str, naive: bool, max_keys: int, seed: int, settings: list[str], accept: bool = False
) -> Replay:
    client = LanguageClient("dscoder-bench", "0.1")
    await client.start_io(
        sys.executable,
        "-m",
        "lsp.cli",
        "--stdio",
        "--model",
        model,
        *(f"--set={setting}" for setting in settings),
    )
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options=NAIVE if naive else {},
            root_uri=ROOT.as_uri(),
        )
    )
    client.initialized(types.InitializedParams())
    # Wait for the model, so load time is not counted as typing latency.
    async with asyncio.timeout(120):
        while (
            plain(await client.protocol.send_request_async("dscoder/stats", {}))["modelState"]
            != "ready"
        ):
            await asyncio.sleep(0.05)
    rng = random.Random(seed)
    result = Replay()
    for path, language, start_line in CORPUS:
        await replay_file(client, path, language, start_line, max_keys, naive, rng, result, accept)
    # The floor under "outside the server": a request that does no work.
    for _ in range(50):
        sent = time.perf_counter()
        await client.protocol.send_request_async("dscoder/stats", {})
        result.round_trips_ms.append((time.perf_counter() - sent) * 1000)
    result.stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    server = client._server
    result.rss_mb = rss_mb(server.pid) if server is not None else 0.0
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()  # type: ignore[no-untyped-call]
    return result


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(name: str, replay: Replay, show_pauses: bool = False) -> dict[str, float]:
    stats = replay.stats
    keys = max(1, replay.keys)
    shares = [e / t for e, t in replay.typing_calls if t]
    evaluated = [float(e) for e, _ in replay.typing_calls]
    figures = {
        "keystrokes": replay.keys,
        "engine calls / 100 keys": 100 * stats["engineCalls"] / keys,
        "cache hit rate": stats["cacheHits"] / max(1, stats["requests"]),
        "in-flight reuses": stats["inflightReuses"],
        "cancelled": stats["cancelled"],
        "prompt tokens evaluated p50": stats["promptTokensEvaluatedP50"],
        "prompt evaluated share p50": stats["promptEvaluatedFractionP50"],
        "prompt tokens evaluated p95": stats.get("promptTokensEvaluatedP95", float("nan")),
        "prompt evaluated share p95": stats.get("promptEvaluatedFractionP95", float("nan")),
        "engine calls per keystroke": stats["engineCalls"] / keys,
        "typing: prompt evaluated p50": percentile(shares, 0.5),
        "typing: prompt evaluated p95": percentile(shares, 0.95),
        "typing: tokens evaluated p50": percentile(evaluated, 0.5),
        "typing: tokens evaluated p95": percentile(evaluated, 0.95),
        "pause->suggestion p50 ms": percentile(replay.pause_latencies_ms, 0.5),
        "pause->suggestion p95 ms": percentile(replay.pause_latencies_ms, 0.95),
        "pauses": replay.pauses,
        "pauses with a ghost": len(replay.ghost_latencies_ms),
        "share of pauses with a ghost": len(replay.ghost_latencies_ms) / max(1, replay.pauses),
        "pause->ghost p50 ms (ghost shown)": percentile(replay.ghost_latencies_ms, 0.5),
        "pause->ghost p95 ms (ghost shown)": percentile(replay.ghost_latencies_ms, 0.95),
        "  of those, after a debounce": len(replay.ghost_debounced_ms),
        "  their p50 ms": percentile(replay.ghost_debounced_ms, 0.5),
        "  answered at once, p50 ms": percentile(
            [ms for ms in replay.ghost_latencies_ms if ms not in replay.ghost_debounced_ms], 0.5
        ),
        "lines accepted (--accept)": replay.accepts,
        "keys typed with a ghost shown": replay.ghost_at_key,
        "  of which typed through it": replay.matching_keys,
        "  ghost kept by the client": replay.kept_locally,
        "  ghost kept by the server": replay.kept_by_server,
        "typed-through answer p50 ms": percentile(replay.typed_through_answers_ms, 0.5),
        "pause slack p50 ms": percentile(replay.pause_slack_ms, 0.5),
        "  of which outside server p50 ms": percentile(replay.pause_outside_ms, 0.5),
        "empty request round trip p50 ms": percentile(replay.round_trips_ms, 0.5),
        "engine p50 ms": stats["engineP50Ms"],
        "debounce p50 ms": stats["debounceP50Ms"],
        "server overhead p50 ms": stats["overheadP50Ms"],
        "server RSS MB": replay.rss_mb,
    }
    sys.stdout.write(f"\n== {name} ==\n")
    for key, value in figures.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        sys.stdout.write(f"{key:34s} {shown}\n")
    if show_pauses:
        sys.stdout.writelines(f"  pause {entry}\n" for entry in replay.pause_log)
    return figures


def side_by_side(columns: dict[str, dict[str, float]]) -> None:
    """Every figure of every mode in one table."""
    names = list(columns)
    widths = [max(12, len(name)) for name in names]
    header = "".join(f" {name:>{width}s}" for name, width in zip(names, widths, strict=True))
    sys.stdout.write(f"\n{'figure':34s}{header}\n")
    for key in columns[names[0]]:
        cells = "".join(
            f" {float(columns[name][key]):{width}.3f}"
            for name, width in zip(names, widths, strict=True)
        )
        sys.stdout.write(f"{key:34s}{cells}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF (default: the bundled model)")
    parser.add_argument("--keys", type=int, default=300, help="keystrokes per file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a server setting for both modes (dscoder-lsp --set), e.g. context.stableHeadLines=0",
    )
    parser.add_argument(
        "--before",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="also run with this setting added, side by side (e.g. context.typedRegion=false)",
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more run per setting, each its own column (e.g. scheduler.prefetch=true)",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive mode")
    parser.add_argument("--pauses", action="store_true", help="print one line per pause")
    parser.add_argument(
        "--accept",
        action="store_true",
        help="accept a ghost's line with one key when it is what comes next",
    )
    args = parser.parse_args()
    from lsp.config import default_model_path

    model = args.model or default_model_path()
    if model is None:
        sys.stderr.write("no model: pass --model\n")
        return 1
    sys.stdout.write(f"model: {model}\nfiles: {', '.join(p.name for p, _, _ in CORPUS)}\n")
    columns: dict[str, dict[str, float]] = {}
    columns["dscoder-lsp"] = smart = report(
        "dscoder-lsp (cache, debounce, cancellation)",
        asyncio.run(run_mode(model, False, args.keys, args.seed, args.option, args.accept)),
        args.pauses,
    )
    if args.before:
        columns["before"] = report(
            f"dscoder-lsp before ({', '.join(args.before)})",
            asyncio.run(
                run_mode(
                    model,
                    False,
                    args.keys,
                    args.seed,
                    [*args.option, *args.before],
                    args.accept,
                )
            ),
            args.pauses,
        )
    for setting in args.compare:
        columns[setting.rsplit(".", 1)[-1]] = report(
            f"dscoder-lsp with {setting}",
            asyncio.run(
                run_mode(model, False, args.keys, args.seed, [*args.option, setting], args.accept)
            ),
            args.pauses,
        )
    if not args.no_naive:
        columns["naive"] = naive = report(
            "naive (no cache, no debounce, no cancellation)",
            asyncio.run(run_mode(model, True, args.keys, args.seed, args.option, args.accept)),
            args.pauses,
        )
        ratio = naive["engine calls / 100 keys"] / max(1e-9, smart["engine calls / 100 keys"])
        sys.stdout.write(f"\nengine calls, naive / dscoder-lsp: {ratio:.1f}x\n")
    if len(columns) > 1:
        side_by_side(columns)
    sys.stdout.write(
        f"pause->suggestion minus (its debounce + engine time), p50: "
        f"{smart['pause slack p50 ms']:.1f} ms (target: at most 10 ms)\n"
        f"pause->ghost p50 (ghost shown): {smart['pause->ghost p50 ms (ghost shown)']:.1f} ms"
        f" (target: at most 40 ms); engine calls per keystroke:"
        f" {smart['engine calls per keystroke']:.3f} (target: at most 0.25)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
