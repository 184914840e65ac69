"""Cross-file definition recall: does the prompt carry the line that defines the name?

Holes come from real multi-file Python code: this repository (completion/,
engines/, lsp/) and standard-library packages copied into a scratch
workspace (json, email, http, importlib). A hole is a line whose true text
uses a name that another workspace file defines at top level, reached from
this file by ``from m import name`` or ``alias.name`` (found with Python's
own ``ast``, independently of the tree-sitter code under test; a name a
package only re-exports is followed to the file that defines it). The line
is blanked to its indentation and the cursor put there, as at a hole.

For each hole and each source mix (none, openFiles, imports, recent, all)
the pipeline builds the context at the default budget (context.maxTokens
1536, crossFile.share 0.3), in two scenarios:
- open: the defining file is open in the editor, with three other files of
  the workspace (distractors); the ring holds views of two random places in
  the defining file and one in each distractor;
- disk: only the distractors are open (and in the ring); the defining file is
  only on disk.
Recall is the share of holes whose prompt contains the defining line. Also
printed: cross-file tokens per prompt and the time to build the context
(cross-file selection plus the cut) for a fresh selection (a new file,
save or import: the index warm) and for a reused one (a keystroke).

    .venv/bin/python bench/crossfile_recall.py [--holes 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from completion.context import ContextOptions  # noqa: E402
from completion.crossfile.options import CrossFileOptions  # noqa: E402
from completion.crossfile.provider import CrossFileProvider  # noqa: E402
from completion.document import Document  # noqa: E402
from completion.pipeline import CompletionOptions, CompletionPipeline  # noqa: E402
from engines.base import ModelInfo  # noqa: E402

STDLIB = Path(ast.__file__).parent
STDLIB_PACKAGES = ("json", "email", "http", "importlib")
MIXES: dict[str, tuple[str, ...]] = {
    "none": (),
    "openFiles": ("openFiles",),
    "imports": ("imports",),
    "recent": ("recent",),
    "all": ("imports", "openFiles", "recent"),
}


MISSES = "--misses" in sys.argv
REPEATS = 3
"""Each time is the least of this many runs: other work on a shared machine
preempts single runs (load averages of 10+ on 2 cores were seen)."""


class _ContextOnly:
    """The pipeline's engine slot for a run that only builds contexts (no model)."""

    name = "none"
    info: ModelInfo | None = None


@dataclass(frozen=True)
class Hole:
    workspace: str
    path: Path
    line: int
    """0-based line of the hole in ``path``."""
    name: str
    defining_path: Path
    defining_line: str
    """The defining line's text, stripped."""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def scan(root: Path, files: list[Path]) -> tuple[dict[str, Path], dict[Path, ast.Module]]:
    modules = {module_name(path, root): path for path in files}
    trees = {}
    for path in files:
        try:
            trees[path] = ast.parse(path.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
    return modules, trees


def top_level(tree: ast.Module) -> dict[str, int]:
    """Names a module defines at top level, and their 1-based lines."""
    names: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.setdefault(node.name, node.lineno)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.setdefault(target.id, node.lineno)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.setdefault(node.target.id, node.lineno)
    return names


def find_holes(label: str, root: Path, files: list[Path]) -> list[Hole]:
    modules, trees = scan(root, files)
    defined = {path: top_level(tree) for path, tree in trees.items()}

    def absolute(path: Path, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        package = module_name(path, root).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        base = package[: len(package) - (level - 1)] if level > 1 else package
        return ".".join([*base, module] if module else base)

    def definer(module: str, name: str, depth: int = 0) -> tuple[Path, int] | None:
        path = modules.get(module)
        if path is None or path not in trees:
            return None
        if name in defined[path]:
            return path, defined[path][name]
        if depth:
            return None
        for node in trees[path].body:  # a re-export: follow it one step
            if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names):
                target = absolute(path, node.module, node.level)
                return definer(target, name, 1)
        return None

    holes = []
    for path, tree in trees.items():
        lines = path.read_text("utf-8").split("\n")
        bindings: dict[str, tuple[str, str | None]] = {}
        """local name -> (module, imported name or None for a module alias)"""
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = absolute(path, node.module, node.level)
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        bindings[alias.asname or alias.name] = (f"{base}.{alias.name}", None)
                    else:
                        bindings[alias.asname or alias.name] = (base, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.asname:
                        bindings[alias.asname] = (alias.name, None)
                    elif alias.name in modules and "." not in alias.name:
                        bindings[alias.name] = (alias.name, None)
        own = defined.get(path, {})
        import_lines = {
            n
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for n in range(node.lineno - 1, (node.end_lineno or node.lineno))
        }
        for node in ast.walk(tree):
            used: tuple[str, str] | None = None
            if isinstance(node, ast.Name) and node.id in bindings and bindings[node.id][1]:
                module, name = bindings[node.id]
                used = (module, name or "")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bindings
                and bindings[node.value.id][1] is None
            ):
                used = (bindings[node.value.id][0], node.attr)
            if used is None or used[1] in own:
                continue
            assert isinstance(node, ast.expr)  # a Name or an Attribute
            row = node.lineno - 1
            if row in import_lines or not lines[row].strip():
                continue
            found = definer(*used)
            if found is None or found[0] == path:
                continue
            defining = lines_of(found[0])[found[1] - 1].strip()
            holes.append(Hole(label, path, row, used[1], found[0], defining))
    unique = {(h.path, h.line): h for h in holes}
    return sorted(unique.values(), key=lambda h: (str(h.path), h.line))


_LINES: dict[Path, list[str]] = {}


def lines_of(path: Path) -> list[str]:
    if path not in _LINES:
        _LINES[path] = path.read_text("utf-8").split("\n")
    return _LINES[path]


def workspaces(scratch: Path) -> list[tuple[str, Path, list[Path]]]:
    found = []
    for package in STDLIB_PACKAGES:
        target = scratch / package
        shutil.copytree(STDLIB / package, target, ignore=shutil.ignore_patterns("__pycache__"))
    stdlib_files = sorted(scratch.rglob("*.py"))
    for package in STDLIB_PACKAGES:
        found.append(
            (package, scratch, [p for p in stdlib_files if p.is_relative_to(scratch / package)])
        )
    repo_files = sorted(
        p for folder in ("completion", "engines", "lsp") for p in (ROOT / folder).rglob("*.py")
    )
    found.append(("dscoder-lsp", ROOT, repo_files))
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def document_for(path: Path, text: str | None = None, version: int = 1) -> Document:
    return Document(
        path.as_uri(), text if text is not None else path.read_text("utf-8"), "python", version
    )


@dataclass
class Tally:
    hits: int = 0
    total: int = 0
    tokens: list[int] = dataclasses.field(default_factory=list)
    fresh_ms: list[float] = dataclasses.field(default_factory=list)
    reused_ms: list[float] = dataclasses.field(default_factory=list)
    select_ms: list[float] = dataclasses.field(default_factory=list)
    """The cross-file selection alone, fresh (index warm)."""


def run_hole(
    hole: Hole,
    root: Path,
    files: list[Path],
    scenario: str,
    mix: tuple[str, ...],
    rng: random.Random,
    provider: CrossFileProvider,
    tally: Tally,
) -> None:
    lines = lines_of(hole.path)
    indent = lines[hole.line][: len(lines[hole.line]) - len(lines[hole.line].lstrip())]
    text = "\n".join([*lines[: hole.line], indent, *lines[hole.line + 1 :]])
    offset = sum(len(line) + 1 for line in lines[: hole.line]) + len(indent)
    current = document_for(hole.path, text)
    current.syntax_tree()  # parsed once when opened, as in the editor; then kept incrementally
    others = [p for p in files if p not in (hole.path, hole.defining_path)]
    distractors = rng.sample(others, min(3, len(others)))
    opened = list(distractors) + ([hole.defining_path] if scenario == "open" else [])
    documents = {current.uri: current}
    for path in opened:
        document = document_for(path)
        documents[document.uri] = document
    provider.documents = documents
    provider.recent = type(provider.recent)()
    provider._selections.clear()
    for path in opened:
        document = documents[path.as_uri()]
        views = 2 if path == hole.defining_path else 1
        for _ in range(views):
            provider.viewed(document, document.line_start(rng.randrange(document.line_count)))
    options = ContextOptions(
        cross_file=CrossFileOptions(enabled=bool(mix), sources=mix or ("imports",))
    )
    pipeline = CompletionPipeline(_ContextOnly(), CompletionOptions(context=options))  # type: ignore[arg-type]
    pipeline.cross_file = provider
    pipeline.make_context(current, offset)  # warms the index for these files (parsed once)
    fresh, reused, select = [], [], []
    cross = options.cross_file
    for _ in range(REPEATS):  # the least of a few: the machine is shared
        provider._selections.clear()
        started = time.perf_counter()
        context = pipeline.make_context(current, offset)
        fresh.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        pipeline.make_context(current, offset)
        reused.append((time.perf_counter() - started) * 1000)
        if mix:
            provider._selections.clear()
            started = time.perf_counter()
            provider.select(current, offset, cross, int(1536 * cross.share), pipeline.counter)
            select.append((time.perf_counter() - started) * 1000)
    tally.fresh_ms.append(min(fresh))
    tally.reused_ms.append(min(reused))
    if select:
        tally.select_ms.append(min(select))
    prompt = pipeline.make_prompt(context)
    tally.total += 1
    tally.tokens.append(sum(s.tokens for s in context.snippets))
    if hole.defining_line and hole.defining_line in prompt.text:
        tally.hits += 1
    elif MISSES and mix == ("imports",) and scenario == "disk":
        print(
            f"miss: {hole.path}:{hole.line + 1} {hole.name} <- {hole.defining_path.name}: "
            f"{hole.defining_line[:60]!r}; {len(context.snippets)} snippets, "
            f"{sum(s.tokens for s in context.snippets)} tokens"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holes", type=int, default=60, help="holes per workspace (sampled)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--misses", action="store_true", help="print the holes imports miss")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="crossfile-recall-"))
    try:
        chosen: list[tuple[Hole, Path, list[Path]]] = []
        for label, root, files in workspaces(scratch):
            holes = find_holes(label, root, files)
            rng = random.Random(args.seed)
            sample = rng.sample(holes, min(args.holes, len(holes)))
            print(f"{label}: {len(files)} files, {len(holes)} holes, {len(sample)} sampled")
            chosen += [(hole, root, files) for hole in sample]
        print()
        results: dict[tuple[str, str], Tally] = {}
        cold: list[float] = []
        for scenario in ("open", "disk"):
            for mix_name, mix in MIXES.items():
                tally = results.setdefault((scenario, mix_name), Tally())
                providers: dict[Path, CrossFileProvider] = {}
                for n, (hole, root, files) in enumerate(chosen):
                    if root not in providers:
                        providers[root] = CrossFileProvider(str(root))
                    rng = random.Random(args.seed * 1000 + n)
                    gc.disable()
                    run_hole(hole, root, files, scenario, mix, rng, providers[root], tally)
                    gc.enable()
                if mix_name == "all" and scenario == "disk":
                    cold += [p.index.parses for p in providers.values()]
        print(f"{len(chosen)} holes; budget: context.maxTokens 1536, crossFile.share 0.3")
        print()
        print(
            "| sources | recall, file open | recall, on disk "
            "| cross-file tokens (mean, open / disk) | cross-file selection p50 / p99 ms "
            "| whole context, fresh p50 / p99 ms "
            "| whole context, keystroke p50 / p99 ms |"
        )
        print("|---|---|---|---|---|---|---|")
        for mix_name in MIXES:
            opened, disk = results[("open", mix_name)], results[("disk", mix_name)]
            fresh = opened.fresh_ms + disk.fresh_ms
            reused = opened.reused_ms + disk.reused_ms
            select = opened.select_ms + disk.select_ms
            print(
                f"| {mix_name} | {100 * opened.hits / max(1, opened.total):.0f}% "
                f"| {100 * disk.hits / max(1, disk.total):.0f}% "
                f"| {statistics.mean(opened.tokens):.0f} / {statistics.mean(disk.tokens):.0f} "
                f"| {percentile(select, 0.5):.2f} / {percentile(select, 0.99):.2f} "
                f"| {percentile(fresh, 0.5):.2f} / {percentile(fresh, 0.99):.2f} "
                f"| {percentile(reused, 0.5):.2f} / {percentile(reused, 0.99):.2f} |"
            )
        print()
        print(f"files parsed by the index (all, disk): {sum(cold)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
