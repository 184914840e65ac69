"""Each post-processing filter on its own (completion/filters.py)."""

from __future__ import annotations

import pytest

from completion import filters
from completion.brackets import brackets
from completion.context import Context
from completion.indentation import IndentStyle, detect_style


def make_context(
    prefix: str, suffix: str = "", language_id: str = "python", multiline: bool = True
) -> Context:
    """A Context as build_context would cut it for a cursor between prefix and suffix."""
    line_prefix = prefix.rsplit("\n", 1)[-1]
    return Context(
        prefix=prefix,
        suffix=suffix,
        language_id=language_id,
        multiline=multiline,
        line_prefix=line_prefix,
        line_suffix=suffix.split("\n", 1)[0],
        indent=line_prefix[: len(line_prefix) - len(line_prefix.lstrip(" \t"))],
    )


PY_BODY = make_context("def add(a, b):\n    ", "\n\n\nx = add(1, 2)\nprint(x)\n")
GO_BODY = make_context("func add(a, b int) int {\n\t", "\n}\n\nfunc main() {\n}\n", "go")


# --- normalize_newlines / keep_first_line


def test_normalize_newlines_maps_crlf_and_cr() -> None:
    assert filters.normalize_newlines("a\r\nb\rc", PY_BODY) == "a\nb\nc"


def test_keep_first_line_in_single_line_mode() -> None:
    context = make_context("x = ", "\n", multiline=False)
    assert filters.keep_first_line("1\ny = 2\n", context) == "1"


def test_keep_first_line_skips_leading_newlines_at_line_start() -> None:
    context = make_context("def f():\n    ", "\n", multiline=False)
    assert filters.keep_first_line("\n\nreturn 1\nmore", context) == "return 1"


def test_keep_first_line_drops_a_new_line_started_mid_line() -> None:
    context = make_context("x = foo", "\n", multiline=False)
    assert filters.keep_first_line("\nbar()", context) == ""


def test_keep_first_line_leaves_multiline_alone() -> None:
    assert filters.keep_first_line("a\nb", PY_BODY) == "a\nb"


# --- trim_suffix_overlap


def test_overlap_rest_of_line_is_removed() -> None:
    context = make_context("print(len(", "))\n", multiline=False)
    assert filters.trim_suffix_overlap("items))", context) == "items"


def test_overlap_partial_closers_of_rest_of_line() -> None:
    context = make_context("def f(a, b", "):\n    pass\n", multiline=False)
    assert filters.trim_suffix_overlap(", c)", context) == ", c"


def test_overlap_keeps_words_that_only_look_like_the_suffix_start() -> None:
    context = make_context("total = a + ", "bc)\n", multiline=False)
    assert filters.trim_suffix_overlap("x + b", context) == "x + b"
    context = make_context("total = a + ", "b\n", multiline=False)
    assert filters.trim_suffix_overlap("c + b", context) == "c + "


def test_overlap_following_lines_are_cut() -> None:
    raw = "total = a + b\n    return total\n\n\nx = add(1, 2)\nprint(x)"
    context = make_context("def add(a, b):\n    ", "\n    return total\n\n\nx = add(1, 2)\n")
    assert filters.trim_suffix_overlap(raw, context) == "total = a + b"


def test_overlap_accepts_a_cut_off_last_line() -> None:
    raw = "s := a + b\n\treturn s\n}\n\nfunc ma"
    assert filters.trim_suffix_overlap(raw, GO_BODY) == "s := a + b\n\treturn s"


def test_overlap_respects_indentation_of_closers() -> None:
    raw = "if a > b {\n\t\treturn a\n\t}\n\treturn b"
    assert filters.trim_suffix_overlap(raw, GO_BODY) == raw


def test_overlap_whole_completion_is_the_next_line() -> None:
    context = make_context("def f():\n    ", "\n    return 1\n")
    assert filters.trim_suffix_overlap("return 1", context) == ""


# --- drop_repetition


def test_repeated_line_is_cut_after_first() -> None:
    raw = "x = 1\n    y = 2\n    y = 2\n    y = 2"
    assert filters.drop_repetition(raw, PY_BODY) == "x = 1\n    y = 2"


def test_repeated_block_of_lines_is_cut() -> None:
    raw = "a = f()\n    b = g(a)\n    a = f()\n    b = g(a)\n    a = f()"
    assert filters.drop_repetition(raw, PY_BODY) == "a = f()\n    b = g(a)"


def test_repeated_closers_are_not_repetition() -> None:
    raw = "foo(\n    bar(\n        1\n    )\n)\n)"
    assert filters.drop_repetition(raw, PY_BODY) == raw


def test_line_ending_in_a_loop_keeps_one_unit() -> None:
    raw = "x = 1\n    y = f(a, b, b, b, b, b, b, b, b, b, b"
    assert filters.drop_repetition(raw, PY_BODY) == "x = 1\n    y = f(a, b"
    # Only the last line: a loop that the model left and moved on from is not degenerate.
    raw = "x = f(a, b, b, b, b, b, b, b, b, b, b)\n    z = 2"
    assert filters.drop_repetition(raw, PY_BODY) == raw


def test_banner_comment_is_not_a_loop() -> None:
    raw = "# ----------------------------------\n    x = 1"
    assert filters.drop_repetition(raw, PY_BODY) == raw


@pytest.mark.parametrize(
    ("line", "loops"),
    [
        ("a, a, a, a, a, a, a, a, a", "a"),
        ("numbers, numbers, numbers, numbers, numbers", "numbers"),
        ("f(a, b, b, b, b, b, b, b, b, b, b, b", "f(a, b"),
        ("f(depth, max_depth, max_depth, max_depth, max_depth, max_de", "f(depth, max_depth"),
        ("' ', ' ', ' ', ' ', ' ', ' '", "' '"),
        ("values = [0, 0, 0, 0]", None),
        ("return self.self.self.self.self.se", "return self."),
        ("=" * 40, None),
    ],
)
def test_cut_loop(line: str, loops: str | None) -> None:
    assert filters.cut_loop(line) == loops


# --- truncate_block


def test_block_python_stops_at_dedent_by_parse() -> None:
    raw = "s = a + b\n    return s\n\n\ndef other():\n    pass"
    assert filters.truncate_block(raw, PY_BODY) == "s = a + b\n    return s"


def test_block_python_after_opener_stops_at_sibling() -> None:
    context = make_context("def f(x):\n    if x:", "\n    return 0\n")
    raw = "\n        x += 1\n    else:\n        x -= 1\n    print(x)"
    assert filters.truncate_block(raw, context) == "\n        x += 1\n    else:\n        x -= 1"


def test_block_top_level_keeps_first_definition() -> None:
    context = make_context("import os\n\n", "")
    raw = "def f():\n    return 1\n\n\ndef g():\n    return 2"
    assert filters.truncate_block(raw, context) == "def f():\n    return 1"


def test_block_go_stops_after_closing_brace() -> None:
    raw = "s := a + b\n\treturn s\n}\n\nfunc junk() {\n}"
    assert filters.truncate_block(raw, GO_BODY) == "s := a + b\n\treturn s\n}"


def test_block_single_line_mode_untouched() -> None:
    context = make_context("x = ", "\n", multiline=False)
    assert filters.truncate_block("1\ny", context) == "1\ny"


def test_block_indentation_fallback_without_grammar() -> None:
    context = make_context("proc f {\n  ", "\n}\n", "tcl")
    raw = "set x 1\n  return $x\n}\n\nproc g {}"
    assert filters.truncate_block(raw, context) == "set x 1\n  return $x\n}"


def test_block_after_wrapped_opener_uses_statement_indent() -> None:
    context = make_context("def f(a, b):\n    if (a and\n            b):", "\n    return 0\n", "x")
    raw = "\n        return 1\n    return 2"
    assert filters.truncate_block(raw, context) == "\n        return 1"


def test_indent_block_end_continuation_keywords() -> None:
    context = make_context("try:", "\n", "unknown")
    raw = "\n    x()\nexcept E:\n    y()\nz()"
    assert raw[: filters.indent_block_end(raw, context)] == "\n    x()\nexcept E:\n    y()"


# --- balance_brackets


def test_balance_drops_closer_the_line_suffix_has() -> None:
    context = make_context("cost = add(", ")\n", multiline=False)
    assert filters.balance_brackets("speed, right)", context) == "speed, right"


def test_balance_keeps_closer_without_suffix() -> None:
    context = make_context("cost = add(", "\n", multiline=False)
    assert filters.balance_brackets("speed, right)", context) == "speed, right)"


def test_balance_nested_autopair() -> None:
    context = make_context("print(len(", "\n", multiline=False)
    assert filters.balance_brackets("x))", context) == "x))"
    context = make_context("print(len(", ")\n", multiline=False)
    assert filters.balance_brackets("x))", context) == "x)"


def test_balance_multiline_closer_already_in_suffix() -> None:
    raw = "s := a + b\n\treturn s\n}"
    assert filters.balance_brackets(raw, GO_BODY).rstrip() == "s := a + b\n\treturn s"


def test_balance_multiline_end_of_file_keeps_closer_and_stops() -> None:
    context = make_context("func add(a, b int) int {\n\t", "", "go")
    raw = "return a + b\n}\n\nfunc sub() {}"
    assert filters.balance_brackets(raw, context) == "return a + b\n}"


def test_balance_ignores_brackets_in_strings_and_comments() -> None:
    context = make_context("x = f(", ")\n", multiline=False)
    assert filters.balance_brackets('")", 1  # )', context) == '")", 1  # )'


def test_brackets_rust_lifetimes_are_not_strings() -> None:
    found = brackets("fn f<'a>(s: &'a str) -> char { '}' }", "rust")
    assert "".join(char for _, char in found) == "(){}"


# --- trim_syntax_errors


def test_syntax_drops_unfinished_last_statement() -> None:
    raw = "s = a + b\n    t = s * 2\n    return foo(s,"
    assert filters.trim_syntax_errors(raw, PY_BODY) == "s = a + b\n    t = s * 2"


def test_syntax_keeps_clean_completion() -> None:
    raw = "s = a + b\n    return s"
    assert filters.trim_syntax_errors(raw, PY_BODY) == raw


def test_syntax_drops_unclosed_block_in_typescript() -> None:
    context = make_context("function f(a: number): number {\n  ", "\n}\n", "typescript")
    raw = "const b = a * 2;\n  if (b > 3) {\n    return b;"
    assert filters.trim_syntax_errors(raw, context) == "const b = a * 2;"


# --- normalize_indentation


def test_indentation_spaces_to_tabs() -> None:
    raw = "s := a + b\n    if s > 0 {\n        return s\n    }\n    return 0"
    expected = "s := a + b\n\tif s > 0 {\n\t\treturn s\n\t}\n\treturn 0"
    context = make_context("func add(a, b int) int {\n\tx := 1\n\t", "\n}\n", "go")
    assert filters.normalize_indentation(raw, context) == expected


def test_indentation_tabs_to_spaces() -> None:
    context = make_context("def f(x):\n    y = 1\n    ", "\n")
    assert (
        filters.normalize_indentation("if x:\n\t\treturn y", context) == "if x:\n        return y"
    )


def test_indentation_width_rescaled() -> None:
    context = make_context("def f(x):\n    if x:\n        pass\n    ", "\n")
    raw = "for i in x:\n      if i:\n        print(i)"
    expected = "for i in x:\n        if i:\n            print(i)"
    assert filters.normalize_indentation(raw, context) == expected


def test_detect_style() -> None:
    assert detect_style("a\n\tb\n\t\tc\n") == IndentStyle(tabs=True, width=4)
    assert detect_style("a:\n  b:\n    c\n") == IndentStyle(tabs=False, width=2)
    # Docstring and continuation steps do not count, only steps after openers.
    text = (
        'def f(x):\n    """Doc.\n\n      Example.\n    """\n    if x:\n        g(1,\n          2)\n'
    )
    assert detect_style(text) == IndentStyle(tabs=False, width=4)
    assert detect_style("a\nb\n") is None


# --- trim_trailing_whitespace / drop_empty


def test_trailing_whitespace_on_every_line() -> None:
    assert filters.trim_trailing_whitespace("a  \n  b \n\n", PY_BODY) == "a\n  b"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\n"])
def test_drop_empty_blank(raw: str) -> None:
    assert filters.drop_empty(raw, PY_BODY) == ""


def test_drop_empty_equal_to_rest_of_line() -> None:
    context = make_context("foo(", "x)\n", multiline=False)
    assert filters.drop_empty("x)", context) == ""


def test_drop_empty_equal_to_next_line() -> None:
    context = make_context("def f():\n    ", "\n    return 1\n")
    assert filters.drop_empty("return 1", context) == ""
    assert filters.drop_empty("return 2", context) == "return 2"
