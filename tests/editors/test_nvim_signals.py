"""The Neovim plugin's acceptance signals, <Plug> mappings, key fallback and cycling.

A real headless Neovim 0.11 (its own renderer) against the real server: what
the plugin tells the server shows up in the server's ``dscoder/stats``.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import fill_case
from tests.editors.conftest import Editor, StartEditor, wait_for
from tests.editors.test_nvim import type_to_hole


def stats_when(editor: Editor, key: str, value: int) -> dict[str, Any]:
    return wait_for(
        lambda: (now := editor.server_stats())[key] >= value and now,
        what=f"server stats {key} >= {value}",
    )


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_tab_accept_runs_the_item_command_and_the_server_counts_it(
    start_editor: StartEditor,
) -> None:
    editor = start_editor()
    case = fill_case("single-line")
    type_to_hole(editor, case)
    editor.wait_ghost(case["middle"])
    assert stats_when(editor, "shown", 1)["accepted"] == 0  # didShowCompletion arrived
    editor.press("<Tab>")
    counters = stats_when(editor, "accepted", 1)
    assert counters["accepted"] == 1
    assert counters["acceptedChars"] == utf16(case["middle"])
    assert counters["shown"] == 1
    assert counters["acceptanceRate"] == 1.0
    assert counters["acceptanceByLanguage"]["python"]["accepted"] == 1


def test_word_accept_sends_the_partial_signal(start_editor: StartEditor) -> None:
    editor = start_editor()
    case = fill_case("multi-line")
    middle = case["middle"]
    word = middle.split("\n", 1)[0].split(" ", 1)[0]
    type_to_hole(editor, case)
    editor.wait_ghost(middle)
    editor.press("<M-Right>")
    wait_for(lambda: editor.text() == case["prefix"] + word + case["suffix"], what="one word")
    assert editor.counters()["partially_accepted"] == 1
    # Leaving the suggestion for a new one decides it: partly accepted, not rejected.
    editor.press("<Esc>")
    editor.insert_at(0)
    editor.press("<M-\\>")
    counters = stats_when(editor, "partiallyAccepted", 1)
    assert counters["acceptedChars"] == utf16(word)
    assert counters["rejected"] == 0
    assert counters["acceptanceByLines"]["multi"]["partiallyAccepted"] == 1


def test_plug_mappings_and_tab_falls_back_to_the_mapping_it_replaced(
    start_editor: StartEditor,
) -> None:
    editor = start_editor({"auto_trigger": False})
    plugs = editor.lua(
        "local names = {} for _, m in ipairs(vim.api.nvim_get_keymap('i')) do"
        " if m.lhs:find('dscoder') then names[#names + 1] = m.lhs end end"
        " table.sort(names) return names"
    )
    for name in ("accept", "accept-word", "accept-line", "dismiss", "next", "previous", "suggest"):
        assert f"<Plug>(dscoder-{name})" in plugs
    # A completion plugin's <Tab>, mapped before the client attached.
    editor.lua("vim.keymap.set('i', '<Tab>', function() return 'FROM-CMP' end, { expr = true })")
    case = fill_case("mid-line")
    editor.open(case)
    editor.insert_at(len(case["prefix"]))
    editor.press("<Tab>")  # nothing suggested: the other plugin's mapping runs
    expected = case["prefix"] + "FROM-CMP" + case["suffix"]
    wait_for(lambda: editor.text() == expected, what="the replaced mapping's text")

    # A user's own key on a <Plug> mapping accepts (at the hole again: inside
    # `f(FROM-CMP|)` post-processing rightly drops the tiny model's answer).
    editor.nvim.command("imap <C-l> <Plug>(dscoder-accept)")
    editor.press("<Esc>")
    editor.nvim.command("undo")
    wait_for(lambda: editor.text() == case["prefix"] + case["suffix"], what="the undo")
    editor.insert_at(len(case["prefix"]))
    editor.press("<M-\\>")
    ghost = editor.wait_ghost()
    editor.press("<C-l>")
    head = case["prefix"]
    wait_for(lambda: editor.text().startswith(head + ghost), what="<Plug>(dscoder-accept)")


def test_one_enable_helper_for_global_and_buffer(start_editor: StartEditor) -> None:
    editor = start_editor()
    editor.open(fill_case("single-line"))
    editor.lua("require('dscoder').set_enabled(false, { bufnr = 0 })")
    assert editor.lua("return require('dscoder').is_enabled(0)") is False
    editor.lua("require('dscoder').set_enabled(true, { bufnr = 0 })")
    assert editor.lua("return require('dscoder').is_enabled(0)") is True
    editor.lua("vim.b.dscoder_enabled = nil require('dscoder').set_enabled(false)")
    assert editor.lua("return require('dscoder').is_enabled(0)") is False
    editor.lua("require('dscoder').set_enabled()")
    assert editor.lua("return require('dscoder').is_enabled(0)") is True


def test_alt_bracket_cycles_alternatives(start_editor: StartEditor) -> None:
    # The tiny model is sure of itself: only a hot sampler gives it a second answer.
    editor = start_editor(init_options={"alternativesTemperature": 1.2})
    case = fill_case("multi-line")
    type_to_hole(editor, case)
    first = editor.wait_ghost(case["middle"])
    editor.press("<M-]>")  # one item so far: asks for alternatives, shows the second
    second = wait_for(
        lambda: (ghost := editor.ghost()) not in (None, first) and ghost, what="an alternative"
    )
    assert editor.lua("return { require('dscoder.ghost').alternative() }")[0] == 2
    editor.press("<M-[>")
    assert editor.wait_ghost(first) == first
    editor.press("<M-[>")  # round the other way
    assert editor.wait_ghost() != first
    assert second
