from __future__ import annotations

import pytest

from testbed.scoring import edit_similarity, exact_match, levenshtein, parses


def test_exact_match_ignores_only_surrounding_whitespace() -> None:
    assert exact_match("x = 1\n", "x = 1")
    assert exact_match("    x = 1  \n    y = 2\n\n", "x = 1\n    y = 2")
    assert not exact_match("x = 1", "x = 2")
    assert not exact_match("x=1", "x = 1")
    assert not exact_match("", "x")


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("a", "a", 0)],
)
def test_levenshtein(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance == levenshtein(b, a)


def test_edit_similarity_bounds() -> None:
    assert edit_similarity("return x", "return x") == 1.0
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("", "abc") == 0.0
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)


def test_parses_after_insertion() -> None:
    assert parses("def f():\n    return 1\n", "python") is True
    assert parses("def f(:\n    return 1\n", "python") is False
    assert parses("const a = [1, 2;", "javascript") is False
    assert parses("whatever", "no-such-language") is None
