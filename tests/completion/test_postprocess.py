"""The post-processing stage as the pipeline uses it: StreamCutter and postprocess."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from completion.context import Context
from completion.postprocess import StreamCutter, first_line_complete, postprocess

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "tiny-dscoder" / "examples.json"
EOT = "<|EOT|>"


def make_context(
    prefix: str, suffix: str = "", language_id: str = "python", multiline: bool = True
) -> Context:
    line_prefix = prefix.rsplit("\n", 1)[-1]
    return Context(
        prefix=prefix,
        suffix=suffix,
        language_id=language_id,
        multiline=multiline,
        line_prefix=line_prefix,
        line_suffix=suffix.split("\n", 1)[0],
        indent=line_prefix[: len(line_prefix) - len(line_prefix.lstrip(" \t"))],
    )


def feed_all(cutter: StreamCutter, pieces: list[str]) -> int:
    """Feed pieces until the cutter is done; return how many it took."""
    for count, piece in enumerate(pieces, start=1):
        if cutter.feed(piece):
            return count
    return len(pieces)


# --- StreamCutter


def test_cutter_stops_at_stop_sequence_split_across_pieces() -> None:
    cutter = StreamCutter(stop=[EOT], multiline=True)
    assert feed_all(cutter, ["x = 1", "<|E", "OT|>", "junk"]) == 3
    assert cutter.text == "x = 1"


def test_cutter_single_line_stops_after_first_line() -> None:
    cutter = StreamCutter(stop=[], multiline=False)
    assert feed_all(cutter, ["\n", "  ", "x = 1", "\n", "y"]) == 4
    assert cutter.text == "\n  x = 1\n"


def test_cutter_multiline_without_context_runs_on() -> None:
    cutter = StreamCutter(stop=[], multiline=True)
    assert feed_all(cutter, ["a\n", "b\n", "c\n"]) == 3
    assert not cutter.done


def test_cutter_multiline_stops_on_repeated_lines_without_context() -> None:
    cutter = StreamCutter(stop=[], multiline=True)
    assert feed_all(cutter, ["x = 1\n", "y = f(x)\n", "y = f(x)\n", "z\n"]) == 3


def test_cutter_multiline_stops_when_block_ends() -> None:
    context = make_context("def f(x):\n    ", "\n")
    cutter = StreamCutter(stop=[], multiline=True, context=context)
    pieces = ["y = x", "\n    return y\n", "\n", "def", " g():\n", "    pass\n"]
    assert feed_all(cutter, pieces) == 5
    assert postprocess(cutter.text, context) == "y = x\n    return y"


def test_cutter_multiline_stops_when_output_replays_suffix() -> None:
    context = make_context("func f() int {\n\t", "\n}\n\nfunc main() {\n}\n", "go")
    cutter = StreamCutter(stop=[], multiline=True, context=context)
    assert feed_all(cutter, ["return 1\n", "}\n", "\n", "func main"]) == 2
    assert postprocess(cutter.text, context) == "return 1"


def test_cutter_multiline_keeps_going_inside_block() -> None:
    context = make_context("def f(x):\n    ", "\n")
    cutter = StreamCutter(stop=[], multiline=True, context=context)
    feed_all(cutter, ["if x:\n", "        y = 1\n", "    else:\n", "        y = 2\n"])
    assert not cutter.done


@pytest.mark.parametrize(
    ("text", "complete"),
    [("", False), ("\n\n", False), ("  x\n", True), ("\nx", False), ("\nx\n", True)],
)
def test_first_line_complete(text: str, complete: bool) -> None:
    assert first_line_complete(text) is complete


# --- postprocess


def test_postprocess_cuts_at_stop_token_first() -> None:
    context = make_context("x = ", "\n", multiline=False)
    assert postprocess("1" + EOT + "2", context, stop=[EOT]) == "1"


def test_postprocess_blank_is_nothing() -> None:
    assert postprocess("  \n ", make_context("x = ", "\n")) == ""


def test_postprocess_custom_filter_list() -> None:
    context = make_context("x = ", "\n", multiline=False)
    assert postprocess("ab", context, filters=[lambda text, _: text.upper()]) == "AB"


def test_postprocess_skips_a_failing_filter(caplog: pytest.LogCaptureFixture) -> None:
    def broken(text: str, context: Context) -> str:
        raise ValueError("bug")

    context = make_context("x = ", "\n", multiline=False)
    assert postprocess("1 ", context, filters=[broken, _strip]) == "1"
    assert "broken" in caplog.text


def _strip(text: str, context: Context) -> str:
    return text.strip()


def _examples() -> list[dict[str, str]]:
    return list(json.loads(EXAMPLES.read_text())) if EXAMPLES.exists() else []


@pytest.mark.parametrize("case", _examples(), ids=lambda case: f"{case['language']}-{case['kind']}")
@pytest.mark.parametrize("overrun", ["none", "suffix", "eot"])
def test_tiny_model_examples_survive_overruns(case: dict[str, str], overrun: str) -> None:
    """The exact middles the e2e tests expect come through any overrun unchanged."""
    kind = case["kind"]
    context = make_context(
        case["prefix"], case["suffix"], case["languageId"], multiline=kind == "multi-line"
    )
    middle = case["middle"]
    raw = {"none": middle, "suffix": middle + case["suffix"], "eot": middle + EOT + "x"}[overrun]
    assert postprocess(raw, context, stop=[EOT]) == middle.rstrip()


# --- golden cases: tests/completion/golden/*.golden

GOLDEN = Path(__file__).parent / "golden"
CURSOR = "<|cursor|>"


@dataclass(frozen=True)
class GoldenCase:
    language_id: str
    name: str
    multiline: bool
    source: str
    output: str
    expected: str


def load_golden(path: Path) -> list[GoldenCase]:
    """Cases from one file: '=== name [single|multi]', then source/output/expected sections."""
    cases: list[GoldenCase] = []
    header: str | None = None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None

    def finish() -> None:
        if header is None:
            return
        name, _, mode = header.rpartition(" [")
        text = {key: "\n".join(lines).rstrip("\n") for key, lines in sections.items()}
        cases.append(
            GoldenCase(
                path.stem,
                name,
                mode.rstrip("]") == "multi",
                text["source"] + "\n",
                text["output"],
                text["expected"],
            )
        )

    with path.open(newline="") as handle:  # keep \r: a case may test CRLF output
        raw = handle.read()
    for line in raw.split("\n"):
        if line.startswith("=== "):
            finish()
            header, sections, current = line[4:].strip(), {}, None
        elif line.startswith("--- ") and header is not None:
            current = sections.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
    finish()
    return cases


GOLDEN_CASES = [case for path in sorted(GOLDEN.glob("*.golden")) for case in load_golden(path)]


def test_golden_suite_is_big_enough() -> None:
    languages = {case.language_id for case in GOLDEN_CASES}
    assert {"python", "typescript", "go", "rust"} <= languages
    assert len(GOLDEN_CASES) >= 60
    assert all(case.source.count(CURSOR) == 1 for case in GOLDEN_CASES)


@pytest.mark.parametrize(
    "case", GOLDEN_CASES, ids=[f"{case.language_id}: {case.name}" for case in GOLDEN_CASES]
)
def test_golden(case: GoldenCase) -> None:
    prefix, suffix = case.source.split(CURSOR)
    context = make_context(prefix, suffix, case.language_id, multiline=case.multiline)
    assert postprocess(case.output, context, stop=[EOT]) == case.expected


def test_cutter_at_a_line_end_stops_after_a_line_that_opens_nothing() -> None:
    context = make_context("def f(a):\n    total = ", "\n    return total\n")
    cutter = StreamCutter(stop=[], multiline=True, context=context)
    assert feed_all(cutter, ["a + 1", "\n", "    more\n", "    lines\n"]) == 2
    opener = make_context("def f(items):\n    for item in ", "\n    return None\n")
    cutter = StreamCutter(stop=[], multiline=True, context=opener)
    assert feed_all(cutter, ["items:\n", "        print(item)\n", "    done\n"]) == 3
    assert postprocess(cutter.text, opener) == "items:\n        print(item)"
