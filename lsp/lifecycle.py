"""``initialize``, ``initialized`` and ``shutdown``.

``initialize`` answers at once: it only records initializationOptions. The
model loads in the background after ``initialized``, so an editor never
waits on a model load to start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from completion.service import CompletionService
from lsp import cross_file
from lsp.config import settings_from_client

if TYPE_CHECKING:
    from lsp.server import DscoderServer

log = logging.getLogger(__name__)


def register(server: DscoderServer) -> None:
    @server.feature(types.INITIALIZE)
    def on_initialize(ls: DscoderServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if options is not None:
            ls.sources.initialization = settings_from_client(options)
        ls.config, problems = ls.sources.build()
        ls.pending_problems.extend(problems)
        ls.service.options = ls.config.completion_options()
        ls.service.engine_settings = ls.config.engine_settings()
        ls.service.scheduler.options = ls.config.scheduler
        folders = params.workspace_folders or []
        ls.service.workspace_uri = params.root_uri or (folders[0].uri if folders else "")
        cross_file.set_root(ls, params)
        client = params.client_info.name if params.client_info else "unknown client"
        log.info("initialize from %s", client)

    @server.feature(types.INITIALIZED)
    def on_initialized(ls: DscoderServer, params: types.InitializedParams) -> None:
        problems, ls.pending_problems = ls.pending_problems, []
        ls.report_config_problems(problems)
        ls.run_task(_load(ls.service), "engine-load")
        ls.run_task(ls.restore_suppression(), "suppression-restore")
        cross_file.watch_files(ls)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: DscoderServer, params: None) -> None:
        await ls.service.close()
        await ls.close_acceptance()


async def _load(service: CompletionService) -> None:
    # Failures are reported through the service's status listener (one popup).
    try:
        await service.start()
    except Exception as error:
        log.warning("engine did not start: %s", error)
