"""Model output plus a ``Context`` become the text to insert, or nothing.

Last stage of the pipeline, in two parts:
- ``StreamCutter`` watches the stream and says when the answer is known (a
  stop sequence; the first line in single-line mode; in multi-line mode,
  complete lines that repeat and, once given the context, a complete line
  that leaves the cursor's block or replays the suffix), so the engine can be
  stopped early instead of running to max_tokens.
- ``postprocess`` runs the named filters of ``completion.filters`` over the
  final text, in order; an empty string means "show nothing".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from completion.context import Context
from completion.filters import (
    DEFAULT_FILTERS,
    Filter,
    drop_empty,
    indent_block_end,
    keep_first_line,
    repeats_lines,
    replays_suffix,
    trim_trailing_whitespace,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FILTERS",
    "Filter",
    "StreamCutter",
    "drop_empty",
    "first_line_complete",
    "keep_first_line",
    "postprocess",
    "strip_special_tokens",
    "trim_trailing_whitespace",
]


@dataclass
class StreamCutter:
    """Accumulates streamed pieces and decides when generation can stop.

    ``context`` is optional: without it, multi-line output runs until a stop
    sequence, a repeated block of lines, or max_tokens; with it, the cutter
    also stops at the end of the cursor's block (by indentation, cheap enough
    for every line) and when the output replays the suffix.
    """

    stop: Sequence[str]
    multiline: bool
    context: Context | None = None
    text: str = ""
    done: bool = False
    _checked_lines: int = 0

    def feed(self, piece: str) -> bool:
        """Add ``piece``; return True once no more output is needed."""
        if self.done:
            return True
        self.text += piece
        # Only the tail can newly contain a stop sequence.
        window = max((len(s) for s in self.stop), default=0) + len(piece)
        start = max(0, len(self.text) - window)
        cut = min(
            (i for s in self.stop if s and (i := self.text.find(s, start)) != -1),
            default=-1,
        )
        if cut != -1:
            self.text = self.text[:cut]
            self.done = True
        elif not self.multiline and first_line_complete(self.text):
            self.done = True
        elif self.multiline and "\n" in piece:
            self.done = self._block_finished()
        return self.done

    def _block_finished(self) -> bool:
        """True once complete lines repeat, leave the block, or replay the suffix."""
        complete = self.text[: self.text.rfind("\n")]
        lines = complete.count("\n") + 1
        if lines <= self._checked_lines:
            return False
        self._checked_lines = lines
        if repeats_lines(complete):
            return True
        context = self.context
        if context is None:
            return False
        return indent_block_end(complete, context) < len(complete.rstrip()) or replays_suffix(
            complete, context
        )


def first_line_complete(text: str) -> bool:
    """True once ``text`` holds a newline after some non-blank content."""
    newline = text.find("\n", len(text) - len(text.lstrip()))
    return newline != -1 and bool(text[:newline].strip())


def strip_special_tokens(text: str, context: Context, stop: Sequence[str] = ()) -> str:
    """Cut at the first stop/FIM token, in case the engine did not stop there."""
    cut = min((i for s in stop if s and (i := text.find(s)) != -1), default=-1)
    return text if cut == -1 else text[:cut]


def postprocess(
    text: str,
    context: Context,
    stop: Sequence[str] = (),
    filters: Sequence[Filter] = DEFAULT_FILTERS,
) -> str:
    """Run ``filters`` in order; stop early once one returns nothing.

    A filter that raises is logged and skipped: one broken rule must not cost
    the user the completion.
    """
    text = strip_special_tokens(text, context, stop)
    for step in filters:
        try:
            text = step(text, context)
        except Exception:
            log.exception("post-processing filter %s failed; skipped", _name(step))
            continue
        if not text:
            return ""
    return text


def _name(step: Filter) -> str:
    return getattr(step, "__name__", repr(step))
