"""Startup, latency and memory figures of the real server over stdio.

Prints:
- time to answer ``initialize`` (the model loads afterwards, in the background);
- model load time (from ``initialized`` to the engine being ready);
- p50/p95 inline-completion latency for a 40-token completion on a 300-line
  file (cache off, a fresh cursor each time, so every request runs the model);
- with ``--soak N``: server RSS after the first 1,000 requests and after N
  cheap requests (1 generated token each) over many documents, and the drift.

    .venv/bin/python bench/server_figures.py [--model PATH] [--soak 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent


def plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    return value


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def three_hundred_lines() -> str:
    source = (ROOT / "completion" / "pipeline.py").read_text("utf-8").splitlines()
    lines = (source * (300 // len(source) + 1))[:300]
    return "\n".join(lines) + "\n"


async def start(model: str, options: dict[str, Any]) -> tuple[LanguageClient, float]:
    client = LanguageClient("dscoder-bench", "0.1")
    await client.start_io(sys.executable, "-m", "lsp.cli", "--stdio", "--model", model)
    sent = time.perf_counter()
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(), initialization_options=options
        )
    )
    return client, (time.perf_counter() - sent) * 1000


async def wait_ready(client: LanguageClient) -> float:
    started = time.perf_counter()
    client.initialized(types.InitializedParams())
    while True:
        stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
        if stats["modelState"] in ("ready", "failed"):
            return time.perf_counter() - started
        await asyncio.sleep(0.01)


async def stop(client: LanguageClient) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()  # type: ignore[no-untyped-call]


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )


async def latency(model: str, requests: int) -> None:
    options = {
        "maxTokensMultiline": 40,
        "context": {"multiline": "always"},
        "scheduler": {"cache": False, "reuseInflight": False, "debounceMs": 0},
    }
    client, init_ms = await start(model, options)
    load_s = await wait_ready(client)
    text = three_hundred_lines()
    uri = "file:///bench/three_hundred.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    lines = text.splitlines()
    timings: list[float] = []
    for n in range(requests):
        line = 100 + (n * 7) % 180
        sent = time.perf_counter()
        await client.text_document_inline_completion_async(
            inline_params(uri, line, len(lines[line]))
        )
        timings.append((time.perf_counter() - sent) * 1000)
    # Warm: the same cursor again (cache off), as while pausing at one place;
    # the prompt is already in the KV cache, so this is decoding plus overhead.
    line = 150
    warm: list[float] = []
    for _ in range(requests):
        sent = time.perf_counter()
        await client.text_document_inline_completion_async(
            inline_params(uri, line, len(lines[line]))
        )
        warm.append((time.perf_counter() - sent) * 1000)
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    await stop(client)
    generated = stats["generatedTokens"] / max(1, stats["engineCalls"])
    out = sys.stdout.write
    out(f"model                         {stats['model']}\n")
    out(f"initialize answered in        {init_ms:.1f} ms\n")
    out(f"model loaded in               {load_s * 1000:.0f} ms (after initialized)\n")
    out("inline completion, 300 lines, new cursor each time (prompt evaluated cold):\n")
    out(
        f"                              p50 {percentile(timings, 0.5):.0f} ms, "
        f"p95 {percentile(timings, 0.95):.0f} ms over {requests} requests\n"
    )
    out(
        f"  same cursor, prompt cached  p50 {percentile(warm, 0.5):.0f} ms, "
        f"p95 {percentile(warm, 0.95):.0f} ms\n"
    )
    out(f"tokens generated per request  {generated:.1f}\n")
    out(
        f"engine p50                    {stats['engineP50Ms']} ms; server overhead p50 "
        f"{stats['overheadP50Ms']} ms\n"
    )


async def soak(model: str, total: int) -> None:
    options = {"maxTokens": 1, "maxTokensMultiline": 1}
    client, _ = await start(model, options)
    await wait_ready(client)
    pid = client._server.pid  # type: ignore[union-attr]
    baseline = 0.0
    for n in range(total):
        uri = f"file:///bench/soak{n % 200}.py"
        if n % 200 == n:
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri,
                        language_id="python",
                        version=1,
                        text=f"def f{n}(x):\n    return x + {n}\n",
                    )
                )
            )
        await client.text_document_inline_completion_async(inline_params(uri, 1, 10))
        if n + 1 == 1000:
            baseline = rss_mb(pid)
    final = rss_mb(pid)
    await stop(client)
    drift = 100 * (final - baseline) / baseline if baseline else float("nan")
    sys.stdout.write(
        f"RSS after 1,000 requests      {baseline:.1f} MB\n"
        f"RSS after {total:,} requests    {final:.1f} MB (drift {drift:+.1f}%)\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--soak", type=int, default=0, help="requests for the RSS soak")
    args = parser.parse_args()
    from lsp.config import default_model_path

    model = args.model or default_model_path()
    if model is None:
        sys.stderr.write("no model: pass --model\n")
        return 1
    asyncio.run(latency(model, args.requests))
    if args.soak:
        asyncio.run(soak(model, args.soak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
