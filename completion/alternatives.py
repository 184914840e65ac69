"""Several distinct answers for one explicit request (Alt+\\ in VS Code, cycled with Alt+]).

Runs after the first answer. An engine whose server draws several choices
in one call (vLLM's ``n``; engines.base.SamplesSeveral) is asked once for
``count`` samples, and that one call is all. Every other engine (the local
one, a server found to ignore ``n``) samples again with a new seed per try,
and stops early once two tries in a row bring nothing new: the model is then
confident and more tries would only cost time. Either way what
post-processing leaves is deduplicated (trailing whitespace aside), so
cycling never shows the same text twice. Automatic requests never come here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from completion.pipeline import Completion

Sample = Callable[[int], Awaitable[Completion]]
"""Completes once with the given seed."""

SampleMany = Callable[[int, int], Awaitable[list[Completion]]]
"""``(n, seed)``: one answer per choice of one engine call asking for ``n``."""

MAX_MISSES = 2
"""Tries in a row that bring nothing new before sampling stops."""


def dedupe_key(text: str) -> str:
    return text.rstrip()


async def collect_alternatives(
    first: Completion, count: int, sample: Sample, sample_many: SampleMany | None = None
) -> list[Completion]:
    """``first`` (when it has text) plus up to ``count - 1`` distinct samples."""
    results = [first] if first.text else []
    seen = {dedupe_key(first.text)} if first.text else set()

    def keep(candidate: Completion) -> bool:
        key = dedupe_key(candidate.text)
        if not candidate.text or key in seen or len(results) >= count:
            return False
        seen.add(key)
        results.append(candidate)
        return True

    seed = 0
    if sample_many is not None and len(results) < count:
        seed += 1
        # ``count`` choices for ``count - 1`` places: one may repeat the first answer.
        batch = await sample_many(count, seed)
        for candidate in batch:
            keep(candidate)
        if len(batch) > 1:
            return results  # the server honoured n: one call is all
        # One choice back: the server ignored n; go on one at a time.
    misses = 0
    while len(results) < count and misses < MAX_MISSES and seed < 2 * count:
        seed += 1
        misses = 0 if keep(await sample(seed)) else misses + 1
    return results
