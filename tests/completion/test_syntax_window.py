"""A big document's windowed tree must decide and cut exactly as the whole tree does."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from completion import context as context_module
from completion import document as document_module
from completion.context import Context, TokenCounter, build_context
from completion.crossfile.definitions import extract_imports
from completion.document import Document
from completion.languages import parser
from completion.postprocess import postprocess
from completion.syntax import TREES, is_windowed, spans_of
from completion.syntax_window import WINDOWED_FROM, LineSpan, TextMarks, is_boundary
from engines.base import TokenEstimator

if TYPE_CHECKING:
    from tree_sitter import Node

ROOT = Path(__file__).parents[2]
SOURCES = {
    "python": sorted((ROOT / "completion").glob("*.py")),
    "typescript": [ROOT / "bench" / "corpus" / "inventory.ts"],
    "go": sorted((ROOT / "tests" / "completion" / "golden" / "sources").glob("*.go")),
}
EXTENSION = {"python": "py", "typescript": "ts", "go": "go"}


@dataclass(frozen=True)
class ContextOptions(context_module.ContextOptions):
    """No parse budget: a busy machine must not turn a syntax cut into a text cut."""

    parse_budget_ms: float = 0.0


def repeated(language: str, lines: int) -> str:
    """Real source, repeated to ``lines`` lines (files joined at top level)."""
    source = "".join(path.read_text("utf-8") + "\n" for path in SOURCES[language])
    out: list[str] = []
    while len(out) < lines:
        out.extend(source.splitlines(keepends=True))
    return "".join(out[:lines])


def whole_tree_context(
    text: str,
    language: str,
    offset: int,
    monkeypatch: pytest.MonkeyPatch,
    count: TokenCounter | None = None,
) -> Context:
    """The context as before windowing: the same text, parsed whole."""
    with monkeypatch.context() as patch:
        patch.setattr(document_module, "WINDOWED_FROM", len(text) + 1)
        document = Document(f"file:///whole/{language}.{EXTENSION[language]}", text, language)
        return build_context(document, offset, ContextOptions(), count or TokenEstimator())


def cursors(document: Document, count: int, seed: int) -> list[int]:
    """Random cursors, on any line but the last (which a repeated file runs on from)."""
    rng = random.Random(seed)
    offsets = []
    for _ in range(count):
        line = rng.randrange(document.line_count - 1)
        offsets.append(document.line_start(line) + rng.randrange(len(document.line_text(line)) + 1))
    return offsets


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_a_50000_line_file_decides_and_cuts_as_with_the_whole_tree(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = repeated(language, 50_000)
    document = Document(f"file:///big/{language}.{EXTENSION[language]}", text, language)
    for offset in cursors(document, 40, seed=11):
        windowed = build_context(document, offset, ContextOptions(), TokenEstimator())
        tree = document.syntax_tree()
        assert tree is not None and is_windowed(tree)
        assert windowed == whole_tree_context(text, language, offset, monkeypatch), offset
    syntax = document.syntax
    assert syntax is not None
    assert sum(len(span.encode()) for span in text.splitlines()[:10]) < WINDOWED_FROM
    assert syntax.windows >= 10  # the cursors were far apart: the window moved


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_truncation_at_a_cursor_equals_the_small_file_holding_that_region(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = "".join(path.read_text("utf-8") + "\n" for path in SOURCES[language])
    copies = -(-50_000 // small.count("\n"))
    big = small * copies  # 50,000 lines or more
    copy = copies // 2  # the cursor in the middle copy
    base = Document("file:///small." + EXTENSION[language], small, language)
    document = Document("file:///big/copies." + EXTENSION[language], big, language)
    for offset in cursors(base, 12, seed=5):
        near = build_context(base, offset, ContextOptions(), TokenEstimator())
        far = build_context(
            document, offset + copy * len(small), ContextOptions(), TokenEstimator()
        )
        assert (far.rule, far.multiline, far.skip_reason) == (
            near.rule,
            near.multiline,
            near.skip_reason,
        )
        overrun = "value = compute(a, b)\n" + far.suffix[:300]
        expected = whole_tree_context(big, language, offset + copy * len(small), monkeypatch)
        assert postprocess(overrun, far, ["<|EOT|>"]) == postprocess(overrun, expected, ["<|EOT|>"])
        if near.suffix[:300] == far.suffix[:300]:  # not cut short by the small file's end
            assert postprocess(overrun, far, ["<|EOT|>"]) == postprocess(overrun, near, ["<|EOT|>"])


def test_edits_outside_the_window_keep_it_and_shift_its_nodes() -> None:
    text = repeated("go", 20_000)
    document = Document("file:///big/edits.go", text, "go")
    middle = len(text) // 2
    tree = document.syntax_tree(None, (middle - 4000, middle + 1000))
    syntax = document.syntax
    assert tree is not None and syntax is not None
    windows, spans = syntax.windows, spans_of(document, tree)
    document.replace(len(document.text) - 1, len(document.text) - 1, "\n// below\n")
    head_end = document.line_start(spans[0].end) - 1  # in the gap between head and window
    document.replace(head_end, head_end, "\n\nvar inserted = 1\n")
    shifted = middle + len("\n\nvar inserted = 1\n")
    tree = document.syntax_tree(None, (shifted - 4000, shifted + 1000))
    assert tree is not None
    assert syntax.windows == windows  # still covered: reparsed in place, not moved
    assert_window_matches_a_fresh_parse(document, "go")


def test_the_cursor_leaving_the_window_moves_it() -> None:
    text = repeated("typescript", 20_000)
    document = Document("file:///big/moves.ts", text, "typescript")
    syntax = document.syntax
    assert syntax is not None
    build_context(document, len(text) // 4, ContextOptions(), TokenEstimator())
    first = spans_of(document, document.syntax_tree())  # type: ignore[arg-type]
    build_context(document, len(text) // 4 + 10, ContextOptions(), TokenEstimator())
    assert syntax.windows == 1  # a step inside the window: no new window
    far = 3 * len(text) // 4
    build_context(document, far, ContextOptions(), TokenEstimator())
    assert syntax.windows == 2
    moved = spans_of(document, document.syntax_tree())  # type: ignore[arg-type]
    assert moved != first
    assert any(span.covers(document.line_of(far), document.line_of(far)) for span in moved)
    assert_window_matches_a_fresh_parse(document, "typescript")


def test_a_cut_outside_the_window_moves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A counter that lets more lines in than the estimate's reach: the cut still cleans."""
    text = "".join(f"def f{n}(x):\n    return x + {n}\n\n\n\n\n" for n in range(8000))
    document = Document("file:///big/blank.py", text, "python")
    offset = document.line_start(document.line_count // 2) + len("def f")
    syntax = document.syntax
    assert syntax is not None

    def words(piece: str) -> int:
        return len(piece.split())  # blank lines are free: the cut reaches far

    windowed = build_context(document, offset, ContextOptions(), words)
    assert offset - windowed.prefix_start > 4 * ContextOptions().max_tokens
    tree = document.syntax_tree()
    assert tree is not None and is_windowed(tree)
    assert document.tree_covers(
        tree, document.line_of(windowed.prefix_start), document.line_of(offset)
    )
    assert windowed == whole_tree_context(text, "python", offset, monkeypatch, words)


def test_imports_are_read_from_the_head_of_a_windowed_tree() -> None:
    header = "import os\nfrom typing import Any\n\nfrom completion import syntax\n\n\n"
    body = "".join(f"def f{n}(x: Any) -> Any:\n    return x + {n}\n\n\n" for n in range(6000))
    document = Document("file:///big/imports.py", header + body, "python")
    middle = len(document.text) // 2
    windowed = document.syntax_tree(None, (middle, middle + 10))
    ts_parser = parser("python")
    assert windowed is not None and ts_parser is not None and is_windowed(windowed)
    whole = ts_parser.parse(document.text.encode())
    expected = extract_imports("python", whole.root_node)
    assert len(expected) == 3
    assert extract_imports("python", windowed.root_node) == expected


def test_a_boundary_inside_a_string_is_moved_out() -> None:
    """A column-0 ``def`` inside a module string looks like a boundary; the parse says not."""
    functions = "".join(f"def f{n}(x):\n    return x + {n}\n\n\n" for n in range(1000))
    trap = 'TEMPLATE = """\n' + "def fake():\n    pass\n\n" * 40 + '"""\n\n\n'
    text = functions + trap + functions + functions
    document = Document("file:///big/trap.py", text, "python")
    fake = text.index("def fake") + 20 * len("def fake():\n    pass\n\n")
    line = document.line_of(fake)
    assert is_boundary(document, line - 1) or is_boundary(document, line + 3)
    tree = document.syntax_tree(None, (fake, fake + 10))
    assert tree is not None and is_windowed(tree) and not tree.root_node.is_error
    assert_window_matches_a_fresh_parse(document, "python")


def test_a_stray_fence_in_a_comment_still_finds_the_boundaries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One ``\"\"\"`` in a comment turns the fence count over for the rest of the file."""
    functions = "".join(f"def f{n}(x):\n    return x + {n}\n\n\n" for n in range(1000))
    trap = 'TEMPLATE = """\n' + "def fake():\n    pass\n\n" * 40 + '"""\n\n\n'
    text = '# a stray """ here\n' + functions + trap + functions + trap + functions
    document = Document("file:///big/stray.py", text, "python")
    for offset in (text.index("def fake") + 400, text.rindex("def fake") - 400, len(text) // 2):
        windowed = build_context(document, offset, ContextOptions(), TokenEstimator())
        assert windowed == whole_tree_context(text, "python", offset, monkeypatch), offset
        # Windowed where its edges parse clean, else whole: either way as the whole tree.
        assert_window_matches_a_fresh_parse(document, "python")


def test_a_class_longer_than_the_scan_is_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """No boundary within reach: the document falls back to the whole incremental tree."""
    body = "".join(f"    def m{n}(self, x):\n        return x + {n}\n\n" for n in range(4000))
    text = "import os\n\n\nclass Big:\n" + body
    document = Document("file:///big/class.py", text, "python")
    offset = len(text) // 2
    windowed = build_context(document, offset, ContextOptions(), TokenEstimator())
    tree = document.syntax_tree()
    syntax = document.syntax
    assert tree is not None and syntax is not None
    assert not is_windowed(tree) and syntax.windows == 0
    assert windowed == whole_tree_context(text, "python", offset, monkeypatch)


def test_a_snapshot_shares_the_window_and_the_request_needs_no_new_one() -> None:
    TREES._entries.clear()
    text = repeated("go", 20_000)
    document = Document("file:///big/snapshot.go", text, "go")
    middle = document.line_end(document.line_count // 2)
    document.syntax_tree(None, (middle - 6000, middle + 2000))
    document.replace(middle, middle, " ")
    copy = document.snapshot()
    copy_syntax = copy.syntax
    assert copy_syntax is not None
    build_context(copy, middle + 1, ContextOptions(), TokenEstimator())
    assert copy_syntax.windows == 0 and copy_syntax.parses == 0


def test_text_marks_follow_edits() -> None:
    text = ('é"""' * 10_000 + "x\n") * 3
    marks = TextMarks(text, ('"""',))
    for start, end, inserted in ((50_000, 50_010, 'ü😀"'), (50_001, 50_001, '""'), (0, 3, "")):
        edited = text[:start] + inserted + text[end:]
        bytes_delta = len(inserted.encode()) - len(text[start:end].encode())
        marks.edit(text, start, end, inserted, bytes_delta)
        text = edited
        for offset in (0, 1000, 49_999, 50_002, 70_000, 100_000, len(text)):
            assert marks.byte_offset(text, offset) == len(text[:offset].encode())
            assert marks.fences_before(text, offset) == text.count('"""', 0, offset)


def assert_window_matches_a_fresh_parse(document: Document, grammar: str) -> None:
    """Each top-level node of the windowed tree equals the fresh whole parse's node there."""
    tree = document.syntax_tree()
    ts_parser = parser(grammar)
    assert tree is not None and ts_parser is not None
    whole = ts_parser.parse(document.text.encode()).root_node
    expected = {child.start_byte: child for child in whole.children}
    children = tree.root_node.children
    assert children
    for child in children:
        assert child.start_byte in expected, child
        assert sexp_of(child) == sexp_of(expected[child.start_byte])


def sexp_of(node: Node) -> str:
    """The node's subtree, as ``sexp`` writes a tree (iteratively: trees can be deep)."""
    parts: list[str] = []
    cursor = node.walk()
    while True:
        current = cursor.node
        assert current is not None
        parts.append(f"({current.type}[{current.start_byte},{current.end_byte}]")
        if cursor.goto_first_child():
            continue
        parts.append(")")
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent() or cursor.node == node:
                return " ".join(parts) + (")" if cursor.node == node else "")
            parts.append(")")


PIECES = [
    "def f(x):\n    return x\n\n",
    "class C:\n    y = 1\n\n",
    "    z = 2\n",
    "x = [\n",
    "]\n",
    "é = 'ü'\n",
    '"""\n',
    "\n",
    "(",
    ":",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 40), st.sampled_from(PIECES), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_random_edits_keep_the_window_equal_to_a_fresh_parse(
    edits: list[tuple[float, int, str, bool]],
) -> None:
    base = "".join(f"def f{n}(x):\n    return x + {n}\n\n\n" for n in range(3000))
    document = Document("mem://window.py", base, "python")
    expected = base
    for where, length, inserted, move in edits:
        start = int(where * len(expected))
        end = min(len(expected), start + length)
        expected = expected[:start] + inserted + expected[end:]
        document.replace(start, end, inserted)
        around = (start - 3000, start + 3000) if move else None
        tree = document.syntax_tree(None, around)
        assert tree is not None
        spans = spans_of(document, tree)
        assert all(isinstance(span, LineSpan) for span in spans)
    assert document.text == expected
    tree = document.syntax_tree()
    ts_parser = parser("python")
    assert tree is not None and ts_parser is not None
    # Incremental equals fresh, on the same ranges...
    ts_parser.included_ranges = tree.included_ranges
    fresh = ts_parser.parse(expected.encode())
    assert sexp_of(tree.root_node) == sexp_of(fresh.root_node)
    # ... and equals the whole parse where no error runs on across the file.
    ts_parser.included_ranges = None  # type: ignore[assignment]
    if not ts_parser.parse(expected.encode()).root_node.has_error:
        assert_window_matches_a_fresh_parse(document, "python")
