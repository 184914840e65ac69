"""LSP positions (line plus UTF-8/16/32 code units) to and from string offsets.

Plain functions over a ``completion.document.Document``, so they are unit
tested without a server. Requests use ``strict=True``: a position past the
end of a line or file, or inside a UTF-16 surrogate pair / UTF-8 sequence,
is an error the client hears about. Edits are lenient, as the LSP spec says:
a character past the end of a line means the end of that line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from completion.document import Document

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
SUPPORTED_ENCODINGS = (UTF16, UTF8, UTF32)


class PositionError(ValueError):
    """A position that does not name a place in the document."""


def encoding_of(server: LanguageServer) -> str:
    """The position encoding negotiated in ``initialize``, as a plain string ("utf-16", ...)."""
    encoding = server.workspace.position_encoding or UTF16
    # lsprotocol's PositionEncodingKind is a str Enum: str() would give its name.
    return str(getattr(encoding, "value", encoding))


def units(char: str, encoding: str) -> int:
    """How many code units ``char`` takes in ``encoding``."""
    code = ord(char)
    if encoding == UTF16:
        return 2 if code > 0xFFFF else 1
    if encoding == UTF8:
        if code < 0x80:
            return 1
        if code < 0x800:
            return 2
        return 3 if code < 0x10000 else 4
    return 1


def units_in(text: str, encoding: str) -> int:
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def column_to_index(line_text: str, column: int, encoding: str, *, strict: bool) -> int:
    """The string index in ``line_text`` of a ``column`` in code units."""
    if column < 0:
        raise PositionError(f"negative character offset {column}")
    if encoding not in SUPPORTED_ENCODINGS:
        raise ValueError(f"unsupported position encoding {encoding!r}")
    if encoding == UTF32 or line_text.isascii():
        if column > len(line_text):
            if strict:
                raise PositionError(
                    f"character {column} is past the end of the line ({len(line_text)})"
                )
            return len(line_text)
        return column
    seen = 0
    for index, char in enumerate(line_text):
        if seen == column:
            return index
        seen += units(char, encoding)
        if seen > column:
            if strict:
                raise PositionError(
                    f"character {column} falls inside the {encoding} encoding of "
                    f"{char!r} (U+{ord(char):04X})"
                )
            return index
    if seen == column or not strict:
        return len(line_text)
    raise PositionError(f"character {column} is past the end of the line ({seen} {encoding} units)")


def offset_at(
    document: Document, line: int, character: int, encoding: str = UTF16, *, strict: bool
) -> int:
    """The string offset of an LSP position."""
    if line < 0:
        raise PositionError(f"negative line {line}")
    if line >= document.line_count:
        if strict:
            raise PositionError(
                f"line {line} is past the end of the document ({document.line_count} lines)"
            )
        return len(document.text)
    line_text = document.line_text(line)
    return document.line_start(line) + column_to_index(
        line_text, character, encoding, strict=strict
    )


def position_at(document: Document, offset: int, encoding: str = UTF16) -> tuple[int, int]:
    """The LSP (line, character) of a string offset."""
    offset = max(0, min(offset, len(document.text)))
    line = document.line_of(offset)
    start = document.line_start(line)
    return line, units_in(document.text[start:offset], encoding)
