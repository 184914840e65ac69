"""The server object: state shared by the feature modules.

Each LSP feature lives in its own module (documents, inline_completion,
completion_fallback, custom_requests, configuration, lifecycle) and registers
its handlers through ``register(server)``; ``lsp/compose.py`` wires them
(the composition root). This module holds only what they share: the
documents, the config, the completion service, owned background tasks and
per-document supersession.

``documents`` is a second store beside pygls's ``workspace``: pygls applies an
edit to its text and forgets the edit, but the incremental tree-sitter tree
(completion/syntax.py) needs each edit's byte range as it happens, which
``completion.document.Document.replace`` reports to it. pygls's workspace
still holds the negotiated position encoding and the workspace folders.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdinAsyncReader
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from completion.acceptance import AcceptanceEvent, AcceptanceTracker
from completion.document import Document
from completion.large_text import LargeText
from completion.privacy import Exclusion
from completion.service import CompletionService, EngineState, EngineStatus
from completion.stats import Stats
from completion.stats_store import AcceptanceStore, default_path, read_recent
from completion.suppression import Suppression
from engines.credentials import redact
from lsp import __version__
from lsp.config import ConfigSources
from lsp.early import FirstMessage, store_answer
from lsp.framing import INVALID_REQUEST, ClosingWriter, read_messages, reply_error
from lsp.pipes import own_pipe

SERVER_NOT_INITIALIZED = -32002

log = logging.getLogger(__name__)


class DscoderProtocol(LanguageServerProtocol):
    """Answers malformed requests with an error instead of dropping them.

    It also keeps the lifecycle the LSP spec asks for: a request before
    ``initialize`` gets -32002 (and notifications are dropped), a request
    after ``shutdown`` gets -32600, and only ``exit`` passes either gate.
    """

    initialize_received = False
    shutdown_received = False

    def structure_message(self, data: dict[str, Any]) -> Any:
        if isinstance(data, dict) and "method" in data and "params" not in data:
            # JSON-RPC lets a request or notification omit params; lsprotocol's
            # generic message types require the field.
            data = {**data, "params": None}
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                method = data.get("method")
                reply: JsonRpcException = error
                if isinstance(error, JsonRpcInvalidParams):
                    reply = JsonRpcInvalidParams(message=f"malformed params for {method}")
                self._send_response(data["id"], error=reply.to_response_error())
                return None
            raise

    def handle_message(self, message: Any) -> None:
        if message is None:
            return
        method = getattr(message, "method", None)
        if method == types.EXIT:
            # pygls exits with 1 unless its shutdown handler has finished.
            self._shutdown = self._shutdown or self.shutdown_received
        elif method is not None:
            is_request = hasattr(message, "id")
            if method == types.INITIALIZE and not self.shutdown_received:
                self.initialize_received = True
            elif not self.initialize_received:
                log.warning("%s before initialize: refused", method)
                if is_request:
                    reply_error(self, SERVER_NOT_INITIALIZED, "server not initialized", message.id)
                return
            elif self.shutdown_received:
                log.warning("%s after shutdown: refused", method)
                if is_request:
                    reply_error(self, INVALID_REQUEST, "server is shutting down", message.id)
                return
            elif method == types.SHUTDOWN:
                self.shutdown_received = True
        super().handle_message(message)

    # The server's own store (lsp/documents.py) is the only copy of each
    # document: pygls's workspace copy would be rebuilt line by line on every
    # keystroke (0.4 s on a 30 MB file), and nothing reads it.

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    early: FirstMessage | None = None
    """The first message, when it was read before pygls was imported (lsp/early.py)."""

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        early = self.early
        if early is None or early.initialize_id is None or msg_id != early.initialize_id:
            super()._send_response(msg_id, result, error)
            return
        self.early = None
        if error is None and early.cache_key is not None:
            answer = json.loads(json.dumps(result, default=self._serialize_message))
            store_answer(early.cache_key, answer)
        if not early.answered:
            super()._send_response(msg_id, result, error)
        elif error is not None:
            log.warning("initialize failed after it was answered from the cache: %s", error)


class DscoderServer(LanguageServer):
    """pygls server plus dscoder state (see module docstring)."""

    protocol_class: type[DscoderProtocol] = DscoderProtocol
    """A TCP session swaps in its own (lsp/tcp.py): ``exit`` ends the connection."""

    def __init__(self, sources: ConfigSources, startup_problems: list[str] | None = None):
        super().__init__(
            "dscoder-lsp",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=self.protocol_class,
        )
        self.sources = sources
        self.config, problems = sources.build()
        self.pending_problems = [*(startup_problems or []), *problems]
        self.documents: dict[str, Document] = {}
        self.document_bytes: dict[str, int] = {}
        """Each document's size in UTF-8 bytes, kept up to date edit by edit."""
        self.large_documents: dict[str, LargeText] = {}
        """Documents over maxDocumentBytes: text only (see lsp/documents.py)."""
        self.told_too_large: set[str] = set()
        self.exclusion = Exclusion(self.config.exclude)
        """Files that never reach an engine; lsp/requests.exclusion_of keeps it current."""
        self.stats = Stats()
        self.service = CompletionService(
            self.config.completion_options(),
            self.config.engine_settings(),
            self.stats,
            on_status=self._on_engine_status,
            scheduler_options=self.config.scheduler,
        )
        self.service.on_endpoint = self._on_endpoint_change
        self.service.cross_file.documents = self.documents
        self.service.cross_file.max_document_bytes = self.config.max_document_bytes
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._reported_failure: str | None = None
        self.status_listeners: list[Callable[[EngineStatus], None]] = []
        """Feature modules that follow the engine state (lsp/progress.py)."""
        self._shown_problems: set[str] = set()
        self.suppression = Suppression(lambda: self.config.stats.suppress)
        self.acceptance = AcceptanceTracker(
            sink=self._persist_acceptance, suppression=self.suppression
        )
        self.service.scheduler.holds_back = self.suppression.holds_back
        self._acceptance_store: AcceptanceStore | None = None

    # ----- acceptance statistics ---------------------------------------------

    def _acceptance_path(self) -> Path:
        configured = self.config.stats.path
        return Path(configured).expanduser() if configured else default_path()

    def _persist_acceptance(self, event: AcceptanceEvent) -> None:
        if not self.config.stats.persist:
            return
        if self._acceptance_store is None:
            self._acceptance_store = AcceptanceStore(self._acceptance_path())
        self._acceptance_store.record(event)

    async def restore_suppression(self) -> None:
        """Replay the persisted outcomes into suppression, so a restart forgets nothing."""
        options = self.config.stats
        if not (options.persist and options.suppress.enabled):
            return
        path = self._acceptance_path()
        # Reading and replaying 20,000 events takes a fraction of a second: off the loop.
        restored = await asyncio.to_thread(lambda: self.suppression.restore(read_recent(path)))
        if restored:
            log.info("suppression learned from %d past events in %s", restored, path)

    async def close_acceptance(self) -> None:
        """Count what is still shown as rejected and finish the writes (off the loop)."""
        self.acceptance.finish()
        store, self._acceptance_store = self._acceptance_store, None
        if store is not None:
            await asyncio.to_thread(store.close)

    # ----- background tasks ------------------------------------------------

    def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a task the server owns: kept referenced, its errors logged."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=error)

    # ----- transport ------------------------------------------------------

    def serve_stdio(
        self, stdin: BinaryIO, stdout: BinaryIO, first: FirstMessage | None = None
    ) -> int:
        """Serve over stdio until ``exit`` or EOF; returns the exit code.

        pygls reads stdin with a blocking call per header line and per body on
        its thread pool: three thread hand-offs per message. Reading the pipe
        on the event loop saves them (and keeps that pool free). Anything
        else (a regular file, a terminal) is read on pygls's thread pool.
        Both go through ``lsp.framing``, which resyncs after a bad frame.
        ``first`` holds what ``lsp.early`` read (and maybe answered) already.
        """
        if isinstance(self.protocol, DscoderProtocol):
            self.protocol.early = first
        if first is not None and first.raw:
            stdin = _Prefaced(stdin, first.raw)  # type: ignore[assignment]
        self._stop_event = threading.Event()
        self.protocol.set_writer(ClosingWriter(stdout, on_closed=self._stop_event.set))
        try:
            if own_pipe(stdin, stdout):
                try:
                    asyncio.run(self._run_on_pipe(stdin))
                    return 0
                except _PipeSetupError as error:
                    log.info("reading stdin on the thread pool (%s)", error)
            reader = StdinAsyncReader(stdin, self.thread_pool)
            asyncio.run(read_messages(reader, self.protocol, self._stop_event))
        except SystemExit as exit_request:  # the exit notification: 1 without shutdown
            return exit_request.code if isinstance(exit_request.code, int) else 0
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]
        return 0

    async def _run_on_pipe(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        reader = _PipeReader(limit=2**26)
        pipe = stdin
        if isinstance(stdin, _Prefaced):
            # Fed before the pipe is watched, so the bytes keep their order;
            # kept in ``stdin`` until then, for pygls's reader if watching fails.
            reader.feed_data(stdin.preface)
            pipe = stdin.stream
        try:
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        except (OSError, ValueError) as error:
            raise _PipeSetupError(str(error)) from error
        if isinstance(stdin, _Prefaced):
            stdin.take_preface()
        assert self._stop_event is not None
        await read_messages(reader, self.protocol, self._stop_event)

    # ----- supersession ----------------------------------------------------

    def supersede(self, uri: str) -> None:
        """Register the current request as the newest for ``uri``, cancelling the older."""
        current = asyncio.current_task()
        older = self._inflight.get(uri)
        if not self.config.scheduler.cancel_superseded:
            older = None
        if older is not None and older is not current and not older.done():
            self.stats.add(superseded=1)
            older.cancel()
        if current is not None:
            self._inflight[uri] = current
            current.add_done_callback(lambda task: self._forget(uri, task))

    def _forget(self, uri: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(uri) is task:
            del self._inflight[uri]

    # ----- messages to the user ---------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up every protocol error; they belong in the log.
        log.error("protocol error: %s", error)
        try:
            self.log_to_client(f"dscoder-lsp: protocol error: {error}", types.MessageType.Error)
        except Exception:
            log.debug("could not log to client", exc_info=True)

    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """One popup for something the user can act on, also in the log."""
        message = redact(message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        self.log_to_client(message, kind)

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        message = redact(message)
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_config_problems(self, problems: list[str]) -> None:
        """One popup for the problems not already shown; a fixed one may be shown again."""
        current = list(dict.fromkeys(problems))
        new = [problem for problem in current if problem not in self._shown_problems]
        self._shown_problems = set(current)
        if not new:
            return
        summary = "; ".join(new)
        log.warning("configuration problems: %s", summary)
        self.show(
            f"dscoder-lsp: invalid configuration ({summary}). Using defaults for those settings.",
            types.MessageType.Warning,
        )

    def _notify_status(self, status: EngineStatus) -> None:
        params = {
            "state": status.state.value,
            "engine": status.engine,
            "model": status.model,
            "message": status.message,
            "endpoint": redact(status.endpoint) if status.endpoint else None,
            "endpointCount": status.endpoint_count,
        }
        try:
            self.protocol.notify("dscoder/status", params)
        except Exception:  # no client connected yet (headless use)
            log.debug("could not send dscoder/status", exc_info=True)

    def _on_endpoint_change(self, status: EngineStatus) -> None:
        """The replica serving requests changed: only the notification, no popups or progress."""
        self._notify_status(status)

    def _on_engine_status(self, status: EngineStatus) -> None:
        self._notify_status(status)
        for listener in self.status_listeners:
            try:
                listener(status)
            except Exception:
                log.exception("status listener failed")
        crashed = status.state in (EngineState.FAILED, EngineState.RESTARTING)
        if crashed and status.message != self._reported_failure:
            self._reported_failure = status.message
            self.show(f"dscoder-lsp: {status.message}")
        elif status.state is EngineState.READY:
            self._reported_failure = None
            self.log_to_client(
                f"dscoder-lsp: {status.message}"
                if status.message
                else f"dscoder-lsp: {status.engine} ready with {status.model} "
                f"(loaded in {status.load_seconds:.2f}s)"
            )

    # ----- configuration ---------------------------------------------------

    async def apply_config(self) -> None:
        """Rebuild the config from all sources and hand it to the service."""
        self.config, problems = self.sources.build()
        self.report_config_problems(problems)
        self.service.cross_file.max_document_bytes = self.config.max_document_bytes
        await self.service.reconfigure(
            self.config.completion_options(),
            self.config.engine_settings(),
            self.config.scheduler,
        )


class _PipeSetupError(Exception):
    """stdin could not be watched by the event loop."""


class _Prefaced:
    """A binary stream that first yields bytes read from it already."""

    def __init__(self, stream: BinaryIO, preface: bytes) -> None:
        self.stream = stream
        self._preface = preface

    @property
    def preface(self) -> bytes:
        return self._preface

    def take_preface(self) -> bytes:
        preface, self._preface = self._preface, b""
        return preface

    def fileno(self) -> int:
        return self.stream.fileno()

    def readline(self) -> bytes:
        if self._preface:
            line, found, rest = self._preface.partition(b"\n")
            if found:
                self._preface = rest
                return line + found
            self._preface = b""
            return line + self.stream.readline()
        return self.stream.readline()

    def read(self, size: int = -1) -> bytes:
        if self._preface and size >= 0:
            piece, self._preface = self._preface[:size], self._preface[size:]
            if len(piece) < size:
                piece += self.stream.read(size - len(piece))
            return piece
        if self._preface:
            return self.take_preface() + self.stream.read()
        return self.stream.read(size)


class _PipeReader(asyncio.StreamReader):
    """A StreamReader that reads like a file: what is left at EOF, no size errors."""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await super().readexactly(n)
        except asyncio.IncompleteReadError as error:
            return error.partial

    async def readline(self) -> bytes:
        try:
            return await super().readline()
        except ValueError:  # a header line over the limit, already dropped
            return b"X-Dscoder-Dropped: oversized header line\r\n"
