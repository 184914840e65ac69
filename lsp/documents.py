"""Document sync: ``didOpen``, incremental ``didChange`` and ``didClose``.

The server keeps its own ``completion.document.Document`` per URI (its edits
drive the incremental syntax tree). Change ranges arrive in the negotiated
position encoding and are converted leniently, as the spec asks: a column
past the end of a line means the end of that line. Opening an excluded
file (completion/privacy.py) sends ``dscoder/status`` saying so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from completion.document import Document
from lsp.positions import PositionError, encoding_of, offset_at
from lsp.requests import exclusion_of

if TYPE_CHECKING:
    from lsp.server import DscoderServer

log = logging.getLogger(__name__)

STATUS = "dscoder/status"


def register(server: DscoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DscoderServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.documents[item.uri] = Document(
            uri=item.uri, text=item.text, language_id=item.language_id, version=item.version
        )
        report_exclusion(ls, item.uri)

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


def report_exclusion(server: DscoderServer, uri: str) -> None:
    """Tell the editor that ``uri`` gets nothing, and why (``dscoder/status``)."""
    reason = exclusion_of(server).reason(uri)
    if reason is None:
        return
    log.info("%s: %s", uri, reason)
    server.protocol.notify(STATUS, {"uri": uri, "excluded": True, "reason": reason})


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
