"""Document sync: ``didOpen``, incremental ``didChange`` and ``didClose``.

The server keeps its own ``completion.document.Document`` per URI (its edits
drive the incremental syntax tree; pygls's workspace copy is not kept, see
``DscoderProtocol``). Change ranges arrive in the negotiated position
encoding and are converted leniently, as the spec asks: a column past the
end of a line means the end of that line.

A document over ``maxDocumentBytes`` (UTF-8 bytes) gets no completions, so
it is kept as a ``LargeText`` instead: text only, cheap edits, no tree. The
log says so once per document. Lone surrogates (JSON lets a client send
``"\ud800"``) become U+FFFD in the server's copy: the same width in UTF-8,
UTF-16 and UTF-32, so every position stays put, and no tokenizer, parser or
engine ever sees them. The editor's buffer is never touched. Opening an
excluded file (completion/privacy.py) sends ``dscoder/status`` saying so.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from lsprotocol import types

from completion.document import Document
from completion.large_text import LargeText, utf8_length
from lsp.positions import PositionError, column_to_index, encoding_of, offset_at
from lsp.requests import exclusion_of

if TYPE_CHECKING:
    from lsp.server import DscoderServer

log = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
STATUS = "dscoder/status"


def register(server: DscoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DscoderServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        text = clean_text(ls, item.uri, item.text)
        ls.documents.pop(item.uri, None)
        ls.large_documents.pop(item.uri, None)
        ls.told_too_large.discard(item.uri)
        size = utf8_length(text)
        if size > ls.config.max_document_bytes:
            ls.large_documents[item.uri] = LargeText(text, item.language_id, item.version)
            tell_too_large(ls, item.uri, size)
            return
        document = Document(
            uri=item.uri, text=text, language_id=item.language_id, version=item.version
        )
        ls.documents[item.uri] = document
        ls.document_bytes[item.uri] = size
        if not report_exclusion(ls, item.uri):
            ls.service.cross_file.opened(document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DscoderServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri in ls.large_documents:
            change_large(ls, uri, params)
            return
        document = ls.documents.get(uri)
        if document is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        encoding = encoding_of(ls)
        size = ls.document_bytes.get(uri, 0)
        for change in params.content_changes:
            text = clean_text(ls, uri, change.text)
            if isinstance(change, types.TextDocumentContentChangePartial):
                size += apply_partial_change(document, change, encoding, text)
            else:
                size = utf8_length(text)
                document.set_text(text)
        document.version = params.text_document.version
        ls.document_bytes[uri] = size
        if size > ls.config.max_document_bytes:
            ls.documents.pop(uri)
            ls.document_bytes.pop(uri, None)
            ls.large_documents[uri] = LargeText(
                document.text, document.language_id, document.version
            )
            tell_too_large(ls, uri, size)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DscoderServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.documents.pop(uri, None)
        ls.document_bytes.pop(uri, None)
        ls.large_documents.pop(uri, None)
        ls.told_too_large.discard(uri)
        ls.service.cross_file.closed(uri)
        ls.service.scheduler.forget(uri)


def clean_text(server: DscoderServer, uri: str, text: str) -> str:
    """``text`` with lone surrogates as U+FFFD (same width in every encoding)."""
    if text.isascii() or not _LONE_SURROGATE.search(text):
        return text
    count = len(_LONE_SURROGATE.findall(text))
    server.stats.add(skipped=1)
    log.info("%s: %d lone surrogate(s) replaced by U+FFFD in the server's copy", uri, count)
    return _LONE_SURROGATE.sub("\ufffd", text)


def tell_too_large(server: DscoderServer, uri: str, size: int) -> None:
    """Say once per document why it gets no completions."""
    if uri in server.told_too_large:
        return
    server.told_too_large.add(uri)
    limit = server.config.max_document_bytes
    message = (
        f"dscoder-lsp: no completions for {uri}: {size:,} bytes is over maxDocumentBytes "
        f"({limit:,}); only its text is kept"
    )
    log.info("%s", message)
    try:
        server.log_to_client(message)
    except Exception:
        log.debug("could not log to client", exc_info=True)


def change_large(
    server: DscoderServer, uri: str, params: types.DidChangeTextDocumentParams
) -> None:
    """Edits to a text-only document; it becomes a full one again once small enough."""
    large = server.large_documents[uri]
    encoding = encoding_of(server)
    for change in params.content_changes:
        text = clean_text(server, uri, change.text)
        if isinstance(change, types.TextDocumentContentChangePartial):
            start, end = change.range.start, change.range.end
            start_column = _column(large, start.line, start.character, encoding)
            end_column = _column(large, end.line, end.character, encoding)
            large.replace(start.line, start_column, end.line, end_column, text)
        else:
            large = server.large_documents[uri] = LargeText(text, large.language_id)
    large.version = params.text_document.version
    if large.utf8_bytes <= server.config.max_document_bytes:
        del server.large_documents[uri]
        server.told_too_large.discard(uri)
        server.documents[uri] = Document(uri, large.text, large.language_id, large.version)
        server.document_bytes[uri] = large.utf8_bytes
        log.info("%s is within maxDocumentBytes again: completions resume", uri)


def _column(large: LargeText, line: int, character: int, encoding: str) -> int:
    if line >= large.line_count:
        return 0
    return column_to_index(large.line_text(line), max(character, 0), encoding, strict=False)


def report_exclusion(server: DscoderServer, uri: str) -> bool:
    """Tell the editor that ``uri`` gets nothing, and why (``dscoder/status``)."""
    reason = exclusion_of(server).reason(uri)
    if reason is None:
        return False
    log.info("%s: %s", uri, reason)
    server.protocol.notify(STATUS, {"uri": uri, "excluded": True, "reason": reason})
    return True


def apply_partial_change(
    document: Document,
    change: types.TextDocumentContentChangePartial,
    encoding: str,
    text: str | None = None,
) -> int:
    """Apply one ranged change; returns the change in UTF-8 bytes."""
    span = change.range
    try:
        start = offset_at(document, span.start.line, span.start.character, encoding, strict=False)
        end = offset_at(document, span.end.line, span.end.character, encoding, strict=False)
    except PositionError as error:
        log.warning("bad change range in %s: %s", document.uri, error)
        return 0
    start, end = min(start, end), max(start, end)
    new_text = change.text if text is None else text
    removed = utf8_length(document.text[start:end])
    document.replace(start, end, new_text)
    return utf8_length(new_text) - removed
