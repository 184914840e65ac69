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
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from completion.document import Document
from completion.pipeline import Completion
from engines.base import EngineError
from lsp.documents import encoding_of
from lsp.positions import PositionError, offset_at, position_at
from lsp.server import DscoderServer

log = logging.getLogger(__name__)


class InvalidRequest(JsonRpcInvalidParams):
    """InvalidParams with our own message (pygls's default has none)."""

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
) -> Completion | None:
    """Run the pipeline at ``position``; None when there is nothing to offer."""
    results = await _run(
        server,
        document,
        position,
        lambda offset, path: _one(server.service.complete(document, offset, path, invoked)),
    )
    return results[0] if results else None


async def alternatives_at(
    server: DscoderServer, document: Document, position: types.Position
) -> list[Completion]:
    """An explicit request's distinct answers (see completion/alternatives.py)."""
    return await _run(
        server,
        document,
        position,
        lambda offset, path: server.service.complete_alternatives(document, offset, path),
    )


async def _one(call: Awaitable[Completion]) -> list[Completion]:
    return [await call]


async def _run(
    server: DscoderServer,
    document: Document,
    position: types.Position,
    call: Callable[[int, str | None], Awaitable[list[Completion]]],
) -> list[Completion]:
    offset = cursor_offset(server, document, position)
    reason = skip_reason(server, document)
    if reason is not None:
        log.debug("no completion for %s: %s", document.uri, reason)
        server.stats.add(skipped=1)
        return []
    started = time.perf_counter()
    try:
        results = await call(offset, file_path_of(server, document.uri))
        if results:
            timing = results[0].timing
            server_ms = (time.perf_counter() - started) * 1000
            server.stats.record_request(server_ms, timing.debounce_ms, timing.engine_ms)
        return results
    except asyncio.CancelledError:
        server.stats.add(requests_cancelled=1)
        raise
    except EngineError as error:
        # Already shown once by the status listener; keep the request cheap.
        server.stats.add(errors=1)
        server.stats.last_error = str(error)
        log.info("no completion: %s", error)
        return []


def lsp_range(server: DscoderServer, document: Document, start: int, end: int) -> types.Range:
    encoding = encoding_of(server)
    start_line, start_char = position_at(document, start, encoding)
    end_line, end_char = position_at(document, end, encoding)
    return types.Range(
        start=types.Position(line=start_line, character=start_char),
        end=types.Position(line=end_line, character=end_char),
    )
