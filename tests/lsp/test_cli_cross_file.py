"""``dscoder-lsp complete --json`` lists the other files' snippets in the prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lsp.test_cli import run_cli

pytestmark = pytest.mark.slow


def test_complete_json_shows_the_snippets(tmp_path: Path, any_model: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")  # the workspace root's marker
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/units.py").write_text(
        "def to_metres(feet: float) -> float:\n"
        '    """Feet to metres."""\n'
        "    return feet * 0.3048\n"
    )
    source = tmp_path / "pkg/main.py"
    source.write_text("from pkg.units import to_metres\n\nheight = ")
    result = run_cli("complete", f"{source}:3:10", "--json", "--model", str(any_model))
    assert result.returncode == 0, result.stderr
    snippets = json.loads(result.stdout)["snippets"]
    assert [(s["path"], s["startLine"], s["endLine"], s["source"]) for s in snippets] == [
        ("pkg/units.py", 0, 2, "imports")
    ]
    assert snippets[0]["tokens"] > 0
