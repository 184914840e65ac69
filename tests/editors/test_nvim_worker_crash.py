"""Neovim when the server's llama.cpp worker crashes: the user is told, typing goes on.

A real headless Neovim with the plugin, the real server, and a real SIGSEGV
sent to the worker process (found as the server's child).
"""

from __future__ import annotations

import os
import signal

from tests.conftest import fill_case
from tests.editors.conftest import ONE_FILE_CONTEXT, StartEditor, wait_for
from tests.editors.test_nvim import type_to_hole
from tests.support.processes import children_of


def test_a_worker_crash_is_shown_and_completions_resume(start_editor: StartEditor) -> None:
    editor = start_editor(init_options=ONE_FILE_CONTEXT)
    case = fill_case("single-line")
    editor.open(case, "before")
    wait_for(lambda: editor.server_stats()["modelState"] == "ready", what="the model to load")
    client_id = editor.lua("return vim.lsp.get_clients({ name = 'dscoder' })[1].id")
    (server,) = children_of(int(editor.nvim.eval("getpid()")))
    (worker,) = children_of(server)

    os.kill(worker, signal.SIGSEGV)

    def messages() -> str:
        return str(editor.nvim.api.exec2("messages", {"output": True})["output"])

    shown = wait_for(lambda: "crashed" in messages() and messages(), what="the crash message")
    assert "SIGSEGV" in shown and "restart" in shown and "dscoder-lsp doctor" in shown
    wait_for(lambda: editor.server_stats()["modelState"] == "ready", what="the restart")
    assert children_of(server) != [worker]

    type_to_hole(editor, case, name="after")
    assert editor.wait_ghost(case["middle"]) == case["middle"]
    # The same client and server throughout: nothing had to be restarted by hand.
    assert editor.lua("return vim.lsp.get_clients({ name = 'dscoder' })[1].id") == client_id
    assert children_of(int(editor.nvim.eval("getpid()"))) == [server]
