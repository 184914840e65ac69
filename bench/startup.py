"""Startup: time from spawning ``dscoder-lsp --stdio`` to its answer to ``initialize``.

The client writes ``initialize`` as soon as the process is spawned (as editors
do) and waits for the answer; the model is not loaded before it (it loads
after ``initialized``). Prints p50/p95 over ``--runs`` spawns, then, with
``--imports``, where the import time goes (``python -X importtime``):
the cumulative time of the heaviest modules imported by the server. A
start with no cached answer (``lsp/early.py``) is timed too ("cold").

    .venv/bin/python bench/startup.py [--runs 15] [--imports]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"processId": None, "rootUri": None, "capabilities": {}},
}


def frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


def read_message(stream: object) -> dict[str, object]:
    read = stream.readline  # type: ignore[attr-defined]
    length = 0
    while True:
        line = read()
        if not line:
            raise EOFError("server closed its stdout")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = stream.read(length)  # type: ignore[attr-defined]
    result: dict[str, object] = json.loads(body)
    return result


def spawn_to_initialize(extra: list[str], cache_home: str | None = None) -> tuple[float, str]:
    """(ms from spawn to the initialize answer, stderr)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cache_home is not None:
        environment["DSCODER_CACHE"] = cache_home
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *extra, "-m", "lsp.cli", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=ROOT,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(frame(INITIALIZE))
    process.stdin.flush()
    while True:
        message = read_message(process.stdout)
        if message.get("id") == 1:
            break
    elapsed = (time.perf_counter() - started) * 1000
    process.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    process.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    process.stdin.flush()
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    if "result" not in message:
        raise RuntimeError(f"initialize failed: {message}")
    return elapsed, stderr.decode("utf-8", "replace")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def import_breakdown(stderr: str, top: int) -> list[tuple[str, float, int]]:
    """(module, cumulative ms, depth) of the heaviest imports in ``-X importtime`` output."""
    rows = []
    for match in _IMPORT_LINE.finditer(stderr):
        depth = len(match.group(3)) // 2
        rows.append((match.group(4), int(match.group(2)) / 1000, depth))
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--imports", action="store_true", help="show where import time goes")
    args = parser.parse_args()
    spawn_to_initialize([])  # warm the OS file cache and the bytecode
    times = [spawn_to_initialize([])[0] for _ in range(args.runs)]
    sys.stdout.write(
        f"initialize answered from spawn, {args.runs} runs: "
        f"p50 {percentile(times, 0.5):.0f} ms, p95 {percentile(times, 0.95):.0f} ms, "
        f"min {min(times):.0f} ms\n"
    )
    # Cold: no cached answer (the first start after an install or an upgrade).
    import tempfile

    cold = []
    for _ in range(max(3, args.runs // 3)):
        with tempfile.TemporaryDirectory() as home:
            cold.append(spawn_to_initialize([], home)[0])
    sys.stdout.write(
        f"cold (no cached answer, pygls answers), p50 {percentile(cold, 0.5):.0f} ms\n"
    )
    floors = []
    for _ in range(max(3, args.runs // 3)):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import pygls.lsp.server, lsprotocol.types"],
            check=True,
            capture_output=True,
        )
        floors.append((time.perf_counter() - started) * 1000)
    bare = []
    for _ in range(max(3, args.runs // 3)):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        bare.append((time.perf_counter() - started) * 1000)
    sys.stdout.write(
        f"floor: python start and exit {percentile(bare, 0.5):.0f} ms; "
        f"with pygls + lsprotocol imported {percentile(floors, 0.5):.0f} ms (p50)\n"
    )
    if args.imports:
        _, stderr = spawn_to_initialize(["-X", "importtime"])
        sys.stdout.write(
            "heaviest imports of the whole start, answer included (cumulative ms, nesting);"
            " with a cached answer, only those outside lsp.server come before it:\n"
        )
        for module, ms, depth in import_breakdown(stderr, 25):
            sys.stdout.write(f"  {ms:8.1f}  {'  ' * depth}{module}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
