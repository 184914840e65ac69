"""The server object and its wiring: state shared by the feature modules.

Each LSP feature lives in its own module (documents, inline_completion,
completion_fallback, custom_requests, configuration, lifecycle) and registers
its handlers here through ``register(server)``. This module holds only what
they share: the documents, the config, the completion service, owned
background tasks and per-document supersession.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from completion.acceptance import AcceptanceEvent, AcceptanceTracker
from completion.document import Document
from completion.service import CompletionService, EngineState, EngineStatus
from completion.stats import Stats
from completion.stats_store import AcceptanceStore
from lsp import __version__
from lsp.config import Config, ConfigSources

log = logging.getLogger(__name__)


class DscoderProtocol(LanguageServerProtocol):
    """Answers malformed requests with an error instead of dropping them."""

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
                reply = JsonRpcInvalidParams(message=f"malformed params for {method}")
                if not isinstance(error, JsonRpcInvalidParams):
                    reply = error
                self._send_response(data["id"], error=reply.to_response_error())
                return None
            raise

    def handle_message(self, message: Any) -> None:
        if message is not None:
            super().handle_message(message)


class DscoderServer(LanguageServer):
    """pygls server plus dscoder state (see module docstring)."""

    def __init__(self, sources: ConfigSources, startup_problems: list[str] | None = None):
        super().__init__(
            "dscoder-lsp",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=DscoderProtocol,
        )
        self.sources = sources
        self.config, problems = sources.build()
        self.pending_problems = [*(startup_problems or []), *problems]
        self.documents: dict[str, Document] = {}
        self.stats = Stats()
        self.service = CompletionService(
            self.config.completion_options(),
            self.config.engine_settings(),
            self.stats,
            on_status=self._on_engine_status,
            scheduler_options=self.config.scheduler,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._reported_failure: str | None = None
        self.acceptance = AcceptanceTracker(sink=self._persist_acceptance)
        self._acceptance_store: AcceptanceStore | None = None

    # ----- acceptance statistics ---------------------------------------------

    def _persist_acceptance(self, event: AcceptanceEvent) -> None:
        options = self.config.stats
        if not options.persist:
            return
        if self._acceptance_store is None:
            path = Path(options.path).expanduser() if options.path else None
            self._acceptance_store = AcceptanceStore(path)
        self._acceptance_store.record(event)

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

    def serve_stdio(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        """Serve over stdio, reading stdin on the event loop when it is a pipe.

        pygls reads stdin with a blocking call per header line and per body on
        its thread pool: three thread hand-offs per message. Reading the pipe
        on the event loop saves them (and keeps that pool free). Anything
        else (a regular file, a terminal) goes through pygls's own reader.
        """
        if not _own_pipe(stdin, stdout):
            self.start_io(stdin, stdout)
            return
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))
        try:
            asyncio.run(self._run_on_pipe(stdin))
        except _PipeSetupError as error:
            log.info("reading stdin through pygls (%s)", error)
            self.start_io(stdin, stdout)
        except BrokenPipeError:
            log.error("the client closed the connection; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    async def _run_on_pipe(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        reader = _PipeReader(limit=2**26)
        try:
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
        except (OSError, ValueError) as error:
            raise _PipeSetupError(str(error)) from error
        assert self._stop_event is not None
        await run_async(
            stop_event=self._stop_event,
            reader=reader,
            protocol=self.protocol,
            logger=logging.getLogger("pygls.io_"),
            error_handler=self.report_server_error,
        )

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
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        self.log_to_client(message, kind)

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_config_problems(self, problems: list[str]) -> None:
        if not problems:
            return
        summary = "; ".join(problems)
        log.warning("configuration problems: %s", summary)
        self.show(
            f"dscoder-lsp: invalid configuration ({summary}). Using defaults for those settings.",
            types.MessageType.Warning,
        )

    def _on_engine_status(self, status: EngineStatus) -> None:
        params = {
            "state": status.state.value,
            "engine": status.engine,
            "model": status.model,
            "message": status.message,
        }
        try:
            self.protocol.notify("dscoder/status", params)
        except Exception:  # no client connected yet (headless use)
            log.debug("could not send dscoder/status", exc_info=True)
        if status.state is EngineState.FAILED and status.message != self._reported_failure:
            self._reported_failure = status.message
            self.show(f"dscoder-lsp: {status.message}")
        elif status.state is EngineState.READY:
            self._reported_failure = None
            self.log_to_client(
                f"dscoder-lsp: {status.engine} ready with {status.model} "
                f"(loaded in {status.load_seconds:.2f}s)"
            )

    # ----- configuration ---------------------------------------------------

    async def apply_config(self) -> None:
        """Rebuild the config from all sources and hand it to the service."""
        self.config, problems = self.sources.build()
        self.report_config_problems(problems)
        await self.service.reconfigure(
            self.config.completion_options(),
            self.config.engine_settings(),
            self.config.scheduler,
        )

    @property
    def current_config(self) -> Config:
        return self.config


def create_server(
    sources: ConfigSources, startup_problems: list[str] | None = None
) -> DscoderServer:
    """A server with every feature module registered."""
    from lsp import (
        acceptance,
        completion_fallback,
        configuration,
        custom_requests,
        documents,
        inline_completion,
        lifecycle,
    )

    server = DscoderServer(sources, startup_problems)
    for feature in (
        lifecycle,
        documents,
        inline_completion,
        completion_fallback,
        custom_requests,
        configuration,
        acceptance,
    ):
        feature.register(server)
    return server


class _PipeSetupError(Exception):
    """stdin could not be watched by the event loop."""


def _own_pipe(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """True when stdin is a pipe or socket of its own, safe to make non-blocking.

    Non-blocking is a property of the open file, so stdin must not be the
    same socket as stdout (socat, inetd): writes to it could then be cut short.
    """
    if os.name != "posix":
        return False
    try:
        read, write = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    if not (stat.S_ISFIFO(read.st_mode) or stat.S_ISSOCK(read.st_mode)):
        return False
    return (read.st_dev, read.st_ino) != (write.st_dev, write.st_ino)


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
