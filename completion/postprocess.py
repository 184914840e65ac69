"""Model output plus a ``Context`` become the text to insert, or nothing.

Last stage of the pipeline, in two parts:
- ``StreamCutter`` watches the stream and says when the answer is known (a
  stop sequence; the first line in single-line mode; in multi-line mode,
  complete lines that repeat and, once given the context, a complete line
  that leaves the cursor's block or replays the suffix), so the engine can be
  stopped early instead of running to max_tokens.
- ``postprocess_insertion`` turns the final text into an ``Insertion`` (the
  text, and how many characters after the cursor it replaces): the rules of
  ``completion.rules`` before and after the named filters of
  ``completion.filters``, all judged in the working view of
  ``completion.placement``; an empty text means "show nothing".
  ``postprocess`` is the same, text only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from completion.context import Context
from completion.filters import (
    DEFAULT_FILTERS,
    Filter,
    block_end,
    block_may_follow,
    normalize_newlines,
    repeats_lines,
    replays_suffix,
)
from completion.placement import Placement, placement_of, working_view
from completion.rules import (
    Insertion,
    drop_leading_blank_lines,
    drop_scope_escape,
    end_before_text,
    fit_first_line_indent,
    guard_syntax,
    keep_newline_at_column_zero,
    keep_space_before_text,
    retype_closers,
)

log = logging.getLogger(__name__)

__all__ = [
    "StreamCutter",
    "first_line_complete",
    "postprocess",
    "postprocess_insertion",
    "strip_special_tokens",
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
    _view: Context | None = None

    def __post_init__(self) -> None:
        # Judged as post-processing will judge it: before existing text or
        # closers, in the working view (completion.placement).
        if self.context is not None:
            self._view = working_view(self.context)

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

    def shown(self) -> str:
        """The text so far as its start will be shown (leading rules applied).

        In-flight adoption compares what the user typed with this, so it must
        start as the post-processed answer will: without the blank lines and
        the doubled indentation ``LEADING_RULES`` remove.
        """
        view = self._view
        if view is None:
            return self.text
        shaped = self.text
        if not shaped.strip():
            return "" if "\n" in shaped and not view.line_prefix.strip() else shaped
        for rule in (drop_leading_blank_lines, fit_first_line_indent):
            shaped = rule(shaped, view)
        return shaped

    def _block_finished(self) -> bool:
        """True once complete lines repeat, leave the block, or replay the suffix."""
        complete = self.text[: self.text.rfind("\n")]
        lines = complete.count("\n") + 1
        if lines <= self._checked_lines:
            return False
        self._checked_lines = lines
        if repeats_lines(complete):
            return True
        context = self._view
        if context is None:
            return False
        if lines == 1 and context.line_prefix.strip() and not context.line_suffix.strip():
            # At a line's end, a block follows only a line that opens one.
            return not block_may_follow(complete, context)
        return block_end(complete, context) < len(complete.rstrip()) or replays_suffix(
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
    """The text of ``postprocess_insertion``."""
    return postprocess_insertion(text, context, stop, filters).text


Rule = Callable[[str, Context], str]
LEADING_RULES: tuple[Rule, ...] = (
    drop_leading_blank_lines,
    drop_scope_escape,
    fit_first_line_indent,
)
"""Run on the raw answer in the working view, before the filters."""


def postprocess_insertion(
    text: str,
    context: Context,
    stop: Sequence[str] = (),
    filters: Sequence[Filter] = DEFAULT_FILTERS,
) -> Insertion:
    """The rules and ``filters`` in order; an empty text once one returns nothing.

    A rule or filter that raises is logged and skipped: one broken rule must
    not cost the user the completion.
    """
    raw = normalize_newlines(strip_special_tokens(text, context, stop), context)
    placement = placement_of(context)
    view = working_view(context)
    if placement is Placement.BEFORE_TEXT and "\n" not in raw.lstrip("\n"):
        view = context  # text typed in front of the line's text: mid-line
    body = raw
    for step in (*LEADING_RULES, *filters):
        try:
            body = step(body, view)
        except Exception:
            log.exception("post-processing rule %s failed; skipped", _name(step))
            continue
        if not body:
            return Insertion("")
    try:
        if view is not context and placement is Placement.BEFORE_TEXT:
            body = end_before_text(body, raw, context)
        elif placement is Placement.EMPTY_LINE:
            body = keep_newline_at_column_zero(body, raw, context)
        if placement is Placement.BEFORE_CLOSERS:
            insertion = retype_closers(body, context)
        else:
            insertion = Insertion(body)
        if not insertion.replaces:
            insertion = Insertion(keep_space_before_text(insertion.text, raw, context))
        return guard_syntax(insertion, context)
    except Exception:
        log.exception("post-processing of the insertion failed; text kept")
        return Insertion(body)


def _name(step: Callable[[str, Context], str]) -> str:
    return getattr(step, "__name__", repr(step))
