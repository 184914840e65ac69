"""What the editor did with a suggestion: the acceptance signals.

Copilot's names and shapes, so clients that already speak them need nothing new:
- ``workspace/executeCommand`` ``dscoder.accepted`` with the item id: the
  command every inline item carries, run by the editor on a whole accept;
- ``textDocument/didShowCompletion`` ``{item}``: the item is on screen;
- ``textDocument/didPartiallyAcceptCompletion`` ``{item, acceptedLength}``:
  that many UTF-16 code units of it were accepted (word or line accepts).

``dscoder/didShowCompletion``, ``dscoder/didPartiallyAcceptCompletion`` and
``dscoder/didAcceptCompletion`` are aliases (the last one for clients that
cannot run an item's command); they also take ``{itemId}`` for ``{item}``.
All are notifications; an unknown or malformed item is logged and ignored,
since the editor has nothing to do about it. The counting itself lives in
completion/acceptance.py.
"""

from __future__ import annotations

import logging
from typing import Any

from completion.acceptance import ACCEPTED_COMMAND
from lsp.server import DscoderServer

log = logging.getLogger(__name__)

DID_SHOW = "textDocument/didShowCompletion"
DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion"
ALIAS_DID_SHOW = "dscoder/didShowCompletion"
ALIAS_DID_PARTIALLY_ACCEPT = "dscoder/didPartiallyAcceptCompletion"
ALIAS_DID_ACCEPT = "dscoder/didAcceptCompletion"


def _field(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def item_id_of(params: Any) -> str | None:
    """The id in ``params.item.command.arguments[0]``, or ``params.itemId``."""
    direct = _field(params, "itemId")
    if isinstance(direct, str):
        return direct
    arguments = _field(_field(_field(params, "item"), "command"), "arguments")
    if isinstance(arguments, (list, tuple)) and arguments and isinstance(arguments[0], str):
        return arguments[0]
    return None


def command_item_id(arguments: Any) -> str | None:
    """The id from a command's arguments, however the framework passed them."""
    while isinstance(arguments, (list, tuple)) and arguments:
        arguments = arguments[0]
    return arguments if isinstance(arguments, str) else None


def register(server: DscoderServer) -> None:
    @server.command(ACCEPTED_COMMAND)
    def accepted(ls: DscoderServer, *arguments: Any) -> None:
        item_id = command_item_id(list(arguments))
        if item_id is None or not ls.acceptance.accepted(item_id):
            log.debug("%s for an unknown item: %r", ACCEPTED_COMMAND, arguments)

    def did_accept(ls: DscoderServer, params: Any) -> None:
        item_id = item_id_of(params)
        if item_id is None or not ls.acceptance.accepted(item_id):
            log.debug("%s for an unknown item", ALIAS_DID_ACCEPT)

    def did_show(ls: DscoderServer, params: Any) -> None:
        item_id = item_id_of(params)
        if item_id is None or not ls.acceptance.shown(item_id):
            log.debug("didShowCompletion for an unknown item")

    def did_partially_accept(ls: DscoderServer, params: Any) -> None:
        item_id = item_id_of(params)
        length = _field(params, "acceptedLength")
        if item_id is None or not isinstance(length, int) or isinstance(length, bool):
            log.debug("didPartiallyAcceptCompletion needs item and an integer acceptedLength")
            return
        if not ls.acceptance.partially_accepted(item_id, length):
            log.debug("didPartiallyAcceptCompletion for an unknown item")

    server.feature(ALIAS_DID_ACCEPT)(did_accept)
    for method in (DID_SHOW, ALIAS_DID_SHOW):
        server.feature(method)(did_show)
    for method in (DID_PARTIALLY_ACCEPT, ALIAS_DID_PARTIALLY_ACCEPT):
        server.feature(method)(did_partially_accept)
