"""``textDocument/inlineCompletion`` (LSP 3.18): ghost text at the cursor.

Advertised with ``InlineCompletionOptions`` (without options pygls never
advertises the capability) and answered whether or not the client declared
it: Neovim 0.11 does not. A newer request for the same document cancels the
older one, which pygls then answers with RequestCancelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from lsp.requests import complete_at, document_for, lsp_range

if TYPE_CHECKING:
    from lsp.server import DscoderServer


def register(server: DscoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: DscoderServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        document = document_for(ls, params.text_document.uri)
        ls.supersede(document.uri)
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        result = await complete_at(ls, document, params.position, invoked)
        if result is None or not result.text:
            return types.InlineCompletionList(items=[])
        item = types.InlineCompletionItem(
            insert_text=result.text,
            range=lsp_range(ls, document, result.start, result.end),
        )
        return types.InlineCompletionList(items=[item])
