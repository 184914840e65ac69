"""``dscoder/complete`` and ``dscoder/stats``: for scripts, tests and status lines.

``dscoder/complete`` runs the same pipeline as inline completion and returns
the text plus timing and token usage; with ``text`` in its params it needs
no didOpen. ``dscoder/stats`` returns a flat object of counters that also
says why completions feel slow (engine time versus queueing, cache hits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types

from completion.document import Document
from engines.credentials import redact
from engines.fleet import ReportsEndpoints
from lsp import __version__
from lsp.requests import (
    InvalidRequest,
    complete_at,
    document_for,
    exclusion_of,
    lsp_range,
)

if TYPE_CHECKING:
    from lsp.server import DscoderServer

COMPLETE = "dscoder/complete"
STATS = "dscoder/stats"


def _field(params: Any, name: str) -> Any:
    if isinstance(params, dict):
        return params.get(name)
    return getattr(params, name, None)


def _position(params: Any) -> types.Position:
    raw = _field(params, "position")
    line, character = _field(raw, "line"), _field(raw, "character")
    if not isinstance(line, int) or not isinstance(character, int):
        raise InvalidRequest("params.position needs integer line and character")
    return types.Position(line=line, character=character)


def register(server: DscoderServer) -> None:
    @server.feature(COMPLETE)
    async def complete(ls: DscoderServer, params: Any) -> dict[str, Any]:
        text_document = _field(params, "textDocument")
        uri = _field(text_document, "uri")
        text = _field(params, "text")
        if not isinstance(uri, str):
            uri = "untitled:dscoder-complete"
            if not isinstance(text, str):
                raise InvalidRequest("params need textDocument.uri or text")
        if isinstance(text, str):
            language_id = _field(params, "languageId") or _field(text_document, "languageId")
            document = Document(uri=uri, text=text, language_id=str(language_id or ""))
        else:
            document = document_for(ls, uri)
        excluded = exclusion_of(ls).reason(document.uri)
        result = await complete_at(
            ls, document, _position(params), invoked=True, crash_is_error=True
        )
        engine = ls.service.engine
        if result is None:
            return {
                "text": "",
                "range": None,
                "skipped": excluded or redact(ls.stats.last_error or "no completion"),
                "engine": ls.service.engine_settings.name,
                "model": engine.info.name if engine and engine.info else "",
            }
        return {
            "text": result.text,
            "range": ls.protocol._converter.unstructure(
                lsp_range(ls, document, result.start, result.end)
            ),
            "multiline": result.multiline,
            "skipped": result.skipped,
            "model": result.model,
            "template": result.template,
            "engine": ls.service.engine_settings.name,
            "raw": result.raw,
            "cached": result.cached,
            "snippets": [snippet.as_json() for snippet in result.snippets],
            "timing": result.timing.as_json(),
            "usage": result.usage.as_json(),
        }

    @server.feature(STATS)
    def stats(ls: DscoderServer, params: Any) -> dict[str, Any]:
        snapshot = ls.stats.snapshot()
        if snapshot.get("lastError"):
            snapshot["lastError"] = redact(snapshot["lastError"])
        snapshot.update(ls.acceptance.snapshot())
        if ls.acceptance.suppression is not None:
            snapshot["suppression"] = ls.acceptance.suppression.snapshot()
        status = ls.service.status
        snapshot.update(
            {
                "engine": status.engine,
                "model": status.model,
                "modelState": status.state.value,
                "modelMessage": redact(status.message),
                "loadSeconds": round(status.load_seconds, 3),
                "version": __version__,
            }
        )
        if isinstance(ls.service.engine, ReportsEndpoints):
            snapshot.update(ls.service.engine.fleet_stats())
        wanted = params.get("promptEval") if isinstance(params, dict) else None
        if wanted or getattr(params, "promptEval", False):
            snapshot["promptEval"] = ls.stats.prompt_eval_log()  # for the benches
        return snapshot
