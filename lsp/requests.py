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
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from completion.document import Document
from completion.large_text import utf8_length
from completion.pipeline import Completion
from completion.privacy import Exclusion
from engines.base import EngineCrashedError, EngineError
from lsp.positions import PositionError, encoding_of, offset_at, position_at

if TYPE_CHECKING:
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
    if document is None and (large := server.large_documents.get(uri)) is not None:
        # Text only: a stand-in that ``complete_at`` skips (see lsp/documents.py).
        return Document(uri=uri, text="", language_id=large.language_id, version=large.version)
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


def workspace_roots(server: DscoderServer) -> tuple[str, ...]:
    """The workspace folders as paths (empty before ``initialize``)."""
    workspace = server.protocol.workspace
    if workspace is None:
        return ()
    roots = [workspace.root_path] if workspace.root_path else []
    for folder in workspace.folders.values():
        parsed = urlparse(folder.uri)
        if parsed.scheme == "file":
            roots.append(unquote(parsed.path))
    return tuple(dict.fromkeys(roots))


def exclusion_of(server: DscoderServer) -> Exclusion:
    """The server's exclusion, rebuilt when the settings or the workspace folders changed.

    Context sources ask ``exclusion_of(server).excludes(uri)`` before reading
    another document.
    """
    roots = workspace_roots(server)
    current = server.exclusion
    if current.options != server.config.exclude or current.roots != roots:
        server.exclusion = Exclusion(server.config.exclude, roots)
    return server.exclusion


def skip_reason(server: DscoderServer, document: Document) -> str | None:
    """Why this document gets no completion at all, if it does not."""
    excluded = exclusion_of(server).reason(document.uri)
    if excluded is not None:
        server.stats.add(excluded=1)
        return excluded
    config = server.config
    if not config.enable:
        return "completions are disabled"
    if document.language_id in config.disabled_languages:
        return f"completions are disabled for {document.language_id}"
    size = server.document_bytes.get(document.uri)
    if size is None or server.documents.get(document.uri) is not document:
        size = utf8_length(document.text)  # a document the request itself sent
    if document.uri in server.large_documents or size > config.max_document_bytes:
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
    results = await _run(
        server,
        document,
        position,
        lambda offset, path: _one(server.service.complete(document, offset, path, invoked)),
        crash_is_error,
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
    crash_is_error: bool = False,
) -> list[Completion]:
    large = document.uri in server.large_documents
    offset = 0 if large else cursor_offset(server, document, position)
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
        if crash_is_error and isinstance(error, EngineCrashedError):
            server.stats.add(errors=1)
            raise EngineCrashed(str(error)) from None
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
