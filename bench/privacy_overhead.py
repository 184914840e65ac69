"""What the privacy stage costs per request: exclusion lookup and secret scrubbing.

Scrubs a prompt-sized prefix and suffix (the default context budget is 1,536
tokens, about 5 KB of code) cut from a real corpus file, with and without
secrets planted in it, and asks an ``Exclusion`` with a workspace
``.dscoderignore`` about a path. Prints p50/p99 in microseconds.

    .venv/bin/python bench/privacy_overhead.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from completion.privacy import Exclusion, scrub  # noqa: E402

SECRETS = (
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
    'GITHUB = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"\n'
    'db_password = "hunter2hunter2"\n'
)


def corpus_text(size: int) -> str:
    files = sorted(p for p in (ROOT / "bench" / "corpus").rglob("*.py") if p.is_file())
    if not files:
        files = sorted((ROOT / "completion").glob("*.py"))
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    return (text * (size // max(1, len(text)) + 1))[:size]


def timed(rounds: int, work: Callable[[], object]) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    text = corpus_text(6000)
    prefix, suffix = text[:4500], text[4500:]
    planted = prefix[:2000] + SECRETS + prefix[2000:]
    with tempfile.TemporaryDirectory() as root:
        Path(root, ".dscoderignore").write_text("build/\n*.generated.py\n!.env.example\n")
        exclusion = Exclusion(roots=[root])
        target = f"file://{root}/src/app/module.py"
        rows = [
            ("scrub, no secrets", timed(args.rounds, lambda: scrub(prefix, suffix))),
            ("scrub, 3 secrets", timed(args.rounds, lambda: scrub(planted, suffix))),
            ("exclusion lookup", timed(args.rounds, lambda: exclusion.reason(target))),
        ]
    print(f"privacy stage, {len(prefix) + len(suffix)} characters of prompt, {args.rounds} rounds")
    for name, (p50, p99) in rows:
        print(f"  {name:<20} p50 {p50:8.1f} us   p99 {p99:8.1f} us")


if __name__ == "__main__":
    main()
