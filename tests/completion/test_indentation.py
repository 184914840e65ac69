"""Indentation analysis (completion/indentation.py)."""

from __future__ import annotations

from completion.indentation import (
    IndentStyle,
    detect_style,
    indent_width,
    leading_ws,
    lines_of,
    opener_step,
    rescale,
)


def test_leading_whitespace_and_width() -> None:
    assert leading_ws("\t  x") == "\t  "
    assert indent_width("\t  ") == 6
    assert lines_of("a\r\nb") == ["a", "b"]


def test_detect_style_reads_steps_after_openers() -> None:
    assert detect_style("def f():\n  x = 1\n") == IndentStyle(tabs=False, width=2)
    assert detect_style("func f() {\n\tx := 1\n}\n") == IndentStyle(tabs=True, width=4)
    assert detect_style("x = 1\n") is None


def test_opener_step_and_rescale() -> None:
    assert opener_step(["if x:", "  y", "  if z:", "    w"]) == 2
    assert opener_step(["if x:", "  y", "if z:", "    w"]) is None
    assert rescale("      y", 4, 2, 4) == "        y"
