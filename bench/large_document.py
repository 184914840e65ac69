"""How much a keystroke in a 30 MB document delays another document's request.

The server gets a 30 MB Python file (over the default maxDocumentBytes of
10 MB, so it gets no completions) and a small one. Each round sends one
keystroke to the big file and, right behind it, an inline-completion request
on the small file at a cursor whose answer is cached (no model call). The
request's round trip, minus the same round trip without the keystroke, is
the delay the big document's edit costs everyone else. It also prints the
server's own work per keystroke, measured in-process (parse, dispatch, edit).

    .venv/bin/python bench/large_document.py [--model PATH] [--rounds 200] [--megabytes 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server_figures import percentile, start, stop, wait_ready  # noqa: E402

SMALL = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    "


def big_text(megabytes: int) -> str:
    line = "value_{0} = compute({0}) + offset  # filler to make a very big file\n"
    count = megabytes * 1_000_000 // len(line.format(500_000)) + 1
    return "".join(line.format(n) for n in range(count))


def open_document(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


def keystroke(client: LanguageClient, uri: str, version: int, line: int) -> None:
    where = types.Position(line=line, character=0)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=where, end=where), text="x"
                )
            ],
        )
    )


async def small_request(client: LanguageClient) -> float:
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///bench/small.py"),
        position=types.Position(line=5, character=4),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )
    sent = time.perf_counter()
    await client.text_document_inline_completion_async(params)
    return (time.perf_counter() - sent) * 1000


async def server_work(text: str, rounds: int) -> list[float]:
    """Milliseconds the server spends on each keystroke message, in-process."""
    import json

    from lsp.compose import create_server
    from lsp.config import ConfigSources
    from lsp.framing import handle_body

    class Discard:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    server = create_server(ConfigSources())
    server.protocol.set_writer(Discard())

    def send(message: dict[str, object]) -> None:
        handle_body(server.protocol, json.dumps(message).encode())

    capabilities: dict[str, object] = {}
    send(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": capabilities},
        }
    )
    await asyncio.sleep(0)
    document = {"uri": "file:///big.py", "languageId": "python", "version": 1, "text": text}
    send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}})
    await asyncio.sleep(0)
    lines, spent = text.count("\n"), []
    for round_ in range(rounds):
        where = {"line": (round_ * 7919) % lines, "character": 0}
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": "file:///big.py", "version": round_ + 2},
                    "contentChanges": [{"range": {"start": where, "end": where}, "text": "x"}],
                },
            }
        ).encode()
        started = time.perf_counter()
        handle_body(server.protocol, body)
        await asyncio.sleep(0)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", default=str(ROOT / "tests/fixtures/tiny-dscoder/tiny-dscoder.gguf")
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--megabytes", type=int, default=30)
    args = parser.parse_args()

    client, _ = await start(args.model, {"scheduler": {"debounceMs": 0, "adaptiveDebounce": False}})
    try:
        await wait_ready(client)
        text = big_text(args.megabytes)
        lines = text.count("\n")
        open_document(client, "file:///bench/big.py", text)
        open_document(client, "file:///bench/small.py", SMALL)
        await small_request(client)  # fills the cache
        alone, after_keystroke = [], []
        version = 1
        for round_ in range(args.rounds):
            alone.append(await small_request(client))
            version += 1
            keystroke(client, "file:///bench/big.py", version, (round_ * 7919) % lines)
            after_keystroke.append(await small_request(client))
        base, loaded = percentile(alone, 0.5), percentile(after_keystroke, 0.5)
        print(f"document: {len(text.encode()) / 1e6:.1f} MB, {lines:,} lines; {args.rounds} rounds")
        print(
            f"small-document request alone:          p50 {base:.2f} ms, "
            f"p95 {percentile(alone, 0.95):.2f} ms"
        )
        print(
            f"right after a big-document keystroke:  p50 {loaded:.2f} ms, "
            f"p95 {percentile(after_keystroke, 0.95):.2f} ms"
        )
        print(
            f"delay caused by the keystroke:         p50 {loaded - base:.2f} ms, "
            f"p95 {percentile(after_keystroke, 0.95) - percentile(alone, 0.95):.2f} ms"
        )
    finally:
        await stop(client)
    spent = await server_work(text, args.rounds)
    print(
        f"server work per keystroke (in-process): p50 {percentile(spent, 0.5):.3f} ms, "
        f"p95 {percentile(spent, 0.95):.3f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
