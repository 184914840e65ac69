"""The string- and comment-aware bracket scanner (completion/brackets.py)."""

from __future__ import annotations

import pytest

from completion.brackets import (
    brackets,
    is_top_level_start,
    recent_prefix,
    unclosed_openers,
    unmatched_closers,
)


@pytest.mark.parametrize(
    ("text", "grammar", "found"),
    [
        ('f("(", x)', "python", "()"),
        ("f(x) # )", "python", "()"),
        ("f(x) // )", "go", "()"),
        ("f(x) /* ) */", "typescript", "()"),
        ("`${(}`", "typescript", ""),
        ("fn f<'a>(x: &'a str)", "rust", "()"),
        ("let c = ')';", "rust", ""),
        ('"""(\n"""(', "python", "("),
    ],
)
def test_brackets_outside_strings_and_comments(text: str, grammar: str, found: str) -> None:
    assert "".join(char for _, char in brackets(text, grammar)) == found


def test_open_and_unmatched_counts() -> None:
    assert unclosed_openers("f(a, [b", "python") == 2
    assert unclosed_openers("f(a)", "python") == 0
    assert unmatched_closers("x))", "python") == 2
    assert unmatched_closers("(x))", "python") == 1


def test_recent_prefix_starts_at_the_last_top_level_line() -> None:
    prefix = "import os\n\ndef f(\n    a,\n    b"
    assert recent_prefix(prefix) == "def f(\n    a,\n    b"
    assert is_top_level_start("def f():")
    assert not is_top_level_start("}")
    assert not is_top_level_start("    x")
