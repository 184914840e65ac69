"""``$/progress`` while the engine loads (a local model) or is probed (a remote server).

Serves ``window/workDoneProgress/create`` and ``$/progress``: when the client
declares ``window.workDoneProgress``, a ``loading`` or ``restarting`` engine
status creates a token and sends ``begin``; the next ``ready``, ``failed`` or
``idle`` status sends ``end`` with the status message. A client without the
capability gets no progress (the spec forbids unrequested tokens), only
``dscoder/status``. The statuses come from the server's status listeners
(``DscoderServer.status_listeners``), in order, on the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from completion.service import EngineState, EngineStatus

if TYPE_CHECKING:
    from lsp.server import DscoderServer

log = logging.getLogger(__name__)

BUSY = (EngineState.LOADING, EngineState.RESTARTING)

_tokens = itertools.count(1)


def register(server: DscoderServer) -> None:
    server.status_listeners.append(EngineProgress(server).on_status)


class EngineProgress:
    """One progress token per load: begun on loading, ended on the next settled state."""

    def __init__(self, server: DscoderServer) -> None:
        self.server = server
        self._begun: asyncio.Task[str | None] | None = None

    def supported(self) -> bool:
        try:
            window = self.server.client_capabilities.window
        except Exception:  # before initialize
            return False
        return bool(window is not None and window.work_done_progress)

    def on_status(self, status: EngineStatus) -> None:
        if status.state in BUSY:
            if self._begun is None and self.supported():
                self._begun = self.server.run_task(self._begin(status), "progress-begin")
        elif self._begun is not None:
            begun, self._begun = self._begun, None
            self.server.run_task(self._end(begun, status), "progress-end")

    async def _begin(self, status: EngineStatus) -> str | None:
        token = f"dscoder-engine-{next(_tokens)}"
        progress = self.server.work_done_progress
        try:
            await progress.create_async(token)
        except Exception as error:  # the client refused the token: no progress this time
            log.info("client refused progress token: %s", error)
            return None
        what = status.model or status.engine
        verb = "restarting" if status.state is EngineState.RESTARTING else "loading"
        progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title="dscoder", message=f"{verb} {what}".strip(), cancellable=False
            ),
        )
        return token

    async def _end(self, begun: asyncio.Task[str | None], status: EngineStatus) -> None:
        token = await begun
        if token is None:
            return
        message = status.message or f"{status.state.value}"
        self.server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
