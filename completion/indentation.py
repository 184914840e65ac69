"""Indentation analysis: leading whitespace, widths, and a document's indent style.

A library for post-processing (``completion.filters``): pure text functions
with no knowledge of the cursor, so they can be used on any lines.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


def lines_of(text: str) -> list[str]:
    """Split on ``\\n`` and drop a trailing ``\\r`` from each line."""
    return [line.rstrip("\r") for line in text.split("\n")]


def leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(ws: str, tab: int = 4) -> int:
    """Columns taken by leading whitespace, tabs counted as ``tab`` columns."""
    if "\t" not in ws:
        return len(ws)
    return sum(tab if char == "\t" else 1 for char in ws)


@dataclass(frozen=True)
class IndentStyle:
    """How a document indents: with tabs, or with ``width`` spaces per level."""

    tabs: bool
    width: int


def detect_style(text: str) -> IndentStyle | None:
    """The indentation style of ``text``, or None when it has no indented lines.

    The width is the commonest step after a block opener (``:`` or ``{`` at
    the end of a line): steps elsewhere include docstrings and aligned
    continuation lines, which say nothing about the style.
    """
    tab_lines = space_lines = 0
    steps: dict[int, int] = {}
    previous: str | None = None
    for line in lines_of(text):
        if not line.strip():
            continue
        ws = leading_ws(line)
        if ws.startswith("\t"):
            tab_lines += 1
        elif ws:
            space_lines += 1
        if previous is not None and "\t" not in ws and previous.rstrip().endswith((":", "{")):
            step = len(ws) - len(leading_ws(previous))
            if step in (2, 3, 4, 8):
                steps[step] = steps.get(step, 0) + 1
        previous = line
    if not tab_lines and not space_lines:
        return None
    if tab_lines > space_lines:
        return IndentStyle(tabs=True, width=4)
    width = max(steps, key=lambda step: (steps[step], step)) if steps else 4
    return IndentStyle(tabs=False, width=width)


def space_unit(lines: Sequence[str]) -> int:
    widths = [len(leading_ws(line)) for line in lines if leading_ws(line)]
    unit = functools.reduce(math.gcd, widths, 0)
    return unit if unit in (2, 3, 4, 8) else 4


def respace(line: str, unit: int, char: str, per_level: int) -> str:
    ws = leading_ws(line)
    levels, extra = divmod(len(ws), unit)
    return char * (levels * per_level) + " " * extra + line[len(ws) :]


def opener_step(lines: Sequence[str]) -> int | None:
    """The one indent step used after block openers (``:``, ``{``), if they agree."""
    steps: set[int] = set()
    content = [line for line in lines if line.strip()]
    for line, following in itertools.pairwise(content):
        if line.rstrip().endswith((":", "{")):
            step = len(leading_ws(following)) - len(leading_ws(line))
            if step > 0:
                steps.add(step)
    if len(steps) == 1:
        step = steps.pop()
        return step if step in (2, 4, 8) else None
    return None


def rescale(line: str, base: int, unit: int, width: int) -> str:
    """Re-indent ``line`` so each ``unit`` of indent past ``base`` becomes ``width``."""
    ws = len(leading_ws(line))
    if not line.strip() or ws <= base:
        return line
    levels, extra = divmod(ws - base, unit)
    return " " * (base + levels * width + extra) + line[ws:]
