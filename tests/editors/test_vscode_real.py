"""The VS Code extension in a real VS Code: code-server, the packaged .vsix, headless Chromium.

code-server is VS Code's own workbench and extension host served to a
browser; Playwright drives Debian's Chromium (never a downloaded one) against
it, offline. The extension is the unmodified ``.vsix`` that editors/vscode/ci.sh
packages; the server is this checkout's dscoder-lsp on the test model.

What is checked is what a user sees and gets: the status item (ready,
loading, failed, restarting), ghost text (``.ghost-text-decoration``) while
typing and on the contributed Alt+\\, Tab and the word and line accepts,
cycling the alternatives with Alt+] and Alt+[, Tab with the suggest widget
open, a SIGKILLed llama.cpp worker coming back, and the file on disk after
saving. Each test saves screenshots under its own output folder (pytest's
tmp_path).

Missing pieces skip with the reason: npm, Debian's chromium, Playwright
(``pip install playwright``), the .vsix (run editors/vscode/ci.sh), or a
code-server install (tools/install_code_server.sh, cached in ~/.cache).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fill_case
from tests.support.processes import children_of, parent_of, wait_for_exit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"
INSTALLER = ROOT / "tools" / "install_code_server.sh"
CHROMIUM = Path(os.environ.get("DSCODER_CHROMIUM", "/usr/bin/chromium"))
# Chromium as root, headless, with the network closed: no sandbox, no GPU,
# and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
GHOST = ".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text"
STATUS = "[id='dscoder.dscoder-lsp.dscoder.status'], .statusbar-item[id$='dscoder.status']"


def _skip_unless_tools() -> None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm and node are needed for code-server (apt-get install npm)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright is missing (pip install playwright; never `playwright install`)")


def _vsix() -> Path:
    found = sorted(VSCODE.glob("*.vsix"))
    if not found:
        pytest.skip("no packaged .vsix in editors/vscode (run editors/vscode/ci.sh)")
    return found[-1]


def _code_server() -> Path:
    result = subprocess.run(
        [str(INSTALLER)], capture_output=True, text=True, timeout=1200, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"code-server could not be installed: {result.stderr.strip()[-600:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"code-server exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status < 500:
                return
        time.sleep(0.2)
    raise AssertionError(f"code-server did not answer at {url} in {timeout}s")


@dataclass
class Workbench:
    """code-server with the extension installed, and its folders."""

    url: str
    workspace: Path
    user_data: Path
    #: The servers this code-server starts have it as XDG_STATE_HOME, which finds them.
    state_home: Path
    settings: dict[str, Any]

    def write_workspace_settings(self, settings: dict[str, Any]) -> None:
        """Write the folder's .vscode/settings.json, which VS Code watches and applies."""
        path = self.workspace / ".vscode" / "settings.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory, fill_model: Path) -> Iterator[Workbench]:
    _skip_unless_tools()
    vsix = _vsix()
    binary = _code_server()
    base = tmp_path_factory.mktemp("code-server")
    extensions, user_data, workspace = base / "extensions", base / "user-data", base / "work"
    for folder in (extensions, user_data / "User", workspace):
        folder.mkdir(parents=True)
    # The server of this checkout, whatever dscoder-lsp is installed.
    launcher = base / "dscoder-lsp"
    # -P: the workspace's files must not shadow modules (a typing.py would).
    command = f'exec "{sys.executable}" -P -m lsp.cli "$@"'
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" {command}\n')
    launcher.chmod(0o755)
    settings = {
        "dscoder.server.path": str(launcher),
        "dscoder.model.path": str(fill_model),
        # The tiny model is sure of itself: only a hot sampler finds it alternatives.
        # The first item stays the greedy one, so the exact cases still hold.
        "dscoder.server.args": ["--set", "alternativesTemperature=1.2"],
        "dscoder.debounceMs": 30,
        "editor.inlineSuggest.enabled": True,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "extensions.autoUpdate": False,
        "extensions.autoCheckUpdates": False,
        "files.insertFinalNewline": False,
        "files.trimTrailingWhitespace": False,
        "editor.autoClosingBrackets": "never",
        "editor.autoIndent": "none",
        "editor.acceptSuggestionOnEnter": "off",
    }
    (user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    common = [f"--extensions-dir={extensions}", f"--user-data-dir={user_data}"]
    install = subprocess.run(
        [str(binary), *common, "--install-extension", str(vsix)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    port = _free_port()
    state_home = base / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(state_home)}
    log = (base / "code-server.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            *common,
            "--auth=none",
            f"--bind-addr=127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            str(workspace),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url + "healthz", process)
        yield Workbench(
            url=f"{url}?folder={workspace}",
            workspace=workspace,
            user_data=user_data,
            state_home=state_home,
            settings=settings,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def page(workbench: Workbench, tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(workbench.url)
        page.wait_for_selector(".monaco-workbench", timeout=120_000)
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "last.png"))
            context.close()
            browser.close()


def open_file(page: Any, workbench: Workbench, name: str, text: str) -> Path:
    """Write ``name`` into the workspace and open it through Quick Open."""
    path = workbench.workspace / name
    path.write_text(text, encoding="utf-8")
    page.keyboard.press("Control+P")
    page.wait_for_selector(".quick-input-widget input")
    page.keyboard.type(name)
    page.wait_for_selector(f".quick-input-list .monaco-list-row[aria-label*='{name}']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f".tab[aria-label*='{name}']")
    page.wait_for_selector(".monaco-editor .view-lines")
    page.locator(".monaco-editor .view-lines").first.click()
    return path


def go_to(page: Any, before: str) -> None:
    """Put the cursor after ``before`` (the start of the file) with Go to Line (Ctrl+G)."""
    line = before.count("\n") + 1
    column = len(before.rsplit("\n", 1)[-1]) + 1
    page.keyboard.press("Control+G")
    page.wait_for_selector(".quick-input-widget input")
    page.keyboard.type(f"{line}:{column}")
    page.keyboard.press("Enter")
    page.wait_for_selector(".quick-input-widget", state="hidden")


def wait_status(page: Any, icon: str, timeout: float = 120_000) -> None:
    page.wait_for_selector(
        f"{STATUS.split(',')[0]} .codicon-{icon}, "
        f".statusbar-item[id$='dscoder.status'] .codicon-{icon}",
        timeout=timeout,
    )


# The ghost's text as the page holds it (its spaces are no-break spaces): the
# inline part on the cursor's line, or that and the lines below it.
GHOST_TEXT_JS = """selector => Array.from(document.querySelectorAll(selector))
  .map(e => e.textContent).join('').replace(/\\u00a0/g, ' ')"""
INLINE_GHOST = ".ghost-text-decoration"


def ghost_text(page: Any, selector: str = GHOST) -> str:
    return str(page.evaluate(GHOST_TEXT_JS, selector))


def wait_ghost_change(page: Any, before: str, selector: str = GHOST) -> str:
    """Wait until the ghost text differs from ``before``; return it."""
    page.wait_for_function(
        f"([selector, before]) => ({GHOST_TEXT_JS})(selector) !== before", arg=[selector, before]
    )
    return ghost_text(page, selector)


def wait_ghost_is(page: Any, wanted: str, selector: str = GHOST) -> None:
    page.wait_for_function(
        f"([selector, wanted]) => ({GHOST_TEXT_JS})(selector) === wanted", arg=[selector, wanted]
    )


def test_typing_shows_ghost_text_and_tab_writes_it_to_the_file(
    page: Any, workbench: Workbench, tmp_path: Path
) -> None:
    case = fill_case("single-line")
    path = open_file(page, workbench, "automatic_trigger.py", case["prefix"][:-1] + case["suffix"])
    wait_status(page, "sparkle")  # ready
    page.screenshot(path=str(tmp_path / "ready.png"))
    # The cursor where the prefix ends, minus its last character; then type that one.
    go_to(page, case["prefix"][:-1])
    page.keyboard.type(case["prefix"][-1])
    page.wait_for_selector(GHOST, timeout=60_000)
    page.screenshot(path=str(tmp_path / "ghost.png"))
    page.keyboard.press("Tab")
    page.keyboard.press("Control+S")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    deadline = time.monotonic() + 30
    while path.read_text("utf-8") != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    page.screenshot(path=str(tmp_path / "accepted.png"))
    assert path.read_text("utf-8") == expected


def test_alt_backslash_asks_for_a_suggestion(
    page: Any, workbench: Workbench, tmp_path: Path
) -> None:
    case = fill_case("multi-line")
    path = open_file(page, workbench, "explicit_trigger.py", case["prefix"] + case["suffix"])
    wait_status(page, "sparkle")
    go_to(page, case["prefix"])  # moving the cursor asks nothing
    page.wait_for_timeout(500)
    assert page.locator(GHOST).count() == 0
    page.keyboard.press("Alt+Backslash")
    page.wait_for_selector(GHOST, timeout=60_000)
    page.screenshot(path=str(tmp_path / "explicit.png"))
    assert ghost_text(page).strip()
    # Tab takes the whole multi-line suggestion.
    page.keyboard.press("Tab")
    page.keyboard.press("Control+S")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    deadline = time.monotonic() + 30
    while path.read_text("utf-8") != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    page.screenshot(path=str(tmp_path / "accepted.png"))
    assert path.read_text("utf-8") == expected


def test_ctrl_right_accepts_one_word(page: Any, workbench: Workbench, tmp_path: Path) -> None:
    case = fill_case("single-line")
    path = open_file(page, workbench, "word_accept.py", case["prefix"][:-1] + case["suffix"])
    wait_status(page, "sparkle")
    go_to(page, case["prefix"][:-1])
    page.keyboard.type(case["prefix"][-1])
    page.wait_for_selector(GHOST, timeout=60_000)
    word = case["middle"].split(" ", 1)[0]
    page.keyboard.press("Control+ArrowRight")  # the extension's key: VS Code's own word accept
    # The command runs in the extension host: wait for the word to leave the ghost.
    page.wait_for_function(
        "word => !Array.from(document.querySelectorAll('.ghost-text-decoration'))"
        ".map(e => e.textContent).join('').startsWith(word)",
        arg=word,
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Control+S")
    expected = case["prefix"] + word + case["suffix"]
    deadline = time.monotonic() + 30
    while path.read_text("utf-8") != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    page.screenshot(path=str(tmp_path / "word.png"))
    assert path.read_text("utf-8") == expected


def saved_text(page: Any, path: Path, expected: str) -> str:
    """Save (Ctrl+S) and return the file once it reads ``expected``, or as it is after 30 s."""
    page.keyboard.press("Control+S")
    deadline = time.monotonic() + 30
    while path.read_text("utf-8") != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.read_text("utf-8")


def explicit_ghost(page: Any, workbench: Workbench, name: str) -> tuple[dict[str, Any], Path]:
    """The multi-line case opened at its hole, with the suggestion asked for by Alt+\\."""
    case = fill_case("multi-line")
    path = open_file(page, workbench, name, case["prefix"] + case["suffix"])
    wait_status(page, "sparkle")
    go_to(page, case["prefix"])
    page.keyboard.press("Alt+Backslash")
    page.wait_for_selector(GHOST, timeout=60_000)
    # The whole suggestion drawn (the cursor's line, then the lines below it) before any key.
    first, rest = case["middle"].split("\n", 1)
    wait_ghost_is(page, first, INLINE_GHOST)
    wait_ghost_is(page, "".join(rest.split("\n")), ".ghost-text")
    return case, path


def test_ctrl_alt_right_accepts_one_line(page: Any, workbench: Workbench, tmp_path: Path) -> None:
    case, path = explicit_ghost(page, workbench, "line_accept.py")
    first, rest = case["middle"].split("\n", 1)
    page.screenshot(path=str(tmp_path / "ghost.png"))
    before = ghost_text(page)
    assert ghost_text(page, INLINE_GHOST) == first
    page.keyboard.press("Control+Alt+ArrowRight")  # the extension's key: VS Code's next-line accept
    wait_ghost_change(page, before)
    page.screenshot(path=str(tmp_path / "line.png"))
    page.keyboard.press("Escape")
    # VS Code's next-line accept takes the line with its line break.
    expected = case["prefix"] + first + "\n" + case["suffix"]
    assert saved_text(page, path, expected) == expected
    assert rest.strip() not in path.read_text("utf-8")


def test_alt_brackets_cycle_the_alternatives(
    page: Any, workbench: Workbench, tmp_path: Path
) -> None:
    case, path = explicit_ghost(page, workbench, "alternatives.py")
    first = ghost_text(page)
    assert ghost_text(page, INLINE_GHOST) == case["middle"].split("\n", 1)[0]
    page.screenshot(path=str(tmp_path / "first.png"))
    page.keyboard.press("Alt+BracketRight")
    second = wait_ghost_change(page, first)
    second_line = ghost_text(page, INLINE_GHOST)
    page.screenshot(path=str(tmp_path / "second.png"))
    assert second.strip()
    page.keyboard.press("Alt+BracketLeft")
    wait_ghost_is(page, first)
    page.screenshot(path=str(tmp_path / "back.png"))
    page.keyboard.press("Alt+BracketRight")
    wait_ghost_is(page, second)
    page.keyboard.press("Tab")
    usual = case["prefix"] + case["middle"] + case["suffix"]
    text = saved_text(page, path, usual)
    page.screenshot(path=str(tmp_path / "accepted.png"))
    # The alternative went in, not the usual answer, and around it nothing changed.
    assert text != usual
    assert text.startswith(case["prefix"]) and text.endswith(case["suffix"])
    inserted = text[len(case["prefix"]) : len(text) - len(case["suffix"])]
    assert inserted.strip()
    assert inserted.startswith(second_line)


RECORD_STATUS = """() => {
  window.dscoderStatus = [];
  const seen = () => {
    const item = document.querySelector(".statusbar-item[id$='dscoder.status']");
    const icon = item && item.querySelector(".codicon");
    const name = icon ? Array.from(icon.classList).find(c => c.startsWith("codicon-")
      && !c.startsWith("codicon-modifier")) : null;
    const last = window.dscoderStatus[window.dscoderStatus.length - 1];
    if (name && name !== last) window.dscoderStatus.push(name);
  };
  new MutationObserver(seen).observe(document.querySelector(".part.statusbar"),
    { subtree: true, childList: true, attributes: true, characterData: true });
  seen();
}"""


def status_seen(page: Any) -> list[str]:
    return list(page.evaluate("() => window.dscoderStatus"))


def test_the_status_item_shows_loading_failed_and_ready(
    page: Any, workbench: Workbench, tmp_path: Path
) -> None:
    case = fill_case("single-line")
    path = open_file(page, workbench, "status.py", case["prefix"][:-1] + case["suffix"])
    wait_status(page, "sparkle")
    page.evaluate(RECORD_STATUS)
    # A new server command restarts the server: it starts, loads, and fails.
    args = workbench.settings["dscoder.server.args"]
    missing = tmp_path / "no-such-model.gguf"
    try:
        workbench.write_workspace_settings(
            {
                "dscoder.server.args": [*args, "--model", str(missing)],
                "dscoder.model.path": str(missing),
            }
        )
        wait_status(page, "error")
        page.screenshot(path=str(tmp_path / "failed.png"))
        tooltip = page.locator(".statusbar-item[id$='dscoder.status']").first.get_attribute(
            "aria-label"
        )
        assert tooltip and "failed" in tooltip
        assert status_seen(page)[-1] == "codicon-error"
    finally:
        workbench.write_workspace_settings({})  # back to the user settings
    wait_status(page, "sparkle")
    page.screenshot(path=str(tmp_path / "ready.png"))
    seen = status_seen(page)
    # ready, then the reload (loading) that fails, then loading again and ready.
    assert seen[0] == "codicon-sparkle"
    failed = seen.index("codicon-error")
    assert "codicon-loading" in seen[:failed]
    assert "codicon-loading" in seen[failed:]
    assert seen[-1] == "codicon-sparkle"
    # And the model that came back serves.
    go_to(page, case["prefix"][:-1])
    page.keyboard.type(case["prefix"][-1])
    page.wait_for_selector(GHOST, timeout=60_000)
    page.keyboard.press("Tab")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    assert saved_text(page, path, expected) == expected


def server_pids(state_home: Path) -> list[int]:
    """The dscoder-lsp servers this code-server started (their XDG_STATE_HOME is ours)."""
    found = []
    marker = f"XDG_STATE_HOME={state_home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"lsp.cli" in command and marker in environ:
            found.append(int(entry.name))
    # A worker between fork and exec still has its server's command line and
    # environment; it is not a second server.
    return [pid for pid in found if parent_of(pid) not in found]


def test_a_killed_worker_restarts_and_the_next_suggestion_comes(
    page: Any, workbench: Workbench, tmp_path: Path
) -> None:
    case = fill_case("single-line")
    path = open_file(page, workbench, "worker_crash.py", case["prefix"][:-1] + case["suffix"])
    wait_status(page, "sparkle")
    (server,) = server_pids(workbench.state_home)
    (worker,) = children_of(server)
    page.evaluate(RECORD_STATUS)

    os.kill(worker, signal.SIGKILL)
    assert wait_for_exit(worker, timeout=10)
    deadline = time.monotonic() + 60
    while children_of(server) in ([], [worker]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children_of(server) not in ([], [worker]), "no new worker"
    # The status item says so (restarting), then ready once the new worker has the model.
    page.wait_for_function(
        "() => window.dscoderStatus.includes('codicon-sync')"
        " && window.dscoderStatus.at(-1) === 'codicon-sparkle'",
        timeout=60_000,
    )
    page.screenshot(path=str(tmp_path / "restarted.png"))

    go_to(page, case["prefix"][:-1])
    page.keyboard.type(case["prefix"][-1])
    page.wait_for_selector(GHOST, timeout=60_000)
    page.screenshot(path=str(tmp_path / "ghost.png"))
    page.keyboard.press("Tab")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    assert saved_text(page, path, expected) == expected
    # The same server throughout: only its worker was replaced.
    assert server_pids(workbench.state_home) == [server]


def test_tab_takes_the_suggest_widget_item_then_the_ghost_text(
    page: Any, workbench: Workbench, tmp_path: Path
) -> None:
    case = fill_case("single-line")
    # "level" is in the suffix: typing its first letter opens the word-based suggest
    # widget (quick suggestions are on by default) while an inline request runs too.
    word, rest = case["middle"].split(" ", 1)
    path = open_file(page, workbench, "suggest.py", case["prefix"] + case["suffix"])
    wait_status(page, "sparkle")
    go_to(page, case["prefix"])
    page.keyboard.type(word[0])
    widget = page.locator(".suggest-widget.visible")
    widget.wait_for(timeout=30_000)
    assert word in widget.locator(".monaco-list-row.focused").inner_text()
    page.screenshot(path=str(tmp_path / "widget.png"))
    # With the widget open, Tab is VS Code's acceptSelectedSuggestion: the word.
    page.keyboard.press("Tab")
    widget.wait_for(state="hidden")
    # Then the ghost text continues the line, and the next Tab takes it.
    wait_ghost_is(page, " " + rest, INLINE_GHOST)
    page.screenshot(path=str(tmp_path / "ghost.png"))
    page.keyboard.press("Tab")
    expected = case["prefix"] + case["middle"] + case["suffix"]
    text = saved_text(page, path, expected)
    page.screenshot(path=str(tmp_path / "accepted.png"))
    assert text == expected
