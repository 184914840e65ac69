"""``textDocument/inlineCompletion`` (LSP 3.18): ghost text at the cursor.

Advertised with ``InlineCompletionOptions`` (without options pygls never
advertises the capability) and answered whether or not the client declared
it: Neovim 0.11 does not. A newer request for the same document cancels the
older one, which pygls then answers with RequestCancelled.

An automatic trigger gets one item; an explicit one (``Invoked``) gets up to
``alternatives`` distinct items to cycle. Every item carries the
``dscoder.accepted`` command with its id, for the acceptance signals
(lsp/acceptance.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lsprotocol import types

from completion.acceptance import ACCEPTED_COMMAND
from lsp.requests import alternatives_at, complete_at, document_for, lsp_range

if TYPE_CHECKING:
    from lsp.server import DscoderServer


def register(server: DscoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: DscoderServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        document = document_for(ls, params.text_document.uri)
        ls.supersede(document.uri)
        started = time.perf_counter()
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        if invoked:
            results = await alternatives_at(ls, document, params.position)
        else:
            result = await complete_at(ls, document, params.position)
            results = [result] if result is not None else []
        results = [result for result in results if result.text]
        if not results:
            return types.InlineCompletionList(items=[])
        latency_ms = (time.perf_counter() - started) * 1000
        ids = ls.acceptance.offer(
            document.uri,
            document.language_id,
            [result.text for result in results],
            latency_ms,
            block=results[0].multiline,
        )
        items = [
            types.InlineCompletionItem(
                insert_text=result.text,
                range=lsp_range(ls, document, result.start, result.end),
                command=types.Command(
                    title="dscoder: accepted", command=ACCEPTED_COMMAND, arguments=[item_id]
                ),
            )
            for result, item_id in zip(results, ids, strict=True)
        ]
        return types.InlineCompletionList(items=items)
