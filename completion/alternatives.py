"""Several distinct answers for one explicit request (Alt+\\ in VS Code, cycled with Alt+]).

Runs after the first answer: the pipeline samples again with a new seed per
try, and what post-processing leaves is deduplicated (trailing whitespace
aside), so cycling never shows the same text twice. Sampling stops early
once two tries in a row bring nothing new: the model is then confident and
more tries would only cost time. Automatic requests never come here.

Engines whose server can return several choices at once (``n``) could do it
in one call; the engine protocol streams one choice, so every engine goes
through the same sequential path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from completion.pipeline import Completion

Sample = Callable[[int], Awaitable[Completion]]
"""Completes once with the given seed."""

MAX_MISSES = 2
"""Tries in a row that bring nothing new before sampling stops."""


def dedupe_key(text: str) -> str:
    return text.rstrip()


async def collect_alternatives(first: Completion, count: int, sample: Sample) -> list[Completion]:
    """``first`` (when it has text) plus up to ``count - 1`` distinct samples."""
    results = [first] if first.text else []
    seen = {dedupe_key(first.text)} if first.text else set()
    seed, misses = 0, 0
    while len(results) < count and misses < MAX_MISSES and seed < 2 * count:
        seed += 1
        candidate = await sample(seed)
        key = dedupe_key(candidate.text)
        if not candidate.text or key in seen:
            misses += 1
            continue
        misses = 0
        seen.add(key)
        results.append(candidate)
    return results
