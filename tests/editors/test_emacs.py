"""docs/editors.md's Emacs lsp-mode recipe, run in a real batch Emacs against the real server.

The recipe block is read from the docs, so the docs are what is tested. Skipped
where Emacs or lsp-mode is not installed (Debian: emacs-nox, elpa-lsp-mode).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import fill_case
from tests.editors.conftest import ROOT, SERVER

DOCS = ROOT / "docs" / "editors.md"

DRIVER = r"""
(require 'package)
(package-initialize)
(unless (require 'lsp-mode nil t)
  (princ "NO-LSP-MODE\n")
  (kill-emacs 3))
(setq lsp-session-file (expand-file-name "session" (getenv "DSCODER_TEST_DIR"))
      lsp-enable-file-watchers nil
      lsp-enable-snippet nil)
(load (expand-file-name "recipe.el" (getenv "DSCODER_TEST_DIR")))
(let* ((dir (file-name-as-directory (expand-file-name "ws" (getenv "DSCODER_TEST_DIR"))))
       (row (string-to-number (getenv "DSCODER_ROW")))
       (col (string-to-number (getenv "DSCODER_COL")))
       (result (make-hash-table :test 'equal)))
  (lsp-workspace-folders-add dir)
  (find-file (expand-file-name "example.py" dir))
  (goto-char (point-min))
  (forward-line row)
  (forward-char col)
  (lsp)
  (let ((deadline (+ (float-time) 120)))
    (while (and (< (float-time) deadline)
                (not (and lsp--buffer-workspaces
                          (eq (lsp--workspace-status (car lsp--buffer-workspaces))
                              'initialized))))
      (accept-process-output nil 0.05)))
  (puthash "servers" (mapcar (lambda (w) (symbol-name (lsp--client-server-id
                                                       (lsp--workspace-client w))))
                             lsp--buffer-workspaces)
           result)
  (let ((deadline (+ (float-time) 120)) state)
    (while (and (< (float-time) deadline) (not (equal state "ready")))
      (setq state (gethash "modelState" (lsp-request "dscoder/stats" (make-hash-table))))
      (accept-process-output nil 0.05)))
  (let* ((inline (lsp-request "textDocument/inlineCompletion"
                              (append (lsp--text-document-position-params)
                                      (list :context (list :triggerKind 1)))))
         (items (gethash "items" inline)))
    (puthash "inline" (gethash "insertText" (elt items 0)) result))
  (let* ((completion (lsp-request "textDocument/completion"
                                  (lsp--text-document-position-params)))
         (items (if (hash-table-p completion) (gethash "items" completion) completion)))
    (puthash "completion" (gethash "newText" (gethash "textEdit" (elt items 0))) result))
  (lsp-workspace-shutdown (car lsp--buffer-workspaces))
  (princ (concat "RESULT " (json-encode result) "\n")))
"""


def recipe() -> str:
    """The elisp block that follows the 'tested' marker in docs/editors.md."""
    text = DOCS.read_text("utf-8")
    marker = text.index("tested: tests/editors/test_emacs.py")
    match = re.search(r"```elisp\n(.*?)```", text[marker:], re.S)
    assert match, "no elisp block after the marker"
    return match.group(1)


@pytest.mark.timeout(240)
def test_lsp_mode_recipe_gets_inline_and_menu_completions(tmp_path: Path) -> None:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed (Debian: apt-get install emacs-nox elpa-lsp-mode)")
    case = fill_case("mid-line")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "example.py").write_text(case["prefix"] + case["suffix"], encoding="utf-8")
    (tmp_path / "recipe.el").write_text(recipe(), encoding="utf-8")
    (tmp_path / "driver.el").write_text(DRIVER, encoding="utf-8")
    row = case["prefix"].count("\n")
    env = dict(
        os.environ,
        PATH=f"{SERVER.parent}{os.pathsep}{os.environ['PATH']}",
        DSCODER_MODEL=str(_model()),
        DSCODER_TEST_DIR=str(tmp_path),
        DSCODER_ROW=str(row),
        DSCODER_COL=str(len(case["prefix"].rsplit("\n", 1)[-1])),
        HOME=str(tmp_path),  # no user init file, no session left behind
    )
    # -q, not -Q: no init file, but Debian's site-start still puts elpa packages on the path.
    run = subprocess.run(
        [emacs, "--batch", "-q", "-l", str(tmp_path / "driver.el")],
        capture_output=True,
        text=True,
        env=env,
        timeout=200,
        check=False,
    )
    output = run.stdout + run.stderr
    if run.returncode == 3 and "NO-LSP-MODE" in output:
        pytest.skip("lsp-mode is not installed (Debian: apt-get install elpa-lsp-mode)")
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, output[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["servers"] == ["dscoder"]
    assert result["inline"] == case["middle"]
    assert result["completion"] == case["middle"]


def _model() -> Path:
    from tests.conftest import TINY_GGUF, smollm2_path

    return TINY_GGUF if TINY_GGUF.is_file() else smollm2_path()
