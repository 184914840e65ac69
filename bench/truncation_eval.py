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
A hole counts when the document after the insert (the item's range replacing
what it covers) equals the true document, trailing blanks on each line aside.

Views:
- editor: whole-line holes with the cursor on an empty line between prefix and
  suffix, after the indentation (as an editor leaves it after Enter);
- raw: the benchmark's own split, the cursor at column 0 of the suffix's first
  line and the middle ending with its newline (Neovim 0.12 requests there on
  InsertEnter);
- mid-line (call arguments), closers (the rest of the line is only closing
  brackets and separators) and end-of-line (the line cut at a token, the rest
  of the line empty).

Single- or multi-line is decided per hole by the server's own rules
(``completion.decisions``), as a request through the server would be;
``--fixed-mode`` uses the old fixed modes (single-line holes single-line).
Harm: the share of answers after which a document that parsed stops parsing,
or, when it did not parse, has more syntax errors than before.

    .venv/bin/python bench/truncation_eval.py [--limit 400] [--fixed-mode] [--show N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
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

from tree_sitter import Node  # noqa: E402

from completion import postprocess as post  # noqa: E402
from completion.context import Context  # noqa: E402
from completion.decisions import decide  # noqa: E402
from completion.document import Document  # noqa: E402
from completion.languages import parser  # noqa: E402

# ../shared beside the clone (a worktree may sit one folder deeper).
HUMANEVAL = next(
    (
        folder
        for folder in (
            ROOT.parent / "shared" / "data" / "humaneval-infilling",
            ROOT.parent.parent / "shared" / "data" / "humaneval-infilling",
        )
        if folder.is_dir()
    ),
    ROOT.parent / "shared" / "data" / "humaneval-infilling",
)
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
    view: str = "editor"


EXTENSION = {"python": "py", "typescript": "ts", "go": "go", "rust": "rs"}


def decided_multiline(hole: Hole) -> bool:
    """Single- or multi-line as the server decides it for this cursor."""
    uri = f"file:///hole.{EXTENSION[hole.language]}"
    document = Document(uri, hole.prefix + hole.suffix, hole.language)
    return decide(document, len(hole.prefix), document.syntax_tree()).multiline


def insert(raw: str, context: Context) -> tuple[str, int]:
    """The insert text and how many characters after the cursor it replaces."""
    whole = getattr(post, "postprocess_insertion", None)
    if whole is None:  # before the item carried a range
        return post.postprocess(raw, context, ("<|EOT|>",)), 0
    insertion = whole(raw, context, ("<|EOT|>",))
    return insertion.text, insertion.replaces


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def correct(hole: Hole, text: str, replaces: int) -> bool:
    """The document after the insert equals the true one (trailing blanks aside)."""
    reach = len(hole.middle) + 400
    after = text + hole.suffix[replaces:reach]
    return _normal(after) == _normal(hole.middle + hole.suffix[:reach])


def error_count(node) -> int:  # type: ignore[no-untyped-def]
    if not node.has_error and not node.is_missing:
        return 0
    own = 1 if node.is_error or node.is_missing else 0
    return own + sum(error_count(child) for child in node.children)


_BEFORE_ERRORS: dict[int, int] = {}


def harms(hole: Hole, text: str, replaces: int) -> bool:
    """A parsing document stops parsing, or a broken one gets more errors."""
    if not text:
        return False
    active = parser(hole.language)
    if active is None:
        return False
    key = id(hole)
    if key not in _BEFORE_ERRORS:
        before = active.parse((hole.prefix + hole.suffix).encode()).root_node
        _BEFORE_ERRORS[key] = error_count(before)
    after = active.parse((hole.prefix + text + hole.suffix[replaces:]).encode()).root_node
    return error_count(after) > _BEFORE_ERRORS[key]


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


def raw_single_line_holes(rows: list[dict[str, str]]) -> Iterator[Hole]:
    """The benchmark's own split: the cursor at column 0 of the suffix's first line."""
    for row in rows:
        line = row["canonical_solution"]
        if "\n" in line.rstrip("\n") or not line.strip() or not row["prompt"].endswith("\n"):
            continue
        yield Hole("single-line", "python", row["prompt"], line, row["suffix"], view="raw")


_CLOSERS_REST = re.compile(r"[)\]}]+[)\]};,]*")


def closer_holes(rows: list[dict[str, str]]) -> Iterator[Hole]:
    """Arguments of a call whose closing bracket is followed only by closers."""
    python = parser("python")
    assert python is not None
    for row in rows:
        line = row["canonical_solution"].rstrip("\n")
        if "\n" in line or not line.isascii():
            continue
        offset = len(line) - len(line.lstrip())
        tree = python.parse(line.strip().encode())
        for node in _walk(tree.root_node):
            if node.type != "argument_list" or not node.named_child_count or node.has_error:
                continue
            start = offset + node.start_byte + 1
            end = offset + node.end_byte - 1
            if end > start and _CLOSERS_REST.fullmatch(line[end:]):
                yield Hole(
                    "closers",
                    "python",
                    row["prompt"] + line[:start],
                    line[start:end],
                    line[end:] + "\n" + row["suffix"],
                )
                break


def end_of_line_holes(rows: list[dict[str, str]]) -> Iterator[Hole]:
    """A line cut after one of its tokens: the rest of the line is the middle."""
    python = parser("python")
    assert python is not None
    for number, row in enumerate(rows):
        line = row["canonical_solution"].rstrip("\n")
        if "\n" in line or not line.isascii() or not line.strip():
            continue
        offset = len(line) - len(line.lstrip())
        tree = python.parse(line.strip().encode())
        ends = sorted(
            {offset + node.end_byte for node in _walk(tree.root_node) if not node.children}
        )
        ends = [end for end in ends if offset < end < len(line) and line[end:].strip()]
        if not ends:
            continue
        cut = random.Random(number).choice(ends)
        yield Hole(
            "end-of-line", "python", row["prompt"] + line[:cut], line[cut:], "\n" + row["suffix"]
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


def _walk(node: Node) -> Iterator[Node]:
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
        line_end = text.find("\n", end)
        if line_end != -1 and not text[end:line_end].strip():
            # The raw view: whole lines, the cursor at column 0 of the suffix's first line.
            yield Hole(
                "multi-line",
                language,
                text[:line_start],
                text[line_start : line_end + 1],
                text[line_end + 1 :],
                outer,
                view="raw",
            )
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
    if hole.view == "raw":
        return raw_overruns(hole)
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
    if hole.kind == "end-of-line":
        line = hole.prefix.rsplit("\n", 1)[-1] + middle
        indent = line[: len(line) - len(line.lstrip())]
        outputs["repeat"] = middle + ("\n" + line) * 3
        outputs["junk"] = middle + "\n\n\n" + JUNK_DEFINITION["python"]
    elif hole.kind in ("mid-line", "closers"):
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


def raw_overruns(hole: Hole) -> dict[str, str]:
    """Overruns for the raw view: the middle ends with its newline."""
    middle = hole.middle
    last_line = middle.rstrip("\n").rsplit("\n", 1)[-1]
    outer = hole.outer_indent
    if hole.language == "python":
        junk = "\n" + outer + JUNK_DEFINITION["python"].replace("\n    ", "\n" + outer + "    ")
        if hole.kind == "single-line":
            junk = "\n\n" + JUNK_DEFINITION["python"]
    else:
        junk = outer + "}\n\n" + JUNK_DEFINITION[hole.language]
    return {
        "none": middle,
        "suffix": middle + hole.suffix[:OVERRUN_CHARS],
        "cut": middle + hole.suffix[: cut_point(hole)],
        "repeat": middle + (last_line + "\n") * 3,
        "junk": middle + junk,
    }


# ------------------------------------------------------------------- main


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"{statistics.median(ordered):.3f}/{p99:.3f}"


VIEW_ORDER = [
    "single-line editor",
    "single-line raw",
    "mid-line",
    "closers",
    "end-of-line",
]
KINDS = ["none", "suffix", "cut", "repeat", "junk"]


def label_of(hole: Hole) -> str:
    if hole.kind in ("multi-line", "after-opener"):
        view = "after opener" if hole.kind == "after-opener" else hole.view
        return f"multi-line {hole.language} {view}"
    if hole.kind == "single-line":
        return f"single-line {hole.view}"
    return hole.kind


def collect(args: argparse.Namespace) -> list[tuple[str, Hole, bool]]:
    rng = random.Random(0)
    rows = humaneval_rows()
    holes: list[Hole] = [*single_line_holes(rows), *raw_single_line_holes(rows)]
    holes += [*mid_line_holes(rows), *closer_holes(rows), *end_of_line_holes(rows)]
    holes += multi_line_holes(args.limit, rng)
    runs: list[tuple[str, Hole, bool]] = []
    for hole in holes:
        if args.fixed_mode:
            multiline = hole.kind in ("multi-line", "after-opener")
        else:
            multiline = decided_multiline(hole)
        runs.append((label_of(hole), hole, multiline))
    return runs


def share(values: list[bool]) -> str:
    return f"{100 * sum(values) / len(values):7.1f}%" if values else "       -"


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument(
        "--limit", type=int, default=400, help="most multi-line holes per language"
    )
    options.add_argument("--show", type=int, default=0, help="print this many misses per row")
    options.add_argument(
        "--fixed-mode",
        action="store_true",
        help="single-line holes in single-line mode, blocks in multi-line (no decisions)",
    )
    args = options.parse_args()
    runs = collect(args)

    hits: dict[tuple[str, str], list[bool]] = defaultdict(list)
    harm: dict[tuple[str, str], list[bool]] = defaultdict(list)
    misses: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
    timings: dict[str, list[float]] = defaultdict(list)
    walls: list[float] = []
    for label, hole, multiline in runs:
        context = context_for(hole, multiline)
        for overrun, raw in overruns(hole).items():
            started, cpu_started = time.perf_counter(), time.thread_time()
            text, replaces = insert(raw, context)
            walls.append((time.perf_counter() - started) * 1000)
            timings[label].append((time.thread_time() - cpu_started) * 1000)
            ok = correct(hole, text, replaces)
            hits[(label, overrun)].append(ok)
            harm[(label, overrun)].append(harms(hole, text, replaces))
            if not ok:
                misses[(label, overrun)].append((raw, text, replaces))

    labels = sorted(
        {label for label, _, _ in runs},
        key=lambda name: (VIEW_ORDER.index(name) if name in VIEW_ORDER else 9, name),
    )
    header = f"{'hole kind':34} {'holes':>6} " + " ".join(f"{k:>8}" for k in KINDS)
    print(header + f" {'all':>8} {'harm':>7}   CPU ms p50/p99")
    for label in labels:
        count = len(hits[(label, "none")])
        total = [ok for kind in KINDS for ok in hits.get((label, kind), [])]
        harmed = [bad for kind in KINDS for bad in harm.get((label, kind), [])]
        cells = " ".join(share(hits.get((label, kind), [])) for kind in KINDS)
        row = f"{label:34} {count:6d} {cells} {share(total)} {share(harmed)}"
        print(row + f"   {_percentiles(timings[label])}")

    def pooled(
        table: dict[tuple[str, str], list[bool]], prefix: str, kinds: list[str]
    ) -> list[bool]:
        return [
            value
            for (name, kind), values in table.items()
            if name.startswith(prefix) and kind in kinds
            for value in values
        ]

    print("\nFigures to reach (clean = none, overrun = suffix; harm over all five plays)")
    print(f"{'figure':34} {'clean':>8} {'overrun':>8} {'harm':>8}")
    views = [
        ("editor view, single-line", "single-line editor"),
        ("raw view, single-line", "single-line raw"),
        ("mid-line random spans", "mid-line"),
        ("rest of line is closers", "closers"),
        ("end of a non-empty line", "end-of-line"),
    ]
    for name, prefix in views:
        clean, over = pooled(hits, prefix, ["none"]), pooled(hits, prefix, ["suffix"])
        bad = pooled(harm, prefix, KINDS)
        print(f"{name:34} {share(clean)} {share(over)} {share(bad)}")
    for view in ("editor", "raw", "after opener"):
        clean = [
            ok
            for (name, kind), values in hits.items()
            if name.startswith("multi-line") and name.endswith(view) and kind == "none"
            for ok in values
        ]
        over = [
            ok
            for (name, kind), values in hits.items()
            if name.startswith("multi-line") and name.endswith(view) and kind == "suffix"
            for ok in values
        ]
        bad = [
            value
            for (name, _), values in harm.items()
            if name.startswith("multi-line") and name.endswith(view)
            for value in values
        ]
        print(f"{'multi-line (4 languages), ' + view:34} {share(clean)} {share(over)} {share(bad)}")
    print("\nharm by overrun kind, all views:")
    print("  " + "  ".join(f"{kind} {share(pooled(harm, '', [kind])).strip()}" for kind in KINDS))
    every = [ms for values in timings.values() for ms in values]
    print(f"\npostprocess per hole, all {len(every)} calls: p50/p99 {_percentiles(every)} ms CPU")
    print(f"(wall clock p50/p99 {_percentiles(walls)} ms, which includes other processes' load)")
    if args.show:
        for key, items in misses.items():
            for raw, result, replaces in items[: args.show]:
                print(f"\n--- miss {key}\nRAW: {raw[:300]!r}\nGOT: {result!r} (+{replaces})")


if __name__ == "__main__":
    main()
