"""Skip or complete, one line or a block: the rules on real parses."""

from __future__ import annotations

import pytest

from completion.decisions import Decision, DecisionOptions, Multiline, decide
from completion.document import Document

EXTENSIONS = {
    "python": "py",
    "javascript": "js",
    "typescript": "ts",
    "go": "go",
    "rust": "rs",
    "json": "json",
    "yaml": "yaml",
    "ruby": "rb",
    "plaintext": "txt",
    "c": "c",
}


def decide_at(
    marked: str,
    language_id: str,
    mode: Multiline = Multiline.AUTO,
    options: DecisionOptions | None = None,
) -> Decision:
    offset = marked.index("|")
    text = marked[:offset] + marked[offset + 1 :]
    document = Document(f"file:///x.{EXTENSIONS[language_id]}", text, language_id)
    return decide(document, offset, document.syntax_tree(), mode, options)


@pytest.mark.parametrize(
    ("marked", "language_id", "reason"),
    [
        ("total = cou|nt + 1\n", "python", "inside a word"),
        ('{"name": "ab |"}\n', "json", "inside a string of a data file"),
        ('title: "my |"\n', "yaml", "inside a string of a data file"),
        ("print(x)|\n", "python", "after ')' that ends a statement"),
        ("x = [1, 2]|\ny = 3\n", "python", "after ']' that ends a statement"),
        ("foo();|\n", "javascript", "after ';' that ends a statement"),
        ("function f() {\n  return 1;\n}|\n", "javascript", "after '}' that ends a statement"),
        ("let v = vec![1];|\n", "rust", "after ';' that ends a statement"),
        ("x = 1;|\n", "plaintext", "after ';' that ends a statement"),
    ],
)
def test_skips(marked: str, language_id: str, reason: str) -> None:
    decision = decide_at(marked, language_id)
    assert decision.skip_reason == reason


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("if (ready)|\n", "javascript"),  # the statement still needs a body
        ("def f(a)|\n", "python"),  # still needs ':'
        ("total = compute(|)\n", "python"),
        ('s = "ab |"\n', "python"),  # strings in code are completed
        ("for (int i = 0; i < n; i++)|\n", "c"),
        ("f(x)|\n", "plaintext"),  # text rules cannot tell
        ("total = count|\n", "python"),  # end of a word is fine
        ('{"name": |}\n', "json"),
    ],
)
def test_completes(marked: str, language_id: str) -> None:
    assert decide_at(marked, language_id).skip_reason is None


@pytest.mark.parametrize(
    ("marked", "language_id", "multiline", "rule"),
    [
        ("def f(a):\n    |\n", "python", True, None),
        ("def f(a):\n    |\n    return a\n", "python", True, "empty line in body"),
        ("function f() {\n  |\n}\n", "javascript", True, "empty block body"),
        ("function f() {|}\n", "javascript", True, "after block opener"),
        ("def f(a):|\n", "python", True, "after block opener"),
        ("func main() {\n\t|\n}\n", "go", True, "empty block body"),
        ("fn main() {\n    let x = 1;\n    |\n}\n", "rust", True, "empty line in body"),
        ("items.each do|\n", "ruby", True, "after block opener"),
        ("x = 1\n|\n", "python", True, "empty line at top level"),
        ("# explain the |\nx = 1\n", "python", False, "comment"),
        ("// explain the |\nlet x = 1;\n", "javascript", False, "comment"),
        ("total = |\n", "python", True, "line end"),
        ('d = {"a":|\n', "python", True, "line end"),
        ("for item in items:|\n", "python", True, "after block opener"),
        ("total = compute(|)\n", "python", True, "line end"),
        ("const t = { a: 1,|\n", "typescript", True, "line end"),
        ("# notes |\n", "plaintext", False, "comment"),
        ("/* done */|\n", "c", True, "line end"),
        ("x = 1  # why|\n", "python", False, "comment"),
        ("total = compute(|)  # why\n", "python", False, "mid-line"),
        ("    |return total\n", "python", True, "before text on its line"),
        ("|x = 1\n", "python", True, "before text on its line"),
        ("\n|\n", "plaintext", True, "empty line"),
        ("if x {|\n", "plaintext", True, "after block opener"),
    ],
)
def test_single_or_multi_line(
    marked: str, language_id: str, multiline: bool, rule: str | None
) -> None:
    decision = decide_at(marked, language_id)
    assert decision.skip_reason is None
    assert decision.multiline is multiline
    if rule is not None:
        assert decision.rule == rule


def test_modes_override_auto() -> None:
    assert decide_at("total = |\n", "python", Multiline.ALWAYS).multiline
    assert not decide_at("def f():\n    |\n", "python", Multiline.NEVER).multiline
    # Skipping still applies in every mode.
    assert decide_at("cou|nt\n", "python", Multiline.ALWAYS).skip_reason == "inside a word"


def test_rules_can_be_switched_off() -> None:
    off = DecisionOptions(
        skip_inside_word=False,
        skip_after_statement_end=False,
        skip_in_data_strings=False,
        multiline_on_empty_line=False,
        multiline_after_block_opener=False,
        single_line_in_comments=False,
        multiline_before_text=False,
        multiline_at_line_end=False,
    )
    assert decide_at("cou|nt\n", "python", options=off).skip_reason is None
    assert decide_at("print(x)|\n", "python", options=off).skip_reason is None
    assert decide_at('{"a": "b |"}\n', "json", options=off).skip_reason is None
    assert not decide_at("def f():\n    |\n", "python", options=off).multiline
    assert not decide_at("function f() {|}\n", "javascript", options=off).multiline


def test_decision_reaches_the_context() -> None:
    from completion.context import ContextOptions, build_context

    document = Document("file:///x.py", "print(x)\n", "python")
    context = build_context(document, len("print(x)"), ContextOptions())
    assert context.skip_reason == "after ')' that ends a statement"


def test_a_bracket_inside_a_string_does_not_hide_a_block_opener() -> None:
    # The shared scanner skips strings: '(' in a literal leaves no bracket open.
    decision = decide_at('if c == "(":|\n', "python")
    assert (decision.multiline, decision.rule) == (True, "after block opener")
    assert decide_at("d = {key:|\n", "python").rule == "line end"
