"""Small source trees and HumanEval-style problems for the testbed tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

PYTHON_SOURCE = '''\
import math


def area(radius, scale):
    """Area of a scaled circle."""
    value = math.pi * radius * radius
    if scale > 1:
        value = value * scale
        value = round(value, 2)
    return value


def describe(shape):
    name = shape.get("name", "unknown")
    return format_name(name, len(name))


def format_name(name, width):
    return name.ljust(width + 2)
'''

JS_SOURCE = """\
function total(items, tax) {
  let sum = 0;
  for (const item of items) {
    sum += item.price;
    sum += item.fee;
  }
  return Math.round(sum * (1 + tax));
}

console.log(total([], 0.2));
"""

BROKEN_SOURCE = "def broken(:\n    return\n"


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "shapes.py").write_text(PYTHON_SOURCE)
    (root / "web").mkdir()
    (root / "web" / "cart.js").write_text(JS_SOURCE)
    (root / "pkg" / "broken.py").write_text(BROKEN_SOURCE)
    (root / "README.md").write_text("# not code\n")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "dep.js").write_text(JS_SOURCE)
    return root


def problem(task: str, canonical: str) -> dict[str, Any]:
    return {
        "task_id": f"SingleLineInfilling/{task}/L0",
        "entry_point": "add",
        "prompt": 'def add(a, b):\n    """Sum of a and b."""\n',
        "suffix": "    return total\n",
        "canonical_solution": canonical,
        "test": "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n",
    }


@pytest.fixture
def humaneval_file(tmp_path: Path) -> Path:
    path = tmp_path / "HumanEval-SingleLineInfilling.jsonl.gz"
    problems = [problem(f"Toy/{i}", "    total = a + b\n") for i in range(3)]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for item in problems:
            handle.write(json.dumps(item) + "\n")
    return path
