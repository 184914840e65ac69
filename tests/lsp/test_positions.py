"""Position conversion: UTF-16 (default), UTF-8 and UTF-32, strict and lenient."""

from __future__ import annotations

import pytest

from completion.document import Document
from lsp.positions import UTF8, UTF16, UTF32, PositionError, offset_at, position_at

# 😀 is outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes. 漢 is 1 unit, 3 bytes.
TEXT = "a😀b漢c\nsecond\r\nthird"


@pytest.fixture
def document() -> Document:
    return Document(uri="file:///t.py", text=TEXT)


@pytest.mark.parametrize(
    ("encoding", "character", "expected_char"),
    [
        (UTF16, 3, "b"),  # a(1) + 😀(2)
        (UTF16, 5, "c"),  # ... b(1) 漢(1)
        (UTF8, 5, "b"),  # a(1) + 😀(4)
        (UTF8, 9, "c"),  # ... b(1) 漢(3)
        (UTF32, 2, "b"),
        (UTF32, 4, "c"),
    ],
)
def test_column_units_per_encoding(
    document: Document, encoding: str, character: int, expected_char: str
) -> None:
    offset = offset_at(document, 0, character, encoding, strict=True)
    assert document.text[offset] == expected_char
    assert position_at(document, offset, encoding) == (0, character)


def test_inside_a_surrogate_pair_is_an_error_for_requests(document: Document) -> None:
    with pytest.raises(PositionError, match="inside the utf-16 encoding"):
        offset_at(document, 0, 2, UTF16, strict=True)


def test_inside_a_utf8_sequence_is_an_error(document: Document) -> None:
    with pytest.raises(PositionError, match="inside the utf-8 encoding"):
        offset_at(document, 0, 3, UTF8, strict=True)


def test_past_end_of_line_is_an_error_for_requests(document: Document) -> None:
    with pytest.raises(PositionError, match="past the end of the line"):
        offset_at(document, 1, 7, UTF16, strict=True)


def test_past_end_of_file_is_an_error_for_requests(document: Document) -> None:
    with pytest.raises(PositionError, match="past the end of the document"):
        offset_at(document, 3, 0, UTF16, strict=True)


def test_edits_clamp_past_end_of_line_to_the_line_end(document: Document) -> None:
    # LSP: a character past the line's end means the end of that line.
    assert offset_at(document, 1, 99, UTF16, strict=False) == TEXT.index("\r\n")
    assert offset_at(document, 9, 0, UTF16, strict=False) == len(TEXT)


def test_crlf_line_breaks_are_not_part_of_the_line(document: Document) -> None:
    assert document.line_text(1) == "second"
    assert offset_at(document, 2, 0, UTF16, strict=True) == TEXT.index("third")
    assert position_at(document, TEXT.index("third"), UTF16) == (2, 0)


def test_end_of_last_line_is_a_valid_cursor(document: Document) -> None:
    assert offset_at(document, 2, 5, UTF16, strict=True) == len(TEXT)


def test_negative_values_are_errors(document: Document) -> None:
    with pytest.raises(PositionError):
        offset_at(document, -1, 0, UTF16, strict=True)
    with pytest.raises(PositionError):
        offset_at(document, 0, -1, UTF16, strict=True)
