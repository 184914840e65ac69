"""Cross-file context's protocol side: the workspace root, saves and watched files.

Serves ``textDocument/didSave`` and ``workspace/didChangeWatchedFiles``: both
mark files for the workspace index to parse again. After ``initialized`` it
asks a client that can register watchers dynamically to watch the source
files the index reads. The root comes from ``initialize`` (``rootUri``, then
the first workspace folder, then ``rootPath``). The work is all in
``completion.crossfile``.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from completion.crossfile.provider import path_of_uri
from lsp.server import DscoderServer

log = logging.getLogger(__name__)

WATCHED_GLOB = "**/*.{py,pyi,js,jsx,mjs,cjs,ts,tsx,mts,cts,go,rs}"


def set_root(server: DscoderServer, params: types.InitializeParams) -> None:
    """Take the workspace root from ``initialize``'s params."""
    root = None
    if params.root_uri:
        root = path_of_uri(params.root_uri)
    if root is None and params.workspace_folders:
        root = path_of_uri(params.workspace_folders[0].uri)
    if root is None and params.root_path:
        root = params.root_path
    server.service.cross_file.root = root


def watch_files(server: DscoderServer) -> None:
    """Register a file watcher when the client supports dynamic registration."""
    capabilities = server.client_capabilities
    workspace = capabilities.workspace if capabilities is not None else None
    watched = workspace.did_change_watched_files if workspace is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    registration = types.Registration(
        id="dscoder-cross-file-watch",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=WATCHED_GLOB)]
        ),
    )

    async def register() -> None:
        try:
            await server.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        except Exception as error:  # a client that refuses: the index still rechecks mtimes
            log.info("client did not register the file watcher: %s", error)

    server.run_task(register(), "register-file-watcher")


def register(server: DscoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DscoderServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.service.cross_file.saved(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(
        ls: DscoderServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        ls.service.cross_file.files_changed([change.uri for change in params.changes])
