"""Typed-region anchoring: the prompt stays cut where the user began typing.

Part of the first stage (docs/context.md, "The typed region"). While the
user types in one place, the prefix keeps the cut it had when typing began
(the *anchor*: the start of the typed text on the line where it began), the
suffix keeps the text it had then, and everything typed since the anchor
goes after the middle marker as the start of the middle, across lines:

    <fim begin>{prefix up to the anchor}<fim hole>{suffix}<fim end>{typed since the anchor}

The prompt then only grows at its end while the user types, Enter included,
so the engine's cached prompt (llama.cpp's KV cache, vLLM's prefix cache)
covers all of it but the new keys. ``context.lineInMiddle`` is the same idea
within one line; this carries it across lines.

A region is only reused while it tells the truth: the prefix before the
anchor and the suffix after the cursor must be the document's text now,
character for character. The anchor moves (to the cursor's line, as the
line rule puts it) when the cursor leaves the region or an edit elsewhere
changes the prefix or suffix, when the region grows past
``typed_region_lines`` lines or ``typed_region_tokens`` tokens, or when the
prompt would no longer fit the budget.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from completion.context import Context, ContextOptions, TokenCounter
from completion.document import Document
from completion.prompt import typed_on_line

__all__ = ["Anchor", "TypedRegions", "reserve"]


def reserve(options: ContextOptions) -> int:
    """Tokens of the budget a new anchor leaves free for the region to grow into."""
    return max(0, min(options.typed_region_tokens, options.max_tokens // 4))


@dataclass(frozen=True)
class Anchor:
    """Where typing began in one document, and the prompt's cut at that moment."""

    offset: int
    """Document offset where the typed region starts."""
    head: str
    """The prefix up to ``offset``: the pinned header block, then the contiguous part."""
    pinned: int
    """Length of the pinned header block at the start of ``head`` (0: none)."""
    prefix_start: int
    """Document offset where the contiguous part of ``head`` starts."""
    suffix: str
    """The suffix the prompt carries (text after the cursor when anchored)."""
    head_tokens: int
    suffix_tokens: int

    def holds(self, text: str, cursor: int) -> bool:
        """True when ``head`` and ``suffix`` are still the text around ``cursor``."""
        if cursor < self.offset or self.prefix_start < self.pinned:
            return False
        if not text.startswith(self.suffix, cursor):
            return False
        contiguous = self.head[self.pinned :]
        if self.offset - self.prefix_start != len(contiguous):
            return False
        if not text.startswith(contiguous, self.prefix_start):
            return False
        return not self.pinned or text.startswith(self.head[: self.pinned])


class TypedRegions:
    """The anchor of each document's typed region (a bounded map by URI)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._anchors: OrderedDict[str, Anchor] = OrderedDict()
        self.reanchored = 0
        """Times an anchor was set again (counted for the benches)."""

    def apply(
        self,
        document: Document,
        offset: int,
        fresh: Context,
        options: ContextOptions,
        count: TokenCounter,
        cut: Callable[[int], Context] | None = None,
    ) -> Context:
        """``fresh`` (the context cut for this cursor) in its typed-region form.

        Returns a context whose ``typed`` says how much of the prefix's end the
        prompt carries after the middle marker. ``cut(budget)`` cuts the
        context for this cursor to a smaller budget: a new anchor leaves the
        region room to grow (``reserve``), or else the first key typed would
        overflow a prompt that was cut to the full budget.
        """
        if fresh.skip_reason:
            return fresh  # no prompt: leave the region as it is
        text = document.text
        anchor = self._anchors.get(document.uri)
        if anchor is not None and anchor.holds(text, offset):
            region = text[anchor.offset : offset]
            fits = (
                region.count("\n") <= options.typed_region_lines
                and count(region) <= options.typed_region_tokens
                and anchor.head_tokens + count(region) + anchor.suffix_tokens <= options.max_tokens
            )
            if fits:
                self._anchors.move_to_end(document.uri)
                return dataclasses.replace(
                    fresh,
                    prefix=anchor.head + region,
                    suffix=anchor.suffix,
                    prefix_start=anchor.prefix_start,
                    pinned=anchor.pinned,
                    suffix_end=offset + len(anchor.suffix),
                    typed=len(region),
                )
        room = reserve(options)
        if (
            cut is not None
            and room
            and count(fresh.prefix) + count(fresh.suffix) > (options.max_tokens - room)
        ):
            smaller = cut(options.max_tokens - room)
            # The decisions come from the full cut (they do not depend on the budget).
            fresh = dataclasses.replace(
                fresh,
                prefix=smaller.prefix,
                suffix=smaller.suffix,
                prefix_start=smaller.prefix_start,
                pinned=smaller.pinned,
                suffix_end=smaller.suffix_end,
            )
        # A new anchor where the line rule would split: after the indentation
        # of the cursor's line (or at the cursor without the line rule).
        typed = len(typed_on_line(fresh.prefix)) if options.line_in_middle else 0
        head = fresh.prefix[: len(fresh.prefix) - typed]
        self._anchors[document.uri] = Anchor(
            offset=offset - typed,
            head=head,
            pinned=fresh.pinned,
            prefix_start=fresh.prefix_start,
            suffix=fresh.suffix,
            head_tokens=count(head),
            suffix_tokens=count(fresh.suffix),
        )
        self._anchors.move_to_end(document.uri)
        while len(self._anchors) > self.size:
            self._anchors.popitem(last=False)
        self.reanchored += 1
        return dataclasses.replace(fresh, typed=typed)

    def forget(self, uri: str) -> None:
        self._anchors.pop(uri, None)
