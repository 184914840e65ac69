"""A small LSP client that runs ``python -m lsp.cli --stdio`` and asks for completions.

The testbed's only way into the server: the same process, flags and wire
protocol an editor uses. Completions come from ``dscoder/complete`` (the text
plus timing and token usage), model metadata from ``dscoder/stats``. The
server's stderr is drained into a log file so a chatty server never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

log = logging.getLogger(__name__)

COMPLETE = "dscoder/complete"
STATS = "dscoder/stats"
STATUS = "dscoder/status"


def server_command(flags: list[str]) -> list[str]:
    """The command an editor would run, with the testbed's pass-through flags."""
    return [sys.executable, "-m", "lsp.cli", "--stdio", *flags]


def plain(value: Any) -> Any:
    """Results of custom methods as plain JSON values, whatever pygls made of them."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_asdict"):
        return [plain(item) for item in value]
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    return value


class ServerSession:
    """One running server: start, initialize, complete holes, shut down."""

    def __init__(
        self,
        flags: list[str],
        root: Path,
        log_path: Path | None = None,
        options: dict[str, Any] | None = None,
    ):
        self.flags = flags
        self.root = root
        self.log_path = log_path
        self.options = options
        self.client = LanguageClient("dscoder-testbed", "0.1")
        self.statuses: list[dict[str, Any]] = []
        self._drain: asyncio.Task[None] | None = None
        self._status_changed = asyncio.Event()

        @self.client.feature(STATUS)  # type: ignore[untyped-decorator]
        def on_status(params: Any) -> None:
            self.statuses.append(plain(params))
            self._status_changed.set()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)  # type: ignore[untyped-decorator]
        def on_log(params: types.LogMessageParams) -> None:
            log.debug("server: %s", params.message)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)  # type: ignore[untyped-decorator]
        def on_show(params: types.ShowMessageParams) -> None:
            log.info("server says: %s", params.message)

    async def __aenter__(self) -> ServerSession:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        command = server_command(self.flags)
        log.info("starting %s", " ".join(command))
        await self.client.start_io(*command)
        process = self.client._server
        if process is not None and process.stderr is not None:
            self._drain = asyncio.create_task(self._drain_stderr(process.stderr))
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    general=types.GeneralClientCapabilities(
                        position_encodings=[types.PositionEncodingKind.Utf32]
                    ),
                ),
                client_info=types.ClientInfo(name="dscoder-testbed"),
                root_uri=self.root.resolve().as_uri(),
                initialization_options=self.options,
            )
        )
        self.client.initialized(types.InitializedParams())

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        sink = self.log_path.open("ab") if self.log_path else None
        try:
            while chunk := await stream.read(65536):
                if sink is not None:
                    sink.write(chunk)
                    sink.flush()
        finally:
            if sink is not None:
                sink.close()

    async def complete(
        self, uri: str, text: str, language_id: str, line: int, character: int
    ) -> dict[str, Any]:
        """``dscoder/complete`` at a UTF-32 position in ``text``, sent without didOpen."""
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "text": text,
            "languageId": language_id,
        }
        result = await self.client.protocol.send_request_async(COMPLETE, params)
        return dict(plain(result) or {})

    async def stats(self) -> dict[str, Any]:
        result = await self.client.protocol.send_request_async(STATS, None)
        return dict(plain(result) or {})

    async def next_status(self, timeout_s: float) -> None:
        """Wait for the next ``dscoder/status`` notification, or ``timeout_s``."""
        self._status_changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._status_changed.wait(), timeout_s)

    async def stop(self) -> None:
        """Shut down politely, then make sure the process is gone."""
        process = self.client._server
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                log.warning("server did not exit; killing it")
                process.kill()
                await process.wait()
        with contextlib.suppress(Exception):
            await self.client.stop()  # type: ignore[no-untyped-call]
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 5)
