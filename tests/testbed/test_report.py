from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from testbed.compare import compare_runs
from testbed.report import metrics, percentile, summarize, svg_histogram, write_run


def record(i: int, language: str, exact: bool, latency: float, **more: Any) -> dict[str, Any]:
    return {
        "id": f"{i:04d}",
        "source": f"f{i}.py",
        "language": language,
        "kind": "line" if i % 2 else "block",
        "line": 1,
        "column": 1,
        "expected": "x = 1",
        "completion": "x = 1" if exact else "",
        "exactMatch": exact,
        "editSimilarity": 1.0 if exact else 0.0,
        "parses": True,
        "latencyMs": latency,
        "wallMs": latency + 1,
        "error": None,
        **more,
    }


RECORDS = [
    record(i, "python" if i < 3 else "javascript", i % 2 == 0, 10.0 * (i + 1)) for i in range(4)
]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


def test_metrics() -> None:
    overall = metrics(RECORDS)
    assert overall["n"] == 4
    assert overall["exactMatch"] == pytest.approx(0.5)
    assert overall["empty"] == 2
    assert overall["pass1"] is None
    tested = metrics(
        [record(0, "python", True, 1, passed=True), record(1, "python", False, 1, passed=False)]
    )
    assert tested["pass1"] == pytest.approx(0.5) and tested["tested"] == 2
    groups = summarize(RECORDS)
    assert set(groups["byLanguage"]) == {"python", "javascript"}
    assert groups["byLanguage"]["javascript"]["n"] == 1


def test_svg_histogram_is_well_formed() -> None:
    ET.fromstring(svg_histogram([1.0, 2.0, 2.5, 40.0], "latency"))
    ET.fromstring(svg_histogram([], "latency"))


def write(folder: Path, records: list[dict[str, Any]]) -> Path:
    summary = {
        "run": {"benchmark": "repo", "command": "x", "startedAt": "now", "seconds": 1.0},
        "model": {"model": "m", "engine": "e"},
        "results": summarize(records),
    }
    return write_run(folder, summary, records)


def test_write_run_and_compare(tmp_path: Path) -> None:
    report = write(tmp_path / "a", RECORDS)
    assert report.read_text().startswith("# dscoder-lsp testbed")
    assert (tmp_path / "a" / "latency-python.svg").is_file()
    lines = (tmp_path / "a" / "holes.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["0000", "0001", "0002", "0003"]
    better = [dict(r, exactMatch=True) for r in RECORDS]
    write(tmp_path / "b", better)
    comparison = compare_runs(tmp_path / "a", tmp_path / "b" / "summary.json")
    assert "+50.0 pt" in comparison.terminal
    assert "2 exact in both, 0 only in A, 2 only in B" in comparison.terminal
    assert comparison.markdown.startswith("# dscoder-lsp testbed: comparison")
