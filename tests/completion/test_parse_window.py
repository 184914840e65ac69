"""The bounded parse window (completion/parse_window.py)."""

from __future__ import annotations

from completion.context import Context
from completion.parse_window import char_index, error_nodes, parse, parse_without, window_for


def make_context(prefix: str, suffix: str) -> Context:
    return Context(
        prefix, suffix, "python", True, prefix.rsplit("\n", 1)[-1], suffix.split("\n")[0]
    )


def test_window_starts_at_a_top_level_line_and_ends_at_the_next() -> None:
    context = make_context("x = 1\n\ndef f():\n    ", "\n    return 2\n\ny = 3\nz = 4\n")
    window = window_for(context)
    assert window.above == "def f():\n    "
    assert window.below == "\n    return 2\n\ny = 3"
    assert window.at_top and window.closed


def test_parse_and_incremental_parse_without_a_tail() -> None:
    source = b"def f():\n    return (1\n"
    tree = parse("python", source)
    assert tree is not None and error_nodes(tree.root_node, 0, len(source)) > 0
    cut = source.index(b" (1")
    shorter = parse_without("python", source, cut, len(source) - 1)
    assert shorter is not None and error_nodes(shorter.root_node, 0, cut) == 0


def test_char_index_of_a_byte_offset() -> None:
    assert char_index("é=1", 2) == 1
