"""What the Neovim plugin tells the user (lua/dscoder/state.lua, health.lua, doc/).

A real headless Neovim against the real server: the one-time notification
when the binary is missing or the engine failed, :checkhealth turning red,
the statusline fed by dscoder/status and $/progress (naming the replica when
there are several), and the shipped help tags.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import smollm2_path
from tests.editors.conftest import NVIM, PLUGIN, SERVER, Editor, StartEditor, wait_for
from tests.support.processes import children_of
from tests.support.servers import (
    replicas,
    TINY_NAME,
    ServerProcess,
    llama_cpp_python_server,
    llama_cpp_server_available,
)

RECORD_NOTIFY = (
    "_G.told = {} vim.notify = function(message, level)"
    " table.insert(_G.told, { message = message, level = level }) end"
)


def told(editor: Editor) -> list[str]:
    return [entry["message"] for entry in editor.lua("return _G.told")]


def statusline(editor: Editor) -> str:
    return str(editor.lua("return require('dscoder').statusline()"))


def checkhealth(editor: Editor) -> str:
    editor.nvim.command("checkhealth dscoder")
    return "\n".join(editor.nvim.current.buffer[:])


def edit(editor: Editor, name: str, text: str = "x = 1\n") -> None:
    path = editor.workspace / name
    path.write_text(text, encoding="utf-8")
    editor.nvim.command(f"edit {path}")


def test_missing_binary_is_told_once(start_editor: StartEditor, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-dscoder-lsp")
    editor = start_editor({"server": {"cmd": [missing, "--stdio"]}})
    editor.lua(RECORD_NOTIFY)
    edit(editor, "one.py")
    edit(editor, "two.py")
    messages = wait_for(lambda: told(editor), what="a notification")
    editor.nvim.command("sleep 100m")  # a second one would be scheduled by now
    assert told(editor) == messages and len(messages) == 1, told(editor)
    assert missing in messages[0] and ":checkhealth dscoder" in messages[0]
    assert statusline(editor) == "dscoder: missing"
    assert "ERROR" in checkhealth(editor)


def test_failed_engine_is_told_and_checkhealth_is_red(
    start_editor: StartEditor, tmp_path: Path
) -> None:
    cmd = [str(SERVER), "--stdio", "--model", str(tmp_path / "missing.gguf")]
    editor = start_editor({"server": {"cmd": cmd}})
    editor.lua(RECORD_NOTIFY)
    edit(editor, "one.py")
    wait_for(lambda: statusline(editor) == "dscoder: failed", what="the engine to fail")
    wait_for(
        lambda: any(":checkhealth dscoder" in m for m in told(editor)),
        what="the failure to be told",
    )
    assert sum("the engine failed" in m for m in told(editor)) == 1
    report = checkhealth(editor)
    assert "ERROR" in report and "(failed)" in report, report


def test_statusline_follows_status_and_progress(start_editor: StartEditor) -> None:
    editor = start_editor()
    assert statusline(editor) == ""  # nothing to say before the client starts
    editor.lua(
        "_G.kinds = {} vim.api.nvim_create_autocmd('LspProgress', { callback = function(a)"
        " table.insert(_G.kinds, a.data.params.value.kind) end })"
    )
    edit(editor, "one.py")
    wait_for(lambda: statusline(editor) == "dscoder: ready", what="the model to load")
    # The load came as $/progress too (begin ... end) through Neovim's handler.
    kinds = wait_for(
        lambda: (k := editor.lua("return _G.kinds")) and k[-1] == "end" and k, what="progress end"
    )
    assert kinds[0] == "begin" and kinds[-1] == "end", kinds
    assert "ERROR" not in checkhealth(editor)
    # A report with a percentage while loading (the server's own loads send none).
    editor.lua(
        "local s = require('dscoder.state')"
        " s.on_status({ state = 'loading', engine = 'x', model = 'm', message = '' })"
        " s.on_progress({ token = 't', value = { kind = 'report', percentage = 40 } })"
    )
    assert statusline(editor) == "dscoder: loading 40%"
    edit(editor, ".env", "TOKEN=abc\n")
    wait_for(lambda: statusline(editor) == "dscoder: excluded", what="the excluded notice")


@pytest.mark.slow
def test_the_statusline_names_the_replica_that_served_the_last_request(
    start_editor: StartEditor, replicas: list[ServerProcess]
) -> None:
    urls = [server.url + "/v1" for server in replicas]
    init_options = {
        "engine": {"name": "openai", "endpoints": urls},
        "model": {"name": TINY_NAME},
        "template": "plain",
    }
    editor = start_editor(
        {"server": {"cmd": [str(SERVER), "--stdio"], "init_options": init_options}}
    )
    edit(editor, "one.py", "def add(a, b):\n    return")
    wait_for(lambda: statusline(editor) == "dscoder: ready", what="the engine to be ready")
    served = editor.lua(
        "local c = vim.lsp.get_clients({ name = 'dscoder' })[1]"
        " local at = { textDocument = { uri = vim.uri_from_bufnr(0) },"
        " position = { line = 1, character = 10 } }"
        " local r = c:request_sync('dscoder/complete', at, 60000, 0)"
        " return r and r.result and r.result.usage.endpoint"
    )
    assert served in urls
    replica = served.split("://", 1)[1].split("/", 1)[0]  # host:port
    # Pushed by the server (dscoder/status), not asked for.
    wait_for(lambda: statusline(editor) == f"dscoder: ready @ {replica}", what="the replica's name")
    line = str(editor.lua("return require('dscoder').status_line()"))
    assert line.endswith(f"| replica {replica} of 2"), line


def test_a_server_crash_is_told_and_the_client_restarts(start_editor: StartEditor) -> None:
    editor = start_editor()
    editor.lua(RECORD_NOTIFY)
    edit(editor, "one.py")
    wait_for(lambda: statusline(editor) == "dscoder: ready", what="the model to load")
    first = editor.lua("return vim.lsp.get_clients({ name = 'dscoder' })[1].id")
    (server,) = children_of(int(editor.nvim.eval("getpid()")))

    os.kill(server, signal.SIGKILL)

    wait_for(lambda: any("crashed" in m for m in told(editor)), what="the crash to be told")
    message = next(m for m in told(editor) if "crashed" in m)
    assert "signal 9" in message and ":checkhealth dscoder" in message

    def restarted() -> bool:
        ids = editor.lua("return vim.tbl_map(function(c) return c.id end, vim.lsp.get_clients())")
        return bool(ids) and first not in ids

    wait_for(restarted, what="the client to restart")
    wait_for(lambda: statusline(editor) == "dscoder: ready", what="the new server's model")
    assert editor.attached()  # the buffer is served again
    assert sum("crashed" in m for m in told(editor)) == 1


def test_shipped_help_tags_are_current(tmp_path: Path) -> None:
    if NVIM is None:
        pytest.skip("no Neovim 0.11+ found")
    doc = tmp_path / "doc"
    shutil.copytree(PLUGIN / "doc", doc)
    (doc / "tags").unlink()
    subprocess.run(
        [NVIM, "--headless", "--clean", "-c", f"helptags {doc}", "-c", "q"],
        check=True,
        timeout=60,
    )
    shipped = (PLUGIN / "doc" / "tags").read_text(encoding="utf-8")
    assert shipped == (doc / "tags").read_text(encoding="utf-8"), (
        "regenerate: nvim --headless -c 'helptags editors/nvim/doc' -c q"
    )


def test_help_opens_from_the_plugin(start_editor: StartEditor) -> None:
    editor = start_editor()
    editor.nvim.command("help dscoder")
    assert editor.nvim.eval("expand('%:t')") == "dscoder.txt"
    assert editor.nvim.eval("&filetype") == "help"
