from __future__ import annotations

from pathlib import Path

import pytest

from testbed.holes import KINDS, candidate_spans, cut_holes, glob_match, list_files


def test_same_seed_same_holes_and_another_seed_others(source_tree: Path) -> None:
    first = cut_holes(source_tree, 8, seed=7)
    again = cut_holes(source_tree, 8, seed=7)
    other = cut_holes(source_tree, 8, seed=8)
    assert [h.as_json() for h in first] == [h.as_json() for h in again]
    assert [h.as_json() for h in first] != [h.as_json() for h in other]


def test_every_hole_is_the_file_split_at_the_cursor(source_tree: Path) -> None:
    holes = cut_holes(source_tree, 40, seed=1)
    assert holes
    for hole in holes:
        original = (source_tree / hole.source).read_text()
        assert hole.prefix + hole.expected + hole.suffix == original
        assert hole.expected.strip()
        line, column = hole.position
        assert original.splitlines()[line][:column] == hole.prefix.rsplit("\n", 1)[-1]


def test_all_kinds_are_cut_and_taken_in_turn(source_tree: Path) -> None:
    holes = cut_holes(source_tree, 4, seed=3)
    assert [h.kind for h in holes] == list(KINDS)
    by_kind = {h.kind: h for h in cut_holes(source_tree, 40, seed=3)}
    assert "\n" in by_kind["block"].expected
    assert "\n" not in by_kind["line"].expected
    arguments = by_kind["arguments"]
    assert arguments.prefix.endswith("(") and arguments.suffix.startswith(")")


def test_python_candidates() -> None:
    from tests.testbed.conftest import PYTHON_SOURCE

    source = PYTHON_SOURCE.encode()
    spans = candidate_spans(source, "python")
    texts = {(s.kind, source[s.start : s.end].decode()) for s in spans}
    assert ("line", "value = math.pi * radius * radius") in texts
    assert ("rest-of-line", "math.pi * radius * radius") in texts
    assert ("arguments", "name, len(name)") in texts
    assert ("block", "value = value * scale\n        value = round(value, 2)") in texts
    # A docstring is prose: never a line hole of its own.
    assert not any('"""' in text for kind, text in texts if kind != "block")


def test_files_that_do_not_parse_or_are_not_code_are_skipped(source_tree: Path) -> None:
    sources = {h.source for h in cut_holes(source_tree, 200, seed=0)}
    assert sources == {"pkg/shapes.py", "web/cart.js"}
    assert "node_modules/dep.js" not in list_files(source_tree)


def test_include_and_exclude_globs(source_tree: Path) -> None:
    python = cut_holes(source_tree, 50, seed=0, include=["**/*.py"])
    assert {h.source for h in python} == {"pkg/shapes.py"}
    no_js = cut_holes(source_tree, 50, seed=0, exclude=["web/**"])
    assert {h.source for h in no_js} == {"pkg/shapes.py"}
    assert {h.language_id for h in cut_holes(source_tree, 50, seed=0)} == {
        "python",
        "javascript",
    }


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("cli.py", "**/*.py", True),
        ("a/b/c.py", "**/*.py", True),
        ("a/b/c.py", "*.py", True),
        ("a/b/c.py", "a/*.py", False),
        ("a/c.py", "a/*.py", True),
        ("tests/x/y.js", "tests/**", True),
        ("src/x.pyc", "**/*.py", False),
    ],
)
def test_glob_match(path: str, pattern: str, matches: bool) -> None:
    assert glob_match(path, pattern) is matches
