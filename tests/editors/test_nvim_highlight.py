"""The ghost-text highlight stays dim in 256 colours (a real Neovim)."""

from __future__ import annotations

from tests.editors.conftest import StartEditor


def test_ghost_text_has_a_cterm_colour_when_comment_has_none(start_editor: StartEditor) -> None:
    editor = start_editor()
    editor.nvim.command("set notermguicolors")
    # A colour scheme whose Comment has only a GUI colour (many do).
    editor.nvim.command("highlight clear")
    editor.nvim.command("highlight Comment guifg=#808080 ctermfg=NONE")
    editor.nvim.command("doautocmd ColorScheme")
    ghost = editor.lua("return vim.api.nvim_get_hl(0, { name = 'DscoderGhostText' })")
    assert ghost.get("ctermfg") == 244 and ghost.get("cterm", {}).get("italic") is True
    assert ghost.get("fg") == 0x808080


def test_ghost_text_links_to_comment_when_it_has_a_cterm_colour(
    start_editor: StartEditor,
) -> None:
    editor = start_editor()
    editor.nvim.command("set notermguicolors")
    editor.nvim.command("highlight clear")
    editor.nvim.command("highlight Comment guifg=#808080 ctermfg=244")
    editor.nvim.command("doautocmd ColorScheme")
    ghost = editor.lua("return vim.api.nvim_get_hl(0, { name = 'DscoderGhostText' })")
    assert ghost.get("link") == "Comment"
