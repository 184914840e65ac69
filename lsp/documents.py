"""Document sync: ``didOpen``, incremental ``didChange`` and ``didClose``.

The server keeps its own ``completion.document.Document`` per URI (its edits
drive the incremental syntax tree). Change ranges arrive in the negotiated
position encoding and are converted leniently, as the spec asks: a column
past the end of a line means the end of that line.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from completion.document import Document
from lsp.positions import PositionError, offset_at
from lsp.server import DscoderServer

log = logging.getLogger(__name__)


def encoding_of(server: DscoderServer) -> str:
    """The negotiated position encoding as a plain string ("utf-16", ...)."""
    encoding = server.workspace.position_encoding or "utf-16"
    # lsprotocol's PositionEncodingKind is a str Enum: str() would give its name.
    return str(getattr(encoding, "value", encoding))


def register(server: DscoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DscoderServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        document = Document(
            uri=item.uri, text=item.text, language_id=item.language_id, version=item.version
        )
        ls.documents[item.uri] = document
        ls.service.cross_file.opened(document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DscoderServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = ls.documents.get(uri)
        if document is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        encoding = encoding_of(ls)
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                apply_partial_change(document, change, encoding)
            else:
                document.set_text(change.text)
        document.version = params.text_document.version

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DscoderServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.pop(params.text_document.uri, None)
        ls.service.cross_file.closed(params.text_document.uri)


def apply_partial_change(
    document: Document, change: types.TextDocumentContentChangePartial, encoding: str
) -> None:
    span = change.range
    try:
        start = offset_at(document, span.start.line, span.start.character, encoding, strict=False)
        end = offset_at(document, span.end.line, span.end.character, encoding, strict=False)
    except PositionError as error:
        log.warning("bad change range in %s: %s", document.uri, error)
        return
    document.replace(min(start, end), max(start, end), change.text)
