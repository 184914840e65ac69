"""Truncation eval: does post-processing recover the true middle from an overrunning model?

Holes:
- single-line: HumanEval single-line infilling (../shared/data/humaneval-infilling),
  cursor after the line's indentation, as an editor leaves it after Enter;
- mid-line: call arguments cut with tree-sitter from those same HumanEval lines;
- multi-line: block bodies (2-15 lines) cut with tree-sitter from real code: this
  repo's Python, the Python stdlib, and the TypeScript/Go/Rust golden sources; the
  cursor on the body's first line, or ("after opener") at the end of the opener line.

The simulated model emits the true middle and then overruns: with the true suffix
text ("suffix"), with the suffix cut off mid-line within its first two lines ("cut",
as when max_tokens ends the stream), with the middle's last line again and again
("repeat"), or with plausible junk
("junk": a new definition after the block, or closing brackets the suffix already
has). "none" is the bare middle, to catch filters that damage a correct answer.
A hole counts when ``postprocess`` returns exactly the middle (trailing blanks aside).

    .venv/bin/python bench/truncation_eval.py [--limit 400] [--multiline-mode]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import sysconfig
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from completion.context import Context  # noqa: E402
from completion.languages import parser  # noqa: E402
from completion.postprocess import postprocess  # noqa: E402

HUMANEVAL = ROOT.parent / "shared" / "data" / "humaneval-infilling"
SOURCES = ROOT / "tests" / "completion" / "golden" / "sources"
PREFIX_CHARS = 4000  # about the context's prefix budget
SUFFIX_CHARS = 1200
OVERRUN_CHARS = 400  # about what a model emits in 128 tokens


@dataclass(frozen=True)
class Hole:
    kind: str
    language: str
    prefix: str
    middle: str
    suffix: str
    outer_indent: str = ""
    """Indentation of the line that opened the hole's block (for junk)."""


def context_for(hole: Hole, multiline: bool) -> Context:
    prefix = hole.prefix[-PREFIX_CHARS:]
    suffix = hole.suffix[:SUFFIX_CHARS]
    line_prefix = prefix.rsplit("\n", 1)[-1]
    return Context(
        prefix=prefix,
        suffix=suffix,
        language_id=hole.language,
        multiline=multiline,
        line_prefix=line_prefix,
        line_suffix=suffix.split("\n", 1)[0],
        indent=line_prefix[: len(line_prefix) - len(line_prefix.lstrip(" \t"))],
    )


# ------------------------------------------------------------------ holes


def humaneval_rows() -> list[dict[str, str]]:
    path = HUMANEVAL / "HumanEval-SingleLineInfilling.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def single_line_holes(rows: list[dict[str, str]]) -> Iterator[Hole]:
    for row in rows:
        line = row["canonical_solution"].rstrip("\n")
        if "\n" in line or not line.strip():
            continue
        indent = line[: len(line) - len(line.lstrip())]
        yield Hole(
            "single-line",
            "python",
            row["prompt"] + indent,
            line[len(indent) :],
            "\n" + row["suffix"],
        )


def mid_line_holes(rows: list[dict[str, str]]) -> Iterator[Hole]:
    """The arguments of the last call with arguments on each HumanEval line."""
    python = parser("python")
    assert python is not None
    for row in rows:
        line = row["canonical_solution"].rstrip("\n")
        tree = python.parse(line.strip().encode())
        offset = len(line) - len(line.lstrip())
        calls = [node for node in _walk(tree.root_node) if node.type == "argument_list"]
        calls = [node for node in calls if node.named_child_count and not node.has_error]
        if not calls:
            continue
        arguments = calls[-1]
        start = offset + arguments.start_byte + 1
        end = offset + arguments.end_byte - 1
        if not line.isascii() or end <= start:
            continue
        yield Hole(
            "mid-line",
            "python",
            row["prompt"] + line[:start],
            line[start:end],
            line[end:] + "\n" + row["suffix"],
        )


def _walk(node):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        yield from _walk(child)


BODY_OWNERS = {
    "python": {
        "function_definition",
        "if_statement",
        "for_statement",
        "while_statement",
        "with_statement",
        "else_clause",
        "try_statement",
    },
    "typescript": {"statement_block"},
    "go": {"block"},
    "rust": {"block"},
}


def block_holes(language: str, path: Path) -> Iterator[Hole]:
    """Bodies of blocks: the cursor at the first statement's indentation."""
    grammar = {"typescript": "typescript"}.get(language, language)
    active = parser(grammar)
    if active is None:
        return
    text = path.read_text(errors="replace")
    if not text.isascii():
        return
    source = text.encode()
    tree = active.parse(source)
    for node in _walk(tree.root_node):
        body = None
        if language == "python" and node.type in BODY_OWNERS["python"]:
            body = node.child_by_field_name("body") or next(
                (child for child in node.children if child.type == "block"), None
            )
            statements = body.named_children if body is not None else []
        elif language != "python" and node.type in BODY_OWNERS[language]:
            body = node
            statements = [child for child in node.named_children if child.type not in {"{", "}"}]
            if len(statements) == 1 and statements[0].type == "statement_list":
                statements = statements[0].named_children
        else:
            continue
        if body is None or not statements:
            continue
        first, last = statements[0], statements[-1]
        lines = last.end_point.row - first.start_point.row + 1
        if lines < 2 or lines > 15 or body.has_error:
            continue
        start, end = first.start_byte, last.end_byte
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip():
            continue  # the body starts on the opener's line
        opener_start = text.rfind("\n", 0, node.start_byte) + 1
        opener_line = text[opener_start : text.find("\n", opener_start)]
        outer = opener_line[: len(opener_line) - len(opener_line.lstrip())]
        yield Hole("multi-line", language, text[:start], text[start:end], text[end:], outer)
        if text[:line_start].rstrip().endswith((":", "{")):
            # The same body with the cursor at the end of its opener line.
            cursor = line_start - 1
            yield Hole("after-opener", language, text[:cursor], text[cursor:end], text[end:], outer)


def multi_line_holes(limit: int, rng: random.Random) -> list[Hole]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    python_files = sorted((ROOT / "completion").glob("*.py")) + sorted(
        (ROOT / "engines").glob("*.py")
    )
    python_files += [
        stdlib / name
        for name in (
            "textwrap.py",
            "difflib.py",
            "json/encoder.py",
            "shlex.py",
            "fractions.py",
            "statistics.py",
        )
    ]
    holes: list[Hole] = []
    python = [
        hole for path in python_files if path.exists() for hole in block_holes("python", path)
    ]
    rng.shuffle(python)
    holes += python[:limit]
    typescript_files = sorted((ROOT / "editors" / "vscode" / "src").glob("*.ts"))
    typescript_files += [ROOT / "bench" / "corpus" / "inventory.ts", SOURCES / "store.ts"]
    for language, files in (
        ("typescript", typescript_files),
        ("go", [SOURCES / "inventory.go", SOURCES / "tokens.go"]),
        ("rust", [SOURCES / "queue.rs", SOURCES / "matrix.rs"]),
    ):
        found = [hole for path in files if path.exists() for hole in block_holes(language, path)]
        rng.shuffle(found)
        holes += found[:limit]
    return holes


# --------------------------------------------------------------- overruns


JUNK_DEFINITION = {
    "python": "def helper(values):\n    return sorted(values)\n",
    "typescript": "function helper(values: number[]): number[] {\n  return values.sort();\n}\n",
    "go": "func helper(values []int) []int {\n\tsort.Ints(values)\n\treturn values\n}\n",
    "rust": "fn helper(values: &mut Vec<i32>) {\n    values.sort();\n}\n",
}


def cut_point(hole: Hole) -> int:
    """Somewhere in the suffix's first two non-blank lines: max_tokens hit mid-line."""
    suffix = hole.suffix
    ends = [i for i, char in enumerate(suffix[:OVERRUN_CHARS]) if char == "\n"]
    content = [
        end
        for end, nxt in zip(ends, [*ends[1:], len(suffix)], strict=False)
        if suffix[end + 1 : nxt].strip()
    ][:2]
    if not content:
        return len(suffix)
    rng = random.Random(len(hole.prefix) * 31 + len(hole.middle))
    start = content[0] + 1
    stop = suffix.find("\n", content[-1] + 1)
    return rng.randint(start + 1, stop if stop != -1 else len(suffix))


def overruns(hole: Hole) -> dict[str, str]:
    """The simulated raw outputs for one hole, by overrun kind."""
    middle = hole.middle
    last_line = middle.rsplit("\n", 1)[-1].strip()
    indent = hole.prefix.rsplit("\n", 1)[-1]
    if hole.kind in ("multi-line", "after-opener"):
        indent = middle.rsplit("\n", 1)[-1]
        indent = indent[: len(indent) - len(indent.lstrip())] if "\n" in middle else indent
    outputs = {
        "none": middle,
        "suffix": middle + hole.suffix[:OVERRUN_CHARS],
        "cut": middle + hole.suffix[: cut_point(hole)],
    }
    if hole.kind == "mid-line":
        closers = hole.suffix.split("\n", 1)[0]
        outputs["repeat"] = middle + (", " + middle.split(",")[-1].strip()) * 6
        outputs["junk"] = middle + closers + closers[:1] + "  # done\n" + indent + "pass\n"
    else:
        outputs["repeat"] = middle + ("\n" + indent + last_line) * 3
        if hole.language == "python":
            junk = (
                "\n\n"
                + hole.outer_indent
                + JUNK_DEFINITION["python"].replace("\n    ", "\n" + hole.outer_indent + "    ")
            )
            if hole.kind == "single-line":
                junk = "\n\n\n" + JUNK_DEFINITION["python"]
            outputs["junk"] = middle + junk
        else:
            outer = hole.outer_indent
            outputs["junk"] = middle + "\n" + outer + "}\n\n" + JUNK_DEFINITION[hole.language]
    return outputs


# ------------------------------------------------------------------- main


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"{statistics.median(ordered):.3f}/{p99:.3f}"


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument(
        "--limit", type=int, default=400, help="most multi-line holes per language"
    )
    options.add_argument("--show", type=int, default=0, help="print this many misses per row")
    options.add_argument(
        "--multiline-mode",
        action="store_true",
        help="also run single-line holes in multi-line mode (an empty line in a body)",
    )
    args = options.parse_args()
    rng = random.Random(0)
    rows = humaneval_rows()
    runs: list[tuple[str, Hole, bool]] = []
    runs += [("single-line", hole, False) for hole in single_line_holes(rows)]
    if args.multiline_mode:
        runs += [("single-line (multi-line mode)", hole, True) for hole in single_line_holes(rows)]
    runs += [("mid-line", hole, False) for hole in mid_line_holes(rows)]
    runs += [
        (
            f"multi-line {hole.language}"
            + (" after opener" if hole.kind == "after-opener" else ""),
            hole,
            True,
        )
        for hole in multi_line_holes(args.limit, rng)
    ]

    hits: dict[tuple[str, str], list[bool]] = defaultdict(list)
    misses: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    timings: dict[str, list[float]] = defaultdict(list)
    for label, hole, multiline in runs:
        context = context_for(hole, multiline)
        for overrun, raw in overruns(hole).items():
            started = time.perf_counter()
            result = postprocess(raw, context, ("<|EOT|>",))
            timings[label].append((time.perf_counter() - started) * 1000)
            ok = result.rstrip() == hole.middle.rstrip()
            hits[(label, overrun)].append(ok)
            if not ok:
                misses[(label, overrun)].append((raw, result))

    order = {"single-line": 0, "single-line (multi-line mode)": 1, "mid-line": 2}
    labels = sorted({label for label, _, _ in runs}, key=lambda name: (order.get(name, 3), name))
    kinds = ["none", "suffix", "cut", "repeat", "junk"]
    header = f"{'hole kind':36} {'holes':>6} " + " ".join(f"{k:>8}" for k in kinds)
    print(header + f" {'all':>8}   ms p50/p99")
    for label in labels:
        count = len(hits[(label, "none")])
        cells = []
        total: list[bool] = []
        for kind in kinds:
            results = hits.get((label, kind), [])
            total += results
            cells.append(f"{100 * sum(results) / len(results):7.1f}%" if results else "       -")
        row = f"{label:36} {count:6d} " + " ".join(cells)
        print(row + f" {100 * sum(total) / len(total):7.1f}%   {_percentiles(timings[label])}")
    for label in ("multi-line",):
        merged = [
            ok for (name, _), results in hits.items() if name.startswith(label) for ok in results
        ]
        if merged:
            share = 100 * sum(merged) / len(merged)
            print(f"{'multi-line, all languages':36} {'':6} {'':35} {share:7.1f}%")
    every = [ms for values in timings.values() for ms in values]
    print(f"\npostprocess per call, all {len(every)} calls: p50/p99 {_percentiles(every)} ms")
    if args.show:
        for key, items in misses.items():
            for raw, result in items[: args.show]:
                print(f"\n--- miss {key}\nRAW: {raw[:300]!r}\nGOT: {result!r}")


if __name__ == "__main__":
    main()
