"""End-to-end fixtures: the real server over stdio, driven by pytest-lsp.

Every test runs twice, once with VS Code's client capabilities and once with
Neovim 0.11's (which offers UTF-8 positions and does not declare inline
completion). VS Code's recorded capabilities predate LSP 3.18, so its
``inlineCompletion`` capability is added as current VS Code declares it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

CLIENTS = ["visual-studio-code", "neovim@v0.11.0"]


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lsp.cli", "--stdio", *args]


def capabilities_for(client: str) -> types.ClientCapabilities:
    capabilities = client_capabilities(client)
    if client.startswith("visual-studio-code") and capabilities.text_document is not None:
        capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities(
            dynamic_registration=True
        )
    return capabilities


StartServer = Callable[..., Any]


@pytest.fixture(params=CLIENTS)
def client_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def start_server(client_name: str) -> AsyncIterator[StartServer]:
    """Start a server with extra CLI flags and initializationOptions; stop it after."""
    started: list[LanguageClient] = []

    async def start(
        *flags: str,
        options: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        root: Path | None = None,
    ) -> LanguageClient:
        config = ClientServerConfig(server_command=server_command(*flags), server_env=env)
        client = await config.start()
        started.append(client)
        accept_registrations(client)
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities_for(client_name),
                initialization_options=options,
                client_info=types.ClientInfo(name=client_name),
                root_uri=(root or Path.cwd()).as_uri(),
            )
        )
        client.initialize_result = result  # type: ignore[attr-defined]
        return client

    yield start
    for client in started:
        await client.shutdown_session()


def accept_registrations(client: LanguageClient) -> None:
    """Answer client/registerCapability as editors do (the server registers a file watcher)."""

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        return None

    @client.feature(types.CLIENT_UNREGISTER_CAPABILITY)
    def _unregister(params: types.UnregistrationParams) -> None:
        return None


@pytest.fixture
async def tiny_client(start_server: StartServer, any_model: Path) -> LanguageClient:
    client: LanguageClient = await start_server("--model", str(any_model))
    return client


def open_document(client: LanguageClient, uri: str, text: str, language_id: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language_id, version=1, text=text
            )
        )
    )


def encoding_of(client: LanguageClient) -> str:
    result: types.InitializeResult = client.initialize_result  # type: ignore[attr-defined]
    encoding = result.capabilities.position_encoding or "utf-16"
    return str(getattr(encoding, "value", encoding))


def character_at(line_text: str, column: int, encoding: str) -> int:
    """The LSP character for a code-point column, in the negotiated encoding."""
    head = line_text[:column]
    if encoding == "utf-8":
        return len(head.encode("utf-8"))
    if encoding == "utf-32":
        return len(head)
    return len(head.encode("utf-16-le")) // 2


def position_of(text: str, offset: int, encoding: str) -> types.Position:
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    line_text = text[line_start:].split("\n", 1)[0]
    return types.Position(
        line=line, character=character_at(line_text, offset - line_start, encoding)
    )


def plain(value: Any) -> Any:
    """pygls hands back custom results as namedtuples; turn them into dicts."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
