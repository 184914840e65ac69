"""``dscoder-lsp testbed``: score a model and a config on real code, headlessly.

Subcommands: ``humaneval FILE.jsonl[.gz]``, ``repo PATH`` and ``compare A B``.
The first two start the real server over stdio with the model and engine
flags given here (the same flags the server takes), run every hole through
it, and write a folder with per-hole JSONL, ``summary.json`` and
``report.md``; each run ends by printing the summary table and the report's
path.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lsp.cli import add_common_flags
from testbed import compare, humaneval, report
from testbed.client import ServerSession, server_command
from testbed.holes import ALL_KINDS, CROSS_FILE, KINDS, Hole, cut_holes
from testbed.runner import RepoTester, Scorer, humaneval_scorer, run_holes
from testbed.sandbox import Limits

log = logging.getLogger("dscoder.testbed")

# Server flags passed through: argparse dest, flag, and whether it repeats.
PASS_THROUGH = (
    ("model", "--model"),
    ("engine", "--engine"),
    ("endpoint", "--endpoint"),
    ("model_name", "--model-name"),
    ("template", "--template"),
    ("max_tokens", "--max-tokens"),
    ("threads", "--threads"),
    ("n_ctx", "--n-ctx"),
    ("gpu_layers", "--gpu-layers"),
    ("config", "--config"),
    ("log_file", "--log-file"),
)
READY_TIMEOUT_S = 900.0


class TestbedError(Exception):
    """A problem the user can act on; printed without a traceback."""


def server_flags(args: argparse.Namespace) -> list[str]:
    values = vars(args)
    flags: list[str] = []
    for dest, flag in PASS_THROUGH:
        if values.get(dest) is not None:
            flags += [flag, str(values[dest])]
    for assignment in values.get("set") or []:
        flags += ["--set", assignment]
    flags += ["-v"] * int(values.get("verbose") or 0)
    return flags


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default=None, help="folder for the run's files")
    parser.add_argument(
        "--concurrency",
        metavar="N",
        type=int,
        default=1,
        help="requests in flight (useful with remote engines; default 1)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=10.0,
        help="seconds per test run before it is killed (default 10)",
    )
    parser.add_argument(
        "--request-timeout",
        metavar="S",
        type=float,
        default=300.0,
        help="seconds to wait for one completion (default 300)",
    )
    parser.add_argument("--no-progress", action="store_true", default=False)
    add_common_flags(parser, sub=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dscoder-lsp testbed",
        description="Score a model and a configuration on real code through the real server.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("humaneval", help="HumanEval infilling: exact match and pass@1")
    bench.add_argument("file", type=Path, help="HumanEval infilling .jsonl or .jsonl.gz")
    bench.add_argument("--limit", metavar="N", type=int, default=None, help="first N problems")
    bench.add_argument(
        "--cursor",
        choices=humaneval.CURSORS,
        default="editor",
        help="whole-line holes: on an empty line (editor, default) or at column 0 of "
        "the suffix's first line (raw, the benchmark's own split)",
    )
    add_run_flags(bench)

    repo = commands.add_parser("repo", help="holes cut from a local folder with tree-sitter")
    repo.add_argument("path", type=Path, help="repository or folder")
    repo.add_argument("--holes", metavar="N", type=int, default=100, help="how many (100)")
    repo.add_argument("--seed", metavar="S", type=int, default=0, help="sampling seed (0)")
    repo.add_argument(
        "--include",
        metavar="GLOB",
        action="append",
        default=None,
        help="only files matching (repeatable; '**/*.py')",
    )
    repo.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=None,
        help="skip files matching (repeatable)",
    )
    repo.add_argument(
        "--kinds",
        metavar="K,K",
        default=",".join(KINDS),
        help=f"hole kinds to cut (default {','.join(KINDS)}; also {CROSS_FILE}: Python "
        "lines using a name another workspace file defines)",
    )
    repo.add_argument(
        "--cross-file",
        action="store_true",
        default=False,
        help=f"only {CROSS_FILE} holes (the same as --kinds {CROSS_FILE}); run again with "
        "--set context.crossFile.enabled=false for the figures without cross-file context",
    )
    repo.add_argument(
        "--test-command",
        metavar="CMD",
        default=None,
        help="run after each insertion in a scratch copy; {file} is the changed file",
    )
    add_run_flags(repo)

    versus = commands.add_parser("compare", help="two runs side by side")
    versus.add_argument("a", type=Path, help="run folder or its summary.json")
    versus.add_argument("b", type=Path)
    versus.add_argument("--out", metavar="FILE", type=Path, default=None, help="write Markdown")
    return parser


# ----- helpers ------------------------------------------------------------------


def effective_config(flags: list[str]) -> dict[str, Any] | None:
    """What the server will run with, as ``dscoder-lsp config`` prints it."""
    command = [*server_command(flags)]
    command.remove("--stdio")
    command = [part for part in command if part not in ("-v",)]
    try:
        done = subprocess.run(
            [*command[:3], "config", *command[3:]], capture_output=True, timeout=60, check=False
        )
        config: dict[str, Any] = json.loads(done.stdout)
        return config
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def file_facts(path: str | None) -> dict[str, Any]:
    """Size and SHA-256 of a local model file, to tell quants and builds apart."""
    if not path:
        return {}
    file = Path(path).expanduser()
    if not file.is_file():
        return {"path": path}
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return {"path": str(file.resolve()), "bytes": file.stat().st_size, "sha256": digest.hexdigest()}


def default_out(name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("testbed-results") / f"{name}-{stamp}"


async def wait_ready(session: ServerSession, timeout_s: float) -> dict[str, Any]:
    """Block until the model loaded (or failed), so the first hole's latency is honest."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = await session.stats()
        state = stats.get("modelState")
        if state == "ready":
            return stats
        if state == "failed":
            raise TestbedError(f"the model failed to load: {stats.get('modelMessage')}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TestbedError(f"the model was not ready after {timeout_s:g}s")
        # The server announces each model state change with dscoder/status.
        await session.next_status(min(remaining, 5.0))


async def run_benchmark(
    args: argparse.Namespace,
    benchmark: str,
    holes: list[Hole],
    root: Path,
    scorer: Scorer | None,
    extra_run: dict[str, Any],
) -> int:
    if not holes:
        raise TestbedError("no holes to run")
    out: Path = args.out or default_out(benchmark)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    flags = server_flags(args)
    started_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    started = time.perf_counter()
    config = effective_config(flags)
    bar = report.ProgressBar(len(holes), enabled=not args.no_progress)
    async with ServerSession(flags, root, out / "server.log") as session:
        model = await wait_ready(session, READY_TIMEOUT_S)
        records = await run_holes(
            session, root, holes, scorer, args.concurrency, bar, args.request_timeout
        )
        final_stats = await session.stats()
    model_path = (config or {}).get("model", {}).get("path") or vars(args).get("model")
    results = report.summarize(records)
    summary: dict[str, Any] = {
        "run": {
            "benchmark": benchmark,
            "command": shlex.join(["dscoder-lsp", "testbed", *args.argv]),
            "serverCommand": shlex.join(server_command(flags)),
            "startedAt": started_at,
            "seconds": round(time.perf_counter() - started, 3),
            "concurrency": args.concurrency,
            "testTimeoutS": args.timeout,
            **extra_run,
        },
        "model": {
            key: model.get(key)
            for key in ("model", "engine", "version", "loadSeconds", "modelState")
        }
        | {"file": file_facts(model_path)},
        "config": config,
        "serverStats": final_stats,
        "results": results,
    }
    path = report.write_run(out, summary, records)
    print()  # noqa: T201
    print(report.terminal_summary(results))  # noqa: T201
    print(f"\nreport: {path}")  # noqa: T201
    return 0


# ----- commands -------------------------------------------------------------------


def run_humaneval(args: argparse.Namespace) -> int:
    file: Path = args.file
    if not file.is_file():
        raise TestbedError(f"no such file: {file}")
    holes = humaneval.load(file, args.limit, args.cursor)
    limits = Limits(timeout_s=args.timeout)
    extra = {
        "dataset": str(file.resolve()),
        "limit": args.limit,
        "seed": None,
        "cursor": args.cursor,
    }
    return asyncio.run(
        run_benchmark(args, "humaneval", holes, Path.cwd(), humaneval_scorer(limits), extra)
    )


def run_repo(args: argparse.Namespace) -> int:
    root: Path = args.path
    if not root.is_dir():
        raise TestbedError(f"not a folder: {root}")
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if args.cross_file:
        kinds = [CROSS_FILE]
    unknown = set(kinds) - set(ALL_KINDS)
    if unknown:
        raise TestbedError(f"unknown hole kinds: {', '.join(sorted(unknown))}")
    include, exclude = args.include or [], args.exclude or []
    holes = cut_holes(root, args.holes, args.seed, include, exclude, kinds)
    extra: dict[str, Any] = {
        "path": str(root.resolve()),
        "seed": args.seed,
        "holesRequested": args.holes,
        "include": include,
        "exclude": exclude,
        "kinds": kinds,
        "testCommand": args.test_command,
    }
    tester: RepoTester | None = None
    if args.test_command:
        tester = RepoTester(
            root, args.test_command, Limits(timeout_s=args.timeout, memory_bytes=None)
        )
        tester.prepare()

    async def go() -> int:
        if tester is not None:
            baseline = await tester.baseline()
            extra["testBaseline"] = baseline.status if baseline else None
            if baseline is not None and not baseline.passed:
                log.warning("the test command fails without any insertion (%s)", baseline.status)
        return await run_benchmark(args, "repo", holes, root, tester, extra)

    try:
        return asyncio.run(go())
    finally:
        if tester is not None:
            tester.cleanup()


def run_compare(args: argparse.Namespace) -> int:
    text = compare.compare_runs(args.a, args.b)
    print(text.terminal)  # noqa: T201
    if args.out is not None:
        args.out.write_text(text.markdown, encoding="utf-8")
        print(f"\nreport: {args.out}")  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    verbosity = int(vars(args).get("verbose") or 0)
    logging.basicConfig(
        level=logging.WARNING
        if verbosity == 0
        else logging.INFO
        if verbosity == 1
        else logging.DEBUG,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pygls").setLevel(logging.WARNING)
    try:
        if args.command == "humaneval":
            return run_humaneval(args)
        if args.command == "repo":
            return run_repo(args)
        return run_compare(args)
    except TestbedError as error:
        sys.stderr.write(f"dscoder-lsp testbed: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("dscoder-lsp testbed: interrupted\n")
        return 130
