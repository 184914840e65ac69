"""Where the cursor sits on its line, and the view of the context the rules work in.

Part of the last pipeline stage, computed once per request and carried: the
post-processing rules (``completion.rules``) and the stream cutter read it
instead of re-deriving it from ``line_prefix``/``line_suffix`` each.

Two placements are turned into the common "end of an empty or non-empty
line" case before the filters run, so every filter keeps its simple model of
a cursor with nothing after it on its line:
- before existing text (``|    return total``): the text after the cursor is
  treated as the next line; the answer is inserted as whole lines, ending with
  the newline that separates it from that text;
- before closers only (``def area(|)``): the closers are left out of the view;
  the answer may type them itself, and the item's range then replaces them.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from completion.brackets import is_closers_only
from completion.context import Context


class Placement(StrEnum):
    EMPTY_LINE = "empty line"
    """Nothing but whitespace on the cursor's line."""
    BEFORE_TEXT = "before text"
    """Only whitespace left of the cursor, code right of it."""
    BEFORE_CLOSERS = "before closers"
    """Code left of the cursor, only closing brackets and separators right of it."""
    LINE_END = "line end"
    """Code left of the cursor, nothing right of it."""
    MID_LINE = "mid-line"
    """Code on both sides."""


def placement_of(context: Context) -> Placement:
    before = context.line_prefix.strip()
    after = context.line_suffix.strip()
    if not before:
        return Placement.BEFORE_TEXT if after else Placement.EMPTY_LINE
    if not after:
        return Placement.LINE_END
    if is_closers_only(context.line_suffix):
        return Placement.BEFORE_CLOSERS
    return Placement.MID_LINE


def as_empty_line(context: Context) -> Context:
    """The view for a cursor before existing text: that text starts the next line.

    The existing text keeps the cursor's indentation once the answer's closing
    newline pushes it down, so the view's suffix repeats ``line_prefix``.
    """
    return dataclasses.replace(
        context,
        suffix="\n" + context.line_prefix + context.suffix,
        line_suffix="",
    )


def as_line_end(context: Context) -> Context:
    """The view for a cursor before closers only: the closers are not there."""
    return dataclasses.replace(
        context,
        suffix=context.suffix[len(context.line_suffix) :],
        line_suffix="",
    )


def working_view(context: Context) -> Context:
    """The context the filters and the stream cutter judge the answer in."""
    placement = placement_of(context)
    if placement is Placement.BEFORE_TEXT:
        return as_empty_line(context)
    if placement is Placement.BEFORE_CLOSERS:
        return as_line_end(context)
    return context
