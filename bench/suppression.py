"""Suppression: engine calls saved against accepted suggestions lost.

Replays simulated streams of automatic requests through the real
``completion.suppression.Suppression`` and ``AcceptanceTracker`` (no
server, no model: the figures are counts, independent of machine load).
Each request falls in a context (language, one line or a block) with its
own chance that the user takes the suggestion. A request held back saves
one engine call and loses that chance; one let through is shown and its
outcome (accepted or rejected) is fed back, as the editor's signals would.

Streams (the mixes are assumptions, not recorded sessions):
- ``mixed``: code contexts accepted 18-30%, prose and data files 0-3%;
- ``useful``: every context accepted at least 10% (what it costs where
  nothing deserves holding back);
- ``shift``: markdown is never accepted for the first half, then 25%
  (how fast a context recovers through the probes).

Figures per stream and setting: calls saved (% of automatic requests) and
accepted lost (expected accepts of the held-back requests, % of the accepts
without suppression), averaged over ``--seeds`` runs of ``--requests``.

    .venv/bin/python bench/suppression.py [--requests 5000] [--seeds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from collections.abc import Callable

from completion.acceptance import AcceptanceTracker
from completion.suppression import Suppression, SuppressionOptions

Chance = Callable[[float], float]
"""Progress through the stream (0 to 1) -> chance the suggestion is taken."""

STREAMS: dict[str, list[tuple[str, bool, float, Chance]]] = {
    # (language, multi-line, share of requests, chance)
    "mixed": [
        ("python", False, 0.35, lambda _: 0.30),
        ("python", True, 0.15, lambda _: 0.18),
        ("typescript", False, 0.20, lambda _: 0.25),
        ("markdown", False, 0.15, lambda _: 0.01),
        ("json", False, 0.10, lambda _: 0.0),
        ("yaml", True, 0.05, lambda _: 0.03),
    ],
    "useful": [
        ("python", False, 0.5, lambda _: 0.30),
        ("python", True, 0.3, lambda _: 0.12),
        ("go", False, 0.2, lambda _: 0.10),
    ],
    "shift": [
        ("python", False, 0.7, lambda _: 0.30),
        ("markdown", False, 0.3, lambda t: 0.0 if t < 0.5 else 0.25),
    ],
}


def replay(
    stream: str, options: SuppressionOptions, requests: int, seed: int
) -> tuple[int, float, float]:
    """(calls saved, expected accepts lost, expected accepts without suppression)."""
    rng = random.Random(seed)
    suppression = Suppression(lambda: options)
    tracker = AcceptanceTracker(suppression=suppression)
    contexts = STREAMS[stream]
    weights = [share for _, _, share, _ in contexts]
    saved, lost, possible = 0, 0.0, 0.0
    uri = "file:///bench"
    for number in range(requests):
        language, multiline, _, chance = rng.choices(contexts, weights)[0]
        p = chance(number / requests)
        possible += p
        if suppression.holds_back(language, multiline):
            saved += 1
            lost += p
            continue
        text = "a\nb" if multiline else "a"
        [item] = tracker.offer(uri, language, [text])
        tracker.shown(item)
        if rng.random() < p:
            tracker.accepted(item)
    tracker.finish()
    return saved, lost, possible


def figures(stream: str, options: SuppressionOptions, args: argparse.Namespace) -> str:
    saved = lost = possible = 0.0
    for seed in range(args.seeds):
        s, lo, po = replay(stream, options, args.requests, seed)
        saved, lost, possible = saved + s, lost + lo, possible + po
    total = args.requests * args.seeds
    return f"calls saved {100 * saved / total:5.1f}%   accepted lost {100 * lost / possible:4.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    default = SuppressionOptions()
    settings = [("default", default)]
    variations: list[tuple[str, SuppressionOptions]] = [
        ("threshold=0.02", dataclasses.replace(default, threshold=0.02)),
        ("threshold=0.05", dataclasses.replace(default, threshold=0.05)),
        ("min_shown=10", dataclasses.replace(default, min_shown=10)),
        ("min_shown=100", dataclasses.replace(default, min_shown=100)),
        ("probe_every=3", dataclasses.replace(default, probe_every=3)),
        ("probe_every=30", dataclasses.replace(default, probe_every=30)),
        ("half_life=30", dataclasses.replace(default, half_life=30)),
    ]
    settings += variations
    fields = ", ".join(f"{f.name}={getattr(default, f.name)}" for f in dataclasses.fields(default))
    print(f"defaults: {fields}; {args.requests} requests x {args.seeds} seeds")
    for stream in STREAMS:
        print(f"\n{stream}")
        for label, options in settings:
            print(f"  {label:<16} {figures(stream, options, args)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
