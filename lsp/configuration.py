"""``workspace/didChangeConfiguration``: settings changed in the editor.

The new settings replace the workspace layer of the config sources; the
engine restarts only if its own settings changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from lsp.config import settings_from_client

if TYPE_CHECKING:
    from lsp.server import DscoderServer


def register(server: DscoderServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: DscoderServer, params: types.DidChangeConfigurationParams
    ) -> None:
        ls.sources.workspace = settings_from_client(params.settings)
        await ls.apply_config()
