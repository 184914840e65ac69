"""Small multi-file workspaces on disk for the cross-file tests."""

from __future__ import annotations

from pathlib import Path

from completion.document import Document
from completion.pipeline import CompletionOptions, CompletionPipeline
from engines.base import ModelInfo


class ContextOnly:
    """The engine slot of a pipeline that only builds contexts and prompts.

    ``make_context``/``make_prompt`` read nothing of an engine but ``info``
    (None: no window to cap the budget by, and the DeepSeek template).
    """

    name = "context-only"
    info: ModelInfo | None = None


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


def document(root: Path, name: str, language_id: str, text: str | None = None) -> Document:
    path = root / name
    return Document(
        path.as_uri(), text if text is not None else path.read_text("utf-8"), language_id
    )


def pipeline(options: CompletionOptions | None = None) -> CompletionPipeline:
    return CompletionPipeline(ContextOnly(), options or CompletionOptions())  # type: ignore[arg-type]
