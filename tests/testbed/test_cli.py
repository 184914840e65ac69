"""End to end: ``dscoder-lsp testbed`` starts the real server on a real model.

Scores are not asserted (the tiny model knows only toy functions); what is
asserted is that every hole went through the server and came back scored,
and that the run left its files and printed its table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The tiny model's context is 512 tokens; keep prompts well inside it.
MODEL_FLAGS = ("--n-ctx", "512", "--set", "context.maxTokens=256", "--no-progress")


def run_testbed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp.cli", "testbed", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def read_holes(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "holes.jsonl").read_text().splitlines()]


def test_humaneval_run(humaneval_file: Path, any_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "he"
    done = run_testbed(
        "humaneval", str(humaneval_file), "--limit", "3", "--out", str(out),
        "--model", str(any_model), *MODEL_FLAGS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"report: {out / 'report.md'}" in done.stdout
    assert "pass@1" in done.stdout
    holes = read_holes(out)
    assert len(holes) == 3
    for hole in holes:
        assert hole["error"] is None
        assert hole["testStatus"] in ("passed", "failed")
        assert isinstance(hole["latencyMs"], float)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["engine"] == "llama-cpp"
    assert summary["model"]["file"]["sha256"]
    assert summary["config"]["engine"]["nCtx"] == 512
    assert summary["results"]["overall"]["n"] == 3


def test_repo_run_then_compare(source_tree: Path, any_model: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        done = run_testbed(
            "repo", str(source_tree), "--holes", "4", "--seed", "5", "--out", str(out),
            "--test-command", "python3 -m py_compile {file}",
            "--model", str(any_model), *MODEL_FLAGS,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs.append(out)
    first, second = read_holes(runs[0]), read_holes(runs[1])
    assert [h["kind"] for h in first] == ["line", "rest-of-line", "block", "arguments"]
    assert [(h["id"], h["source"], h["line"]) for h in first] == [
        (h["id"], h["source"], h["line"]) for h in second
    ]
    for hole in first:
        assert hole["testStatus"] in ("passed", "failed")
        assert hole["parses"] in (True, False)
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["run"]["seed"] == 5
    done = run_testbed("compare", str(runs[0]), str(runs[1]))
    assert done.returncode == 0, done.stderr
    assert "4 holes in both runs" in done.stdout


def test_cross_file_holes_run_with_context_on_and_off(any_model: Path, tmp_path: Path) -> None:
    from tests.testbed.test_crossfile import WORKSPACE, write

    workspace = write(tmp_path / "ws", WORKSPACE)
    runs = {}
    for name, flags in (("on", ()), ("off", ("--set", "context.crossFile.enabled=false"))):
        out = tmp_path / name
        done = run_testbed(
            "repo", str(workspace), "--cross-file", "--holes", "3", "--seed", "1",
            "--out", str(out), "--model", str(any_model), *MODEL_FLAGS, *flags,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[name] = (read_holes(out), json.loads((out / "summary.json").read_text()))
    on, off = runs["on"][0], runs["off"][0]
    assert len(on) == 3 and all(h["kind"] == "cross-file" for h in on)
    assert [(h["source"], h["line"], h["crossFile"]) for h in on] == [
        (h["source"], h["line"], h["crossFile"]) for h in off
    ]
    assert all(h["error"] is None for h in on + off)
    assert runs["on"][1]["config"]["context"]["crossFile"]["enabled"] is True
    assert runs["off"][1]["config"]["context"]["crossFile"]["enabled"] is False


def test_cross_file_flag_with_no_such_holes_is_a_clear_error(source_tree: Path) -> None:
    done = run_testbed("repo", str(source_tree), "--cross-file", "--no-progress")
    assert done.returncode == 1
    assert "no holes to run" in done.stderr
