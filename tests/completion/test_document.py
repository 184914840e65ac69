"""Document: line index under edits, listeners, and the attached syntax tree."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from completion.document import Document, DocumentEdit, line_starts_of


def expected_starts(text: str) -> list[int]:
    return [0, *line_starts_of(text)]


@given(
    st.text(alphabet="ab\r\n😀", max_size=30),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 5), st.text(alphabet="x\r\né", max_size=4)),
        max_size=8,
    ),
)
def test_line_index_matches_a_fresh_scan_after_edits(
    text: str, edits: list[tuple[int, int, str]]
) -> None:
    document = Document("mem://lines", text)
    for start, length, inserted in edits:
        start = min(start, len(document.text))
        end = min(start + length, len(document.text))
        document.replace(start, end, inserted)
        assert document._line_starts == expected_starts(document.text)


def test_line_accessors() -> None:
    document = Document("mem://a", "one\r\ntwo\nthree")
    assert document.line_count == 3
    assert [document.line_text(n) for n in range(3)] == ["one", "two", "three"]
    assert document.line_of(5) == 1
    assert document.line_end(0) == 3


def test_listeners_see_every_edit() -> None:
    seen: list[DocumentEdit] = []
    document = Document("mem://b", "hello")
    document.listeners.append(lambda _doc, edit: seen.append(edit))
    document.replace(0, 5, "bye")
    document.set_text("new")
    assert [(e.old_text, e.new_text) for e in seen] == [("hello", "bye"), ("bye", "new")]


def test_syntax_tree_follows_the_language_id() -> None:
    document = Document("mem://c", "x = 1\n", "python")
    assert document.grammar == "python"
    assert document.syntax_tree() is not None
    document.language_id = "plaintext"
    assert document.syntax_tree() is None
    document.language_id = "go"
    assert document.grammar == "go"


def test_set_text_reparses_to_the_new_text() -> None:
    document = Document("mem://d.py", "x = 1\n", "python")
    assert document.syntax_tree() is not None
    document.set_text("def f():\n    pass\n")
    tree = document.syntax_tree()
    assert tree is not None
    assert tree.root_node.children[0].type == "function_definition"


@given(st.text(alphabet="ab\r\n\x0b\u2028😀", max_size=40))
def test_line_starts_break_on_cr_lf_and_crlf_only(text: str) -> None:
    expected = [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    assert line_starts_of(text) == expected
    assert line_starts_of(text.replace("\r", "")) == [
        m.end() for m in re.finditer(r"\n", text.replace("\r", ""))
    ]


def test_a_copy_with_the_same_text_shares_the_line_index() -> None:
    document = Document("mem://share", "a\nb\nc\n")
    document.replace(0, 1, "x")
    copy = Document(document.uri, document.text)
    assert copy._line_starts is document._line_starts
    assert Document("mem://share", "x\nb\nc\n")._line_starts == document._line_starts
