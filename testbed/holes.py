"""Holes: the unit of work of a testbed run, and the tree-sitter hole cutter.

A ``Hole`` is a document split at the cursor (``prefix`` + ``suffix``) and
the text that was there (``expected``). HumanEval problems become holes in
``testbed.humaneval``; here holes are cut from a local repository, with the
grammars of ``completion.languages``, in four kinds:

- ``line``: a whole statement line; the cursor sits after its indentation.
- ``rest-of-line``: the cursor sits inside a statement line, at the start of
  one of its syntax nodes; the hole runs to the end of the line.
- ``block``: the body of a block spanning 2 to ``MAX_BLOCK_LINES`` lines.
- ``arguments``: everything between the parentheses of a one-line call.
- ``cross-file`` (asked for by name, not in the default mix): a ``line``
  hole in a Python file whose true text uses a name another workspace file
  defines (``testbed.crossfile``).

Cutting is deterministic: files are sorted, candidates are enumerated in
tree order, and a ``random.Random(seed)`` picks among them, taking the kinds
in turn so that each is represented.
"""

from __future__ import annotations

import bisect
import logging
import os
import random
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from completion.languages import NON_CODE_GRAMMARS, grammar_for, parser
from testbed.crossfile import CrossFileUse, Workspace

if TYPE_CHECKING:
    from tree_sitter import Node

log = logging.getLogger(__name__)

KINDS = ("line", "rest-of-line", "block", "arguments")
CROSS_FILE = "cross-file"
ALL_KINDS = (*KINDS, CROSS_FILE)
MAX_BLOCK_LINES = 12
MIN_LINE_CHARS = 4
MAX_FILE_BYTES = 200_000

BLOCK_TYPES = frozenset({"block", "statement_block", "compound_statement", "body_statement"})
ARGUMENT_TYPES = frozenset({"argument_list", "arguments"})
COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment", "doc_comment"})
STRING_TYPES = frozenset({"string", "string_literal", "template_string", "raw_string_literal"})
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}
)

# The grammar name to the languageId an editor would send for it.
LANGUAGE_IDS = {"bash": "shellscript", "tsx": "typescriptreact"}


@dataclass
class Hole:
    """A document with a gap at the cursor, and what belongs in the gap."""

    id: str
    source: str
    """The file (relative to the scanned folder) or the benchmark task."""
    language_id: str
    kind: str
    prefix: str
    suffix: str
    expected: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.prefix + self.suffix

    @property
    def position(self) -> tuple[int, int]:
        """The cursor as a 0-based line and a UTF-32 (code point) column."""
        line = self.prefix.count("\n")
        return line, len(self.prefix) - (self.prefix.rfind("\n") + 1)

    def filled(self, completion: str) -> str:
        """The document with ``completion`` typed at the cursor."""
        return self.prefix + completion + self.suffix

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# ----- globs and file listing -------------------------------------------------


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` spans folders, ``*`` and ``?`` stay inside one; ``**/`` may match nothing."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(path: str, pattern: str) -> bool:
    """Whether a relative POSIX path matches; a pattern without ``/`` matches any base name."""
    if "/" not in pattern and _glob_regex(pattern).match(path.rsplit("/", 1)[-1]):
        return True
    return _glob_regex(pattern).match(path) is not None


def selected(path: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    if include and not any(glob_match(path, pattern) for pattern in include):
        return False
    return not any(glob_match(path, pattern) for pattern in exclude)


def list_files(root: Path) -> list[str]:
    """Relative POSIX paths under ``root``, sorted: git's tracked files in a work tree."""
    if (root / ".git").exists():
        try:
            listing = subprocess.run(
                [
                    "git",
                    "-C",
                    str(root),
                    "ls-files",
                    "-z",
                    "--cached",
                    "--others",
                    "--exclude-standard",
                ],
                capture_output=True,
                check=True,
                timeout=60,
            ).stdout.decode("utf-8", "replace")
            return sorted({name for name in listing.split("\0") if name})
        except (OSError, subprocess.SubprocessError) as error:
            log.warning("git ls-files failed (%s); walking the folder", error)
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in files:
            found.append(Path(folder, name).relative_to(root).as_posix())
    return sorted(found)


# ----- candidates ------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    """Byte offsets into the UTF-8 source."""
    end: int


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _is_text(node: Node) -> bool:
    """Comments and lone strings (docstrings) are prose, not code to complete."""
    if node.type in COMMENT_TYPES or node.type in STRING_TYPES:
        return True
    named = node.named_children
    return (
        node.type == "expression_statement"
        and len(named) == 1
        and (named[0].type in STRING_TYPES or named[0].type in COMMENT_TYPES)
    )


def candidate_spans(source: bytes, grammar: str) -> list[Span]:
    """Every hole the file offers, in tree order; empty when it does not parse cleanly."""
    ts_parser = parser(grammar)
    if ts_parser is None:
        return []
    tree = ts_parser.parse(source)
    if tree.root_node.has_error:
        return []
    lines = source.split(b"\n")
    line_starts = [0]
    for line in lines[:-1]:
        line_starts.append(line_starts[-1] + len(line) + 1)

    def indent_of(row: int) -> int:
        line = lines[row]
        return len(line) - len(line.lstrip())

    def content_end(row: int) -> int:
        return len(lines[row].rstrip())

    spans: list[Span] = []
    line_rows: set[int] = set()
    for node in _walk(tree.root_node):
        if not node.is_named or node.type == "ERROR":
            continue
        start, end = node.start_point, node.end_point
        if (
            start.row == end.row
            and start.row not in line_rows
            and start.column == indent_of(start.row)
            and end.column == content_end(start.row)
            and end.column - start.column >= MIN_LINE_CHARS
            and not _is_text(node)
        ):
            # Outermost first (pre-order), so one candidate per line.
            line_rows.add(start.row)
            spans.append(Span("line", node.start_byte, node.end_byte))
            line_end = node.end_byte
            seen: set[int] = set()
            for inner in _walk(node):
                if (
                    inner.is_named
                    and inner.start_byte > node.start_byte
                    and inner.start_byte not in seen
                    and line_end - inner.start_byte >= 1
                    and not _is_text(inner)
                ):
                    seen.add(inner.start_byte)
                    spans.append(Span("rest-of-line", inner.start_byte, line_end))
        if node.type in BLOCK_TYPES:
            named = [child for child in node.named_children if child.type not in COMMENT_TYPES]
            if named:
                first, last = named[0], named[-1]
                rows = last.end_point.row - first.start_point.row + 1
                if 2 <= rows <= MAX_BLOCK_LINES and first.start_point.column == indent_of(
                    first.start_point.row
                ):
                    spans.append(Span("block", first.start_byte, last.end_byte))
        if node.type in ARGUMENT_TYPES and start.row == end.row and node.named_child_count:
            children = node.children
            if len(children) >= 3 and children[0].type == "(" and children[-1].type == ")":
                spans.append(Span("arguments", children[0].end_byte, children[-1].start_byte))
    return spans


def hole_from_span(source: bytes, span: Span, hole_id: str, file: str, language_id: str) -> Hole:
    return Hole(
        id=hole_id,
        source=file,
        language_id=language_id,
        kind=span.kind,
        prefix=source[: span.start].decode("utf-8"),
        suffix=source[span.end :].decode("utf-8"),
        expected=source[span.start : span.end].decode("utf-8"),
        extra={"startByte": span.start, "endByte": span.end},
    )


# ----- sampling ----------------------------------------------------------------


@dataclass
class SourceFile:
    path: str
    grammar: str
    language_id: str
    data: bytes


def code_files(
    root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[SourceFile]:
    """Selected files with a code grammar, UTF-8 and under ``MAX_FILE_BYTES``."""
    for relative in list_files(root):
        if not selected(relative, include, exclude):
            continue
        grammar = grammar_for(None, relative)
        if grammar is None or grammar in NON_CODE_GRAMMARS:
            continue
        path = root / relative
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
            data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if b"\0" in data:
            continue
        yield SourceFile(relative, grammar, LANGUAGE_IDS.get(grammar, grammar), data)


def cut_holes(
    root: Path,
    count: int,
    seed: int,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    kinds: Iterable[str] = KINDS,
) -> list[Hole]:
    """``count`` holes from the files under ``root``, the same ones for the same seed."""
    files = list(code_files(root, include, exclude))
    pools: dict[str, list[tuple[int, Span]]] = {kind: [] for kind in kinds}
    cross_uses = _cross_file_uses(root, files) if CROSS_FILE in pools else {}
    for index, source in enumerate(files):
        uses = cross_uses.get(source.path, {})
        line_rows = _row_finder(source.data) if uses else None
        for span in candidate_spans(source.data, source.grammar):
            if span.kind in pools:
                pools[span.kind].append((index, span))
            if span.kind == "line" and line_rows is not None and line_rows(span.start) in uses:
                pools[CROSS_FILE].append((index, Span(CROSS_FILE, span.start, span.end)))
    rng = random.Random(seed)
    for pool in pools.values():
        rng.shuffle(pool)
    order = [kind for kind in pools if pools[kind]]
    holes: list[Hole] = []
    turn = 0
    while len(holes) < count and order:
        kind = order[turn % len(order)]
        pool = pools[kind]
        if not pool:
            order.remove(kind)
            continue
        index, span = pool.pop()
        source = files[index]
        hole = hole_from_span(
            source.data, span, f"{len(holes):04d}", source.path, source.language_id
        )
        if span.kind == CROSS_FILE:
            use = cross_uses[source.path][hole.prefix.count("\n")]
            hole.extra["crossFile"] = {
                "name": use.name,
                "definedIn": use.defined_in,
                "definedLine": use.defined_line,
            }
        holes.append(hole)
        turn += 1
    return holes


def _row_finder(data: bytes) -> Callable[[int], int]:
    """Byte offset to 0-based row."""
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    return lambda offset: bisect.bisect_right(starts, offset) - 1


def _cross_file_uses(root: Path, files: list[SourceFile]) -> dict[str, dict[int, CrossFileUse]]:
    """Per Python file, the rows that use a name defined in another file of the workspace.

    Definitions are looked up in every Python file under ``root``, not only the
    selected ones: ``--include`` narrows where holes are cut, not the workspace.
    """
    python = {
        source.path: source.data.decode("utf-8")
        for source in code_files(root)
        if source.grammar == "python"
    }
    package = root.resolve().name if (root / "__init__.py").is_file() else None
    workspace = Workspace(python, package)
    selected_python = [source.path for source in files if source.grammar == "python"]
    return {
        path: {use.row: use for use in workspace.uses(path)}
        for path in selected_python
        if path in workspace.trees
    }
