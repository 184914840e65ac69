"""HumanEval infilling problems as holes, and pass@1 by running their tests.

Reads the single-line, multi-line and random-span files of the HumanEval
infilling benchmark (``.jsonl`` or ``.jsonl.gz``; fields ``task_id``,
``entry_point``, ``prompt``, ``suffix``, ``canonical_solution``, ``test``).

A problem becomes the document an editor would hold: when the hole is whole
lines (the prompt ends a line and the solution ends with a newline) the
cursor sits on an empty line between prompt and suffix, as it would while
typing (``--cursor editor``), or at column 0 of the suffix's first line, the
benchmark's own split (``--cursor raw``); otherwise the cursor sits where the
span was cut. The program that is
tested is the document with the completion typed at the cursor, then the
problem's ``test`` code and ``check(entry_point)``, run by ``testbed.sandbox``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from testbed.holes import Hole
from testbed.sandbox import Limits, Outcome, run_python


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise ValueError(f"{path}:{number}: not JSON: {error}") from None


def kind_of(task_id: str, path: Path) -> str:
    name = (task_id.split("/", 1)[0] + " " + path.name).lower()
    for marker, kind in (
        ("singleline", "single-line"),
        ("multiline", "multi-line"),
        ("randomspan", "random-span"),
    ):
        if marker in name.replace("-", "").replace("_", ""):
            return kind
    return "infilling"


CURSORS = ("editor", "raw")
"""Where the cursor of a whole-line hole sits: on an empty line between prompt
and suffix ("editor", as after Enter), or at column 0 of the suffix's first
line with the solution ending in its newline ("raw", the benchmark's own
split, where Neovim 0.12 requests on InsertEnter)."""


def problem_to_hole(problem: dict[str, Any], path: Path, cursor: str = "editor") -> Hole:
    prompt: str = problem["prompt"]
    suffix: str = problem["suffix"]
    middle: str = problem["canonical_solution"]
    whole_lines = prompt.endswith("\n") and middle.endswith("\n")
    if whole_lines and cursor == "editor":
        # The editor's view: an empty line where the solution goes.
        middle = middle[:-1]
        suffix = "\n" + suffix
    task_id = str(problem["task_id"])
    return Hole(
        id=task_id,
        source=task_id,
        language_id="python",
        kind=kind_of(task_id, path),
        prefix=prompt,
        suffix=suffix,
        expected=middle,
        extra={"entryPoint": problem["entry_point"], "test": problem["test"]},
    )


def load(path: Path, limit: int | None = None, cursor: str = "editor") -> list[Hole]:
    if cursor not in CURSORS:
        raise ValueError(f"cursor must be one of {', '.join(CURSORS)}, not {cursor!r}")
    holes: list[Hole] = []
    for problem in read_jsonl(path):
        if limit is not None and len(holes) >= limit:
            break
        holes.append(problem_to_hole(problem, path, cursor))
    return holes


def test_program(hole: Hole, completion: str) -> str:
    """The filled-in function followed by the problem's tests."""
    entry_point = hole.extra["entryPoint"]
    return f"{hole.filled(completion)}\n\n{hole.extra['test']}\n\ncheck({entry_point})\n"


async def pass_at_1(hole: Hole, completion: str, limits: Limits | None = None) -> Outcome:
    return await run_python(test_program(hole, completion), limits)
