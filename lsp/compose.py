"""The composition root: a server with every feature module registered.

``lsp/server.py`` holds the state the features share; each feature module
(documents, inline_completion, ...) registers its handlers through
``register(server)`` and imports ``DscoderServer`` for types only, so the
arrows inside lsp/ point one way: compose -> features -> server. The CLI
builds one server for stdio, and ``lsp/tcp.py`` one per TCP connection.
"""

from __future__ import annotations

from lsp import (
    acceptance,
    completion_fallback,
    configuration,
    cross_file,
    custom_requests,
    documents,
    inline_completion,
    lifecycle,
    progress,
)
from lsp.config import ConfigSources
from lsp.requests import exclusion_of
from lsp.server import DscoderServer

FEATURES = (
    lifecycle,
    documents,
    inline_completion,
    completion_fallback,
    custom_requests,
    configuration,
    cross_file,
    acceptance,
    progress,
)


def create_server(
    sources: ConfigSources,
    startup_problems: list[str] | None = None,
    server_class: type[DscoderServer] = DscoderServer,
) -> DscoderServer:
    """A server of ``server_class`` with every feature module registered."""
    server = server_class(sources, startup_problems)
    # Excluded files are never another file's context either.
    server.service.cross_file.set_exclusion(lambda path: exclusion_of(server).excludes(path))
    for feature in FEATURES:
        feature.register(server)
    return server
