"""``testbed compare A B``: two runs' summaries side by side, and where they differ.

Reads the ``summary.json`` and ``holes.jsonl`` that ``testbed.report`` wrote.
Metrics are set side by side overall, per hole kind and per language; when
both runs scored the same holes (same ids), it also counts the holes only
one of them got exactly right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.report import METRICS, cell, markdown_table, text_table


@dataclass
class Comparison:
    terminal: str
    markdown: str


def run_folder(path: Path) -> Path:
    return path.parent if path.name == "summary.json" else path


def load_run(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    folder = run_folder(path)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"no summary.json in {folder}")
    summary: dict[str, Any] = json.loads(summary_path.read_text("utf-8"))
    holes: dict[str, dict[str, Any]] = {}
    holes_path = folder / "holes.jsonl"
    if holes_path.is_file():
        for line in holes_path.read_text("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                holes[str(record["id"])] = record
    return summary, holes


def delta(key: str, a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return ""
    change = b - a
    if key in ("exactMatch", "parses", "pass1"):
        return f"{change * 100:+.1f} pt"
    if key == "editSimilarity":
        return f"{change:+.3f}"
    if key.endswith("Ms"):
        return f"{change:+.0f}"
    return f"{change:+d}" if isinstance(change, int) else f"{change:+.2f}"


def metric_rows(a: dict[str, Any], b: dict[str, Any]) -> list[list[str]]:
    return [
        [label, cell(key, a.get(key)), cell(key, b.get(key)), delta(key, a.get(key), b.get(key))]
        for key, label in METRICS
    ]


def group_rows(a: dict[str, Any], b: dict[str, Any], section: str) -> list[list[str]]:
    rows = []
    for name in sorted(set(a["results"].get(section, {})) | set(b["results"].get(section, {}))):
        left = a["results"].get(section, {}).get(name, {})
        right = b["results"].get(section, {}).get(name, {})
        rows.append(
            [
                name,
                str(left.get("n", "-")),
                cell("exactMatch", left.get("exactMatch")),
                cell("exactMatch", right.get("exactMatch")),
                cell("editSimilarity", left.get("editSimilarity")),
                cell("editSimilarity", right.get("editSimilarity")),
            ]
        )
    return rows


def describe(summary: dict[str, Any]) -> str:
    model = summary.get("model", {})
    run = summary.get("run", {})
    return f"{model.get('model', '?')} ({model.get('engine', '?')}), {run.get('startedAt', '?')}"


def compare_runs(path_a: Path, path_b: Path) -> Comparison:
    a, holes_a = load_run(path_a)
    b, holes_b = load_run(path_b)
    header = ["metric", "A", "B", "B - A"]
    rows = metric_rows(a["results"]["overall"], b["results"]["overall"])
    group_header = ["group", "n", "EM A", "EM B", "ES A", "ES B"]
    groups = group_rows(a, b, "byKind") + group_rows(a, b, "byLanguage")
    shared = sorted(set(holes_a) & set(holes_b))
    only_a = sum(
        1 for i in shared if holes_a[i].get("exactMatch") and not holes_b[i].get("exactMatch")
    )
    only_b = sum(
        1 for i in shared if holes_b[i].get("exactMatch") and not holes_a[i].get("exactMatch")
    )
    both = sum(1 for i in shared if holes_a[i].get("exactMatch") and holes_b[i].get("exactMatch"))
    agreement = (
        f"{len(shared)} holes in both runs: {both} exact in both, {only_a} only in A, "
        f"{only_b} only in B"
    )
    same_holes = len(shared) == len(holes_a) == len(holes_b)
    warning = "" if same_holes else "note: the runs did not score the same set of holes\n"
    terminal = "\n\n".join(
        [
            f"A: {run_folder(path_a)}  {describe(a)}\nB: {run_folder(path_b)}  {describe(b)}",
            text_table(header, rows),
            text_table(group_header, groups),
            warning + agreement,
        ]
    )
    markdown = (
        "\n\n".join(
            [
                "# dscoder-lsp testbed: comparison",
                f"- A: `{run_folder(path_a)}`: {describe(a)}\n- B: `{run_folder(path_b)}`: "
                f"{describe(b)}",
                markdown_table(header, rows),
                markdown_table(group_header, groups),
                warning + agreement,
            ]
        )
        + "\n"
    )
    return Comparison(terminal, markdown)
