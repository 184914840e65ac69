"""The composition root: a server with every feature module registered.

``lsp/server.py`` holds the state the features share; each feature module
(documents, inline_completion, ...) registers its handlers through
``register(server)`` and imports ``DscoderServer`` for types only, so the
arrows inside lsp/ point one way: compose -> features -> server. The CLI
builds one server for stdio, and ``lsp/tcp.py`` one per TCP connection.
"""

from __future__ import annotations

from lsp import (
    completion_fallback,
    configuration,
    custom_requests,
    documents,
    inline_completion,
    lifecycle,
)
from lsp.config import ConfigSources
from lsp.server import DscoderServer

FEATURES = (
    lifecycle,
    documents,
    inline_completion,
    completion_fallback,
    custom_requests,
    configuration,
)


def create_server(
    sources: ConfigSources,
    startup_problems: list[str] | None = None,
    server_class: type[DscoderServer] = DscoderServer,
) -> DscoderServer:
    """A server of ``server_class`` with every feature module registered."""
    server = server_class(sources, startup_problems)
    for feature in FEATURES:
        feature.register(server)
    return server
