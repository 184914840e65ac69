"""What the completion-style requests share: resolving a document and cursor.

``inlineCompletion``, ``completion`` and ``dscoder/complete`` all turn a URI
and an LSP position into a ``Completion``. Bad input becomes a JSON-RPC
InvalidParams error with a message that says what was wrong; the server
goes on serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from completion.document import Document
from completion.pipeline import Completion
from engines.base import EngineCrashedError, EngineError
from lsp.documents import encoding_of
from lsp.positions import PositionError, offset_at, position_at
from lsp.server import DscoderServer

log = logging.getLogger(__name__)


class InvalidRequest(JsonRpcInvalidParams):
    """InvalidParams with our own message (pygls's default has none)."""

    def __init__(self, message: str):
        super().__init__(message=message)


class EngineCrashed(JsonRpcException):
    """LSP's RequestFailed: the engine's worker died under this request."""

    CODE = int(types.LSPErrorCodes.RequestFailed)

    def __init__(self, message: str):
        super().__init__(message=message)


def document_for(server: DscoderServer, uri: str) -> Document:
    document = server.documents.get(uri)
    if document is None:
        raise InvalidRequest(f"document is not open: {uri} (send textDocument/didOpen first)")
    return document


def cursor_offset(server: DscoderServer, document: Document, position: types.Position) -> int:
    try:
        return offset_at(
            document, position.line, position.character, encoding_of(server), strict=True
        )
    except PositionError as error:
        raise InvalidRequest(
            f"invalid position {position.line}:{position.character} in {document.uri}: {error}"
        ) from None


def skip_reason(server: DscoderServer, document: Document) -> str | None:
    """Why this document gets no completion at all, if it does not."""
    config = server.config
    if not config.enable:
        return "completions are disabled"
    if document.language_id in config.disabled_languages:
        return f"completions are disabled for {document.language_id}"
    if len(document.text) > config.max_document_bytes:
        return f"document is larger than maxDocumentBytes ({config.max_document_bytes})"
    if "\x00" in document.text:
        return "document looks binary (contains NUL characters)"
    return None


def file_path_of(server: DscoderServer, uri: str) -> str | None:
    """A workspace-relative path for the prompt's file header, when known."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    root = server.workspace.root_path if server.protocol.workspace else None
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path.rsplit("/", 1)[-1]


async def complete_at(
    server: DscoderServer,
    document: Document,
    position: types.Position,
    invoked: bool = False,
    crash_is_error: bool = False,
) -> Completion | None:
    """Run the pipeline at ``position``; None when there is nothing to offer.

    With ``crash_is_error`` a worker crash is answered as a RequestFailed
    error (for ``dscoder/complete``, whose callers are scripts) instead of
    an empty result.
    """
    offset = cursor_offset(server, document, position)
    reason = skip_reason(server, document)
    if reason is not None:
        log.debug("no completion for %s: %s", document.uri, reason)
        server.stats.add(skipped=1)
        return None
    started = time.perf_counter()
    try:
        result = await server.service.complete(
            document, offset, file_path_of(server, document.uri), invoked
        )
        timing = result.timing
        server_ms = (time.perf_counter() - started) * 1000
        server.stats.record_request(server_ms, timing.debounce_ms, timing.engine_ms)
        return result
    except asyncio.CancelledError:
        server.stats.add(requests_cancelled=1)
        raise
    except EngineError as error:
        # Already shown once by the status listener; keep the request cheap.
        if crash_is_error and isinstance(error, EngineCrashedError):
            server.stats.add(errors=1)
            raise EngineCrashed(str(error)) from None
        server.stats.add(errors=1)
        server.stats.last_error = str(error)
        log.info("no completion: %s", error)
        return None


def lsp_range(server: DscoderServer, document: Document, start: int, end: int) -> types.Range:
    encoding = encoding_of(server)
    start_line, start_char = position_at(document, start, encoding)
    end_line, end_char = position_at(document, end, encoding)
    return types.Range(
        start=types.Position(line=start_line, character=start_char),
        end=types.Position(line=end_line, character=end_char),
    )
