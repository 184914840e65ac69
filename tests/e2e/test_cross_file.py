"""Cross-file context over stdio: a definition from a file the editor never opened.

The workspace is a small package on disk; only ``pkg/app.py`` is opened. The
server finds ``pkg/geometry.py`` through the import, indexes it off the event
loop, and puts the definition at the head of the prompt. ``dscoder/complete``
says which snippets went in; a second server with cross-file context off
shows the engine evaluated a longer prompt by about their size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_lsp import LanguageClient

from tests.e2e.conftest import StartServer, encoding_of, open_document, plain, position_of

GEOMETRY = '''"""Shapes."""


def circle_area(radius: float) -> float:
    """The area of a circle of the given radius."""
    return 3.14159 * radius * radius
'''
APP = "from pkg.geometry import circle_area\n\n\ndef report(r):\n    return "


def workspace(root: Path) -> Path:
    (root / "pkg").mkdir()
    (root / "pkg/__init__.py").write_text("")
    (root / "pkg/geometry.py").write_text(GEOMETRY)
    (root / "pkg/app.py").write_text(APP)
    return root / "pkg/app.py"


async def complete(client: LanguageClient, uri: str) -> Any:
    position = position_of(APP, len(APP), encoding_of(client))
    result = await client.protocol.send_request_async(
        "dscoder/complete",
        {
            "textDocument": {"uri": uri},
            "position": {"line": position.line, "character": position.character},
        },
    )
    return plain(result)


# Wait for the index as long as it takes: the test must not race the worker thread.
WAIT = {"context": {"crossFile": {"imports": {"waitMs": 60_000}}}}
OFF = {"context": {"crossFile": {"enabled": False}}}


async def test_a_definition_from_an_unopened_file_reaches_the_prompt(
    start_server: StartServer, any_model: Path, tmp_path: Path
) -> None:
    app = workspace(tmp_path)
    client = await start_server("--model", str(any_model), options=WAIT, root=tmp_path)
    open_document(client, app.as_uri(), APP)
    result = await complete(client, app.as_uri())
    snippets = result["snippets"]
    assert {
        "path": "pkg/geometry.py",
        "startLine": 3,
        "endLine": 5,
        "tokens": snippets[0]["tokens"],
        "source": "imports",
    } in snippets
    assert all(s["tokens"] > 0 for s in snippets)
    with_context = result["usage"]["promptTokensTotal"]

    plain_client = await start_server("--model", str(any_model), options=OFF, root=tmp_path)
    open_document(plain_client, app.as_uri(), APP)
    without = await complete(plain_client, app.as_uri())
    assert without["snippets"] == []
    # The definition's lines and path comments reached the model (the estimate
    # counts about three bytes per token; the tiny model's tokenizer differs).
    assert with_context - without["usage"]["promptTokensTotal"] >= 15
