"""LargeText's chunked edits give the same text as Document's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from completion.document import Document
from completion.large_text import LargeText, utf8_length

# Lines end in LF or CRLF (a lone CR is no line break to LargeText).
LINE = st.tuples(st.text(alphabet="ab😀é", max_size=6), st.sampled_from(["\n", "\r\n"])).map(
    "".join
)
TEXT = st.lists(LINE, max_size=30).map("".join)
PLACE = st.tuples(st.integers(0, 35), st.integers(0, 8))
EDIT = st.tuples(PLACE, PLACE, st.sampled_from(["", "x", "y😀", "\n", "z\r\nw", "\n\nq"]))


def reference_offset(document: Document, line: int, column: int) -> int:
    """The lenient LSP rule: past the end of a line is its end, past the last line the end."""
    if line >= document.line_count:
        return len(document.text)
    return document.line_start(line) + min(column, len(document.line_text(line)))


@settings(max_examples=200, deadline=None)
@given(text=TEXT, edits=st.lists(EDIT, max_size=12))
def test_edits_match_the_document(text: str, edits: list[tuple[tuple[int, int], ...]]) -> None:
    large, document = LargeText(text, chunk_chars=8), Document("file:///r.txt", text)
    for start, end, new_text in edits:  # type: ignore[misc]
        first = reference_offset(document, *start)
        last = max(first, reference_offset(document, *end))
        document.replace(first, last, new_text)
        large.replace(*start, *end, new_text)
        assert large.text == document.text
        assert large.utf8_bytes == utf8_length(document.text)
        assert large.line_count == document.text.count("\n") + 1
    for line in range(document.text.count("\n") + 1):
        assert large.line_text(line) == document.text.split("\n")[line].removesuffix("\r")


def test_a_split_ending_on_a_line_break_leaves_no_empty_chunk() -> None:
    # Hypothesis found it: the edit made a chunk long enough to split exactly
    # at its final line break, and the empty piece after it hid line 10.
    text = "\n\n\n\n\naaa\naaaaa\n\n\naaaaaa\na\n"
    large, document = LargeText(text, chunk_chars=8), Document("file:///r.txt", text)
    large.replace(9, 0, 0, 0, "y😀")  # a reversed range is an insert at its start
    document.replace(document.line_start(9), document.line_start(9), "y😀")
    assert [large.line_text(n) for n in range(12)] == document.text.split("\n")
