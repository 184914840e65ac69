"""``textDocument/completion``: the same completion as a list item.

For editors without inline completion (Helix, older clients). The item's
text edit inserts the completion at the cursor; its label is the first line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from lsp.requests import complete_at, document_for, lsp_range

if TYPE_CHECKING:
    from lsp.server import DscoderServer

LABEL_LIMIT = 80
_WORD_TAIL = re.compile(r"\w*$")


def _word_before(text: str, offset: int) -> str:
    match = _WORD_TAIL.search(text, max(0, offset - 200), offset)
    return match.group(0) if match else ""


def register(server: DscoderServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(resolve_provider=False),
    )
    async def completion(ls: DscoderServer, params: types.CompletionParams) -> types.CompletionList:
        document = document_for(ls, params.text_document.uri)
        ls.supersede(document.uri)
        invoked = (
            params.context is not None
            and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        result = await complete_at(ls, document, params.position, invoked)
        if result is None or not result.text:
            return types.CompletionList(is_incomplete=True, items=[])
        first_line = result.text.strip("\n").split("\n", 1)[0].strip()
        label = first_line[:LABEL_LIMIT] or result.text.strip()[:LABEL_LIMIT]
        edit_range = lsp_range(ls, document, result.start, result.end)
        item = types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Text,
            detail="dscoder",
            documentation=types.MarkupContent(
                kind=types.MarkupKind.Markdown,
                value=f"```{document.language_id}\n{result.text}\n```",
            ),
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=edit_range, new_text=result.text),
            # Clients filter items by the word before the cursor: start with it.
            filter_text=_word_before(document.text, result.start) + result.text,
            sort_text="0",
            preselect=True,
        )
        # Incomplete: typing on must ask again rather than filter a stale item.
        return types.CompletionList(is_incomplete=True, items=[item])
