from __future__ import annotations

from pathlib import Path

from testbed import humaneval
from testbed.sandbox import Limits


def test_whole_line_problems_put_the_cursor_on_an_empty_line(humaneval_file: Path) -> None:
    holes = humaneval.load(humaneval_file)
    assert len(holes) == 3
    hole = holes[0]
    assert hole.kind == "single-line"
    assert hole.expected == "    total = a + b"
    assert hole.prefix.endswith('"""\n') and hole.suffix.startswith("\n    return total")
    assert hole.position == (2, 0)
    assert humaneval.load(humaneval_file, limit=2)[-1].id == holes[1].id


def test_random_spans_keep_the_cut_as_is() -> None:
    hole = humaneval.problem_to_hole(
        {
            "task_id": "RandomSpanInfilling/HumanEval/0/1",
            "entry_point": "f",
            "prompt": "def f(x):\n    return x +",
            "suffix": " 1\n",
            "canonical_solution": " x *",
            "test": "",
        },
        Path("HumanEval-RandomSpanInfilling.jsonl.gz"),
    )
    assert hole.kind == "random-span"
    assert hole.filled(hole.expected) == "def f(x):\n    return x + x * 1\n"


async def test_pass_at_1_runs_the_problem_tests(humaneval_file: Path) -> None:
    hole = humaneval.load(humaneval_file)[0]
    assert (await humaneval.pass_at_1(hole, hole.expected)).passed
    wrong = await humaneval.pass_at_1(hole, "    total = a - b")
    assert wrong.status == "failed" and "AssertionError" in wrong.stderr
    broken = await humaneval.pass_at_1(hole, "    total = (")
    assert broken.status == "failed" and "SyntaxError" in broken.stderr


async def test_a_completion_that_never_ends_times_out(humaneval_file: Path) -> None:
    hole = humaneval.load(humaneval_file)[0]
    outcome = await humaneval.pass_at_1(
        hole, "    while True:\n        pass", Limits(timeout_s=1.5)
    )
    assert outcome.status == "timeout"


def test_the_raw_cursor_is_the_benchmarks_own_split(humaneval_file: Path) -> None:
    hole = humaneval.load(humaneval_file, cursor="raw")[0]
    assert hole.expected == "    total = a + b\n"
    assert hole.prefix.endswith('"""\n') and hole.suffix.startswith("    return total")
    assert hole.position == (2, 0)
    assert hole.filled(hole.expected) == humaneval.load(humaneval_file)[0].filled(
        "    total = a + b"
    )


def test_an_item_range_over_closers_is_scored_as_accepted() -> None:
    from testbed.runner import as_accepted, replaced_length

    hole = humaneval.problem_to_hole(
        {
            "task_id": "RandomSpanInfilling/HumanEval/0/2",
            "entry_point": "f",
            "prompt": "def f(x):\n    return max(",
            "suffix": ")\n",
            "canonical_solution": "x, 0",
            "test": "",
        },
        Path("HumanEval-RandomSpanInfilling.jsonl.gz"),
    )
    edit = {"start": {"line": 1, "character": 15}, "end": {"line": 1, "character": 16}}
    assert replaced_length(edit) == 1 and replaced_length(None) == 0
    accepted = as_accepted(hole, 1)
    assert accepted.filled("x, 0)") == "def f(x):\n    return max(x, 0)\n"
    assert accepted.expected == "x, 0)"
