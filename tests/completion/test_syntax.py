"""The incremental tree must always equal a fresh parse of the same text."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from completion.document import Document
from completion.languages import parser
from completion.syntax import TREES, SyntaxTree, column_of, point_of
from tests.support.trees import sexp

FRAGMENTS = {
    "python": [
        "def f(x):\n",
        "    return x\n",
        "if a:\n",
        "    pass\n",
        "é = 'ü'\n",
        "(",
        ")",
        "[1, 2]",
        "# 漢字 😀\n",
        '"""doc"""\n',
        "\n",
        "    ",
        "x",
        ":",
        "class C:\n",
        "x = 1\r\n",
    ],
    "javascript": [
        "function f(x) {\n",
        "}\n",
        "const é = '😀';\n",
        "{",
        "}",
        "(",
        ")",
        "// 漢字\n",
        "return x;\n",
        "\n",
        "  ",
        "if (a) ",
        "`t${x}`",
        "x",
    ],
    "rust": [
        "fn f(x: i32) -> i32 {\n",
        "}\n",
        'let é = "😀";\n',
        "{",
        "}",
        "(",
        ")",
        "// 漢字\n",
        "x + 1\n",
        "\n",
        "    ",
        "impl S ",
        "x",
    ],
}
LANGUAGE_IDS = {"python": "python", "javascript": "javascript", "rust": "rust"}


def fresh_sexp(grammar: str, text: str) -> str:
    ts_parser = parser(grammar)
    assert ts_parser is not None
    return sexp(ts_parser.parse(text.encode("utf-8")))


@st.composite
def edit_scripts(draw: st.DrawFn) -> tuple[str, str, list[tuple[float, float, str, bool]]]:
    grammar = draw(st.sampled_from(sorted(FRAGMENTS)))
    pieces = st.sampled_from(FRAGMENTS[grammar])
    text = "".join(draw(st.lists(pieces, max_size=12)))
    edits = draw(
        st.lists(
            st.tuples(
                st.floats(0, 1),
                st.floats(0, 0.3),
                st.one_of(st.text(alphabet="ab é😀漢{}()\n\r:;'\"", max_size=6), pieces),
                st.booleans(),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return grammar, text, edits


@settings(
    max_examples=int(os.environ.get("SYNTAX_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(edit_scripts())
def test_random_edits_keep_the_tree_equal_to_a_fresh_parse(
    script: tuple[str, str, list[tuple[float, float, str, bool]]],
) -> None:
    grammar, text, edits = script
    document = Document(f"mem://{grammar}", text, LANGUAGE_IDS[grammar])
    assert document.syntax_tree() is not None
    expected = text
    for where, length, inserted, look in edits:
        start = int(where * len(expected))
        end = min(len(expected), start + int(length * len(expected)))
        expected = expected[:start] + inserted + expected[end:]
        document.replace(start, end, inserted)
        if look:  # sometimes reparse after each edit, sometimes fold several
            assert_tree_matches(document, grammar, expected)
    assert document.text == expected
    assert_tree_matches(document, grammar, expected)


def assert_tree_matches(document: Document, grammar: str, expected: str) -> None:
    tree = document.syntax_tree()
    if expected.count("\r") != expected.count("\r\n"):
        assert tree is None  # lone CRs: rows would disagree, text rules instead
        return
    assert tree is not None
    assert sexp(tree) == fresh_sexp(grammar, expected)


def test_edits_are_folded_and_parsed_once_on_demand() -> None:
    text = "def f(x):\n    return x\n" * 50
    document = Document("mem://fold.py", text, "python")
    assert document.syntax_tree() is not None
    syntax = document.syntax
    assert syntax is not None
    parses = syntax.parses
    for index, char in enumerate("y = 1"):
        document.replace(10 + index, 10 + index, char)
    assert syntax.parses == parses  # edits alone never parse
    tree = document.syntax_tree()
    assert tree is not None
    assert syntax.parses == parses + 1
    assert document.syntax_tree() is tree  # no edit since: the same tree
    assert sexp(tree) == fresh_sexp("python", document.text)


def test_non_ascii_edit_lands_at_the_right_bytes() -> None:
    document = Document("mem://u.py", "s = '😀'\nx = 1\n", "python")
    assert document.syntax_tree() is not None
    offset = document.text.index("x")
    document.replace(offset, offset + 1, "é_变量")
    tree = document.syntax_tree()
    assert tree is not None
    assert not tree.root_node.has_error
    assert sexp(tree) == fresh_sexp("python", document.text)
    name = tree.root_node.children[1].children[0]
    assert name.text == "é_变量".encode()


def test_unknown_language_has_no_tree() -> None:
    document = Document("file:///notes.txt", "hello\n", "plaintext")
    assert document.syntax is None
    assert document.syntax_tree() is None
    document.replace(0, 0, "x")  # edits still work
    assert document.text == "xhello\n"


def test_language_comes_from_the_extension_when_the_id_is_unknown() -> None:
    document = Document("file:///src/main.rs", "fn main() {}\n", "")
    assert document.grammar == "rust"


def test_lone_carriage_returns_fall_back_to_text_rules() -> None:
    document = Document("mem://cr.py", "x = 1\ry = 2\r", "python")
    assert document.syntax_tree() is None


def test_a_snapshot_shares_the_tree_instead_of_parsing() -> None:
    text = "def f(x):\n    return x\n" * 20
    document = Document("file:///snap.py", text, "python")
    live = document.syntax_tree()
    assert live is not None
    copy = document.snapshot()
    assert copy.syntax is not None
    assert copy.syntax_tree() is not None
    assert copy.syntax.parses == 0
    # A plain copy by constructor (same URI and text) reuses the cached tree too.
    again = Document(document.uri, document.text, document.language_id)
    assert again.syntax is not None
    assert again.syntax_tree() is not None
    assert again.syntax.parses == 0
    # Editing the original does not disturb the copies.
    document.replace(0, 3, "async def")
    assert document.syntax_tree() is not None
    tree = copy.syntax_tree()
    assert tree is not None
    assert sexp(tree) == fresh_sexp("python", text)


def test_tree_cache_misses_on_other_text() -> None:
    ts_parser = parser("python")
    assert ts_parser is not None
    TREES.put(("mem://other.py", "python"), "x = 1\n", ts_parser.parse(b"x = 1\n"))
    assert TREES.get(("mem://other.py", "python"), "x = 2\n") is None
    assert TREES.get(("mem://other.py", "python"), "x = 1\n") is not None


@pytest.mark.parametrize(
    ("line", "column", "byte_column"),
    [("abc", 2, 2), ("é😀x", 2, 6), ("漢字", 1, 3), ("", 0, 0)],
)
def test_point_and_column_conversions(line: str, column: int, byte_column: int) -> None:
    text = "first\n" + line + "\n"
    point = point_of(text, 6, 6 + column, 1)
    assert (point.row, point.column) == (1, byte_column)
    assert column_of(line, byte_column) == column


def test_for_document_without_grammar() -> None:
    assert SyntaxTree.for_document("file:///x.unknown", "") is None


def big_python(functions: int = 400) -> str:
    return "".join(
        f"def f{n}(a):\n    if a:\n        return {n}\n    return a\n\n\n" for n in range(functions)
    )


def test_a_reparse_over_budget_returns_the_edited_tree_and_resumes_later() -> None:
    document = Document("mem://budget.py", big_python(), "python")
    first = document.syntax_tree()
    assert first is not None
    syntax = document.syntax
    assert syntax is not None
    document.replace(10, 10, "x")  # f0 -> f0x... an edit near the top
    stale = document.syntax_tree(budget_ms=1e-6)
    assert stale is first and syntax.interruptions == 1 and not syntax.current
    assert stale.root_node.children[1].start_byte == first.root_node.children[1].start_byte
    # More edits while a parse is put aside: it starts over, and ends right.
    document.replace(len(document.text), len(document.text), "x = 1\n")
    assert document.syntax_tree(budget_ms=1e-6) is first
    tree = document.syntax_tree()
    assert tree is not None and syntax.current
    assert sexp(tree) == fresh_sexp("python", document.text)


def test_an_interrupted_parse_resumes_on_the_same_text() -> None:
    document = Document("mem://resume.py", big_python(), "python")
    assert document.syntax_tree(budget_ms=1e-6) is None  # no tree yet: text rules
    syntax = document.syntax
    assert syntax is not None and syntax.interruptions == 1
    tree = document.syntax_tree(budget_ms=10_000)
    assert tree is not None and syntax.parses == 1
    assert sexp(tree) == fresh_sexp("python", document.text)


def test_node_text_works_on_a_tree_parsed_under_a_budget() -> None:
    text = "import os\n" + "x = 1\n" * 5000
    document = Document("mem://text.py", text, "python")
    tree = document.syntax_tree(budget_ms=10_000)
    assert tree is not None
    assert tree.root_node.children[0].text == b"import os"
    assert tree.root_node.text == text.encode()
