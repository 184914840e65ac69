"""The document plus a cursor become a ``Context``: prefix and suffix in a budget.

First stage of the pipeline. This is the line-based cut: whole lines nearest
the cursor are kept, the prefix gets the larger share of the token budget,
and the current line is never split except when it alone is over budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from completion.document import Document
from engines.base import estimate_tokens

TokenCounter = Callable[[str], int]


class Multiline(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class ContextOptions:
    """How much of the document goes into the prompt."""

    max_tokens: int = 1536
    """Token budget for prefix plus suffix (the prompt template adds a few more)."""
    prefix_share: float = 0.75
    """Fraction of the budget the prefix may use; the suffix gets the rest."""
    multiline: Multiline = Multiline.AUTO
    """Whether completions may span lines: always, never, or decided per cursor."""


@dataclass(frozen=True)
class Context:
    """What the model sees around the cursor, and how to shape its answer."""

    prefix: str
    suffix: str
    language_id: str
    multiline: bool
    line_prefix: str
    """Text left of the cursor on its line."""
    line_suffix: str
    """Text right of the cursor on its line."""
    indent: str = ""
    """Leading whitespace of the cursor's line."""
    file_path: str | None = None
    skip_reason: str | None = None
    """Set when the model should not be called at all, and why."""


def _take_lines(lines: list[str], budget: int, count: TokenCounter) -> list[str]:
    taken: list[str] = []
    for line in lines:
        cost = count(line)
        if cost > budget:
            break
        budget -= cost
        taken.append(line)
    return taken


def _clip_to_budget(text: str, budget: int, count: TokenCounter, keep_end: bool) -> str:
    """Shorten ``text`` by characters until it fits, keeping its end or start."""
    if count(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        piece = text[-middle:] if keep_end else text[:middle]
        if count(piece) <= budget:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        return ""
    return text[-low:] if keep_end else text[:low]


def wants_multiline(line_prefix: str, line_suffix: str, mode: Multiline) -> bool:
    """Line-based rule: multi-line only on a line that is blank around the cursor."""
    if mode is Multiline.ALWAYS:
        return True
    if mode is Multiline.NEVER:
        return False
    return not line_prefix.strip() and not line_suffix.strip()


def build_context(
    document: Document,
    offset: int,
    options: ContextOptions,
    count: TokenCounter = estimate_tokens,
    file_path: str | None = None,
) -> Context:
    """Cut the prefix and suffix around ``offset`` to fit ``options.max_tokens``."""
    line = document.line_of(offset)
    line_start = document.line_start(line)
    line_end = document.line_end(line)
    text = document.text
    line_prefix = text[line_start:offset]
    line_suffix = text[offset:line_end]

    prefix_budget = int(options.max_tokens * options.prefix_share)
    suffix_budget = options.max_tokens - prefix_budget

    # The cursor's own line halves come first; whole lines are added outwards.
    head = _clip_to_budget(line_prefix, prefix_budget, count, keep_end=True)
    prefix_budget -= count(head)
    above = [
        text[document.line_start(n) : document.line_start(n + 1)]
        for n in range(line - 1, max(-1, line - 1 - 4 * prefix_budget), -1)
    ]
    prefix_lines = _take_lines(above, prefix_budget, count)
    prefix = "".join(reversed(prefix_lines)) + head

    tail = _clip_to_budget(text[offset:line_end], suffix_budget, count, keep_end=False)
    suffix_budget -= count(tail)
    below_start = line_end
    below = []
    if line + 1 < document.line_count:
        below_start = document.line_start(line + 1)
        break_text = text[line_end:below_start]
        below = [break_text] + [
            text[document.line_start(n) : document.line_start(n + 1)]
            if n + 1 < document.line_count
            else text[document.line_start(n) :]
            for n in range(line + 1, min(document.line_count, line + 1 + 4 * suffix_budget))
        ]
    suffix = tail + "".join(_take_lines(below, suffix_budget, count))

    indent = line_prefix[: len(line_prefix) - len(line_prefix.lstrip(" \t"))]
    return Context(
        prefix=prefix,
        suffix=suffix,
        language_id=document.language_id,
        multiline=wants_multiline(line_prefix, line_suffix, options.multiline),
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        indent=indent,
        file_path=file_path,
    )
