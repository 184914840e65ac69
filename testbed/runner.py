"""Send every hole to the server, score the answer, and collect one record per hole.

Sits between the hole sources (``testbed.holes``, ``testbed.humaneval``) and
the report. A ``Scorer`` adds what depends on the benchmark (pass@1 for
HumanEval, a user's test command for a repository) to the common scores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shlex
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from testbed import humaneval, scoring
from testbed.client import ServerSession
from testbed.holes import SKIPPED_DIRS, Hole, list_files
from testbed.sandbox import Limits, Outcome, run_shell

log = logging.getLogger(__name__)

Scorer = Callable[[Hole, str], Awaitable[dict[str, Any]]]
Progress = Callable[[dict[str, Any]], None]

REQUEST_TIMEOUT_S = 300.0


def hole_uri(root: Path, hole: Hole) -> str:
    """A file URI per hole: the real path (for the prompt's file header) plus a fragment
    that keeps holes in one file from superseding each other on the server."""
    path = root.resolve() / hole.source
    if hole.extra.get("entryPoint") is not None:
        path = root.resolve() / "humaneval" / (hole.id.replace("/", "_") + ".py")
    return path.as_uri() + "#hole-" + quote(hole.id, safe="")


def base_record(hole: Hole) -> dict[str, Any]:
    line, character = hole.position
    return {
        "id": hole.id,
        "source": hole.source,
        "language": hole.language_id,
        "kind": hole.kind,
        "line": line + 1,
        "column": character + 1,
        "expected": hole.expected,
    } | ({"crossFile": hole.extra["crossFile"]} if "crossFile" in hole.extra else {})


async def complete_hole(
    session: ServerSession, root: Path, hole: Hole, timeout_s: float = REQUEST_TIMEOUT_S
) -> dict[str, Any]:
    """The server's answer for one hole, with client-side wall time; errors recorded."""
    record = base_record(hole)
    line, character = hole.position
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(
            session.complete(hole_uri(root, hole), hole.text, hole.language_id, line, character),
            timeout_s,
        )
    except TimeoutError:
        result = {"text": "", "error": f"no answer in {timeout_s:g}s"}
    except Exception as error:  # a JSON-RPC error from the server
        result = {"text": "", "error": f"{type(error).__name__}: {error}"}
    wall_ms = (time.perf_counter() - started) * 1000
    timing = result.get("timing") or {}
    usage = result.get("usage") or {}
    record.update(
        {
            "completion": result.get("text") or "",
            "replaces": replaced_length(result.get("range")),
            "skipped": result.get("skipped"),
            "error": result.get("error"),
            "cached": bool(result.get("cached")),
            "finishReason": usage.get("finishReason"),
            "promptTokens": usage.get("promptTokens"),
            "generatedTokens": usage.get("generatedTokens"),
            "latencyMs": timing.get("totalMs"),
            "firstTokenMs": timing.get("firstTokenMs"),
            "engineMs": timing.get("engineMs"),
            "wallMs": round(wall_ms, 3),
        }
    )
    return record


def replaced_length(edit_range: Any) -> int:
    """Characters after the cursor the item's range covers (closers it re-types)."""
    if not isinstance(edit_range, dict):
        return 0
    start, end = edit_range.get("start") or {}, edit_range.get("end") or {}
    if start.get("line") != end.get("line"):
        return 0
    return max(0, int(end.get("character", 0)) - int(start.get("character", 0)))


def as_accepted(hole: Hole, replaces: int) -> Hole:
    """The hole as scored once the item's range has replaced ``replaces`` characters."""
    if not replaces:
        return hole
    covered = hole.suffix[:replaces]
    return dataclasses.replace(
        hole, suffix=hole.suffix[replaces:], expected=hole.expected + covered
    )


def common_scores(hole: Hole, completion: str) -> dict[str, Any]:
    filled = scoring.parses(hole.filled(completion), hole.language_id, hole.source)
    before = scoring.parses(hole.filled(""), hole.language_id, hole.source)
    return {
        "exactMatch": scoring.exact_match(completion, hole.expected),
        "editSimilarity": round(scoring.edit_similarity(completion, hole.expected), 4),
        "parses": filled,
        # Harm: the document parsed before the insert and does not after it.
        "harm": bool(completion) and before is True and filled is False,
    }


async def run_holes(
    session: ServerSession,
    root: Path,
    holes: list[Hole],
    scorer: Scorer | None = None,
    concurrency: int = 1,
    progress: Progress | None = None,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """One record per hole, in hole order; ``concurrency`` requests in flight at most."""
    gate = asyncio.Semaphore(max(1, concurrency))
    # Test runs overlap the next requests, but never pile up without bound.
    test_gate = asyncio.Semaphore(max(2, concurrency))
    records: list[dict[str, Any] | None] = [None] * len(holes)

    async def one(index: int, hole: Hole) -> None:
        async with gate:
            record = await complete_hole(session, root, hole, request_timeout_s)
        accepted = as_accepted(hole, record["replaces"])
        record.update(common_scores(accepted, record["completion"]))
        if scorer is not None:
            async with test_gate:
                record.update(await scorer(accepted, record["completion"]))
        records[index] = record
        if progress is not None:
            progress(record)

    async with asyncio.TaskGroup() as group:
        for index, hole in enumerate(holes):
            group.create_task(one(index, hole))
    return [record for record in records if record is not None]


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    return {
        "passed": outcome.passed,
        "testStatus": outcome.status,
        "testSeconds": round(outcome.seconds, 3),
        "testOutput": (outcome.stderr or outcome.stdout)[-500:] if not outcome.passed else "",
    }


def humaneval_scorer(limits: Limits) -> Scorer:
    """pass@1: the problem's tests against the filled-in function, in the sandbox."""

    async def score(hole: Hole, completion: str) -> dict[str, Any]:
        return outcome_fields(await humaneval.pass_at_1(hole, completion, limits))

    return score


class RepoTester:
    """Runs a test command in a scratch copy of the repository after each insertion.

    The copy keeps the user's tree untouched; heavy top-level folders
    (virtual environments, node_modules, .git) are linked, not copied. One
    insertion at a time: the file is written, the command runs, the file is
    restored.
    """

    def __init__(self, root: Path, command: str, limits: Limits):
        self.root = root.resolve()
        self.command = command
        self.limits = limits
        self.copy = Path(tempfile.mkdtemp(prefix="dscoder-testbed-repo-")) / self.root.name
        self._lock = asyncio.Lock()

    def prepare(self) -> None:
        """Copy the files ``list_files`` sees (git's, in a work tree); link the heavy folders."""
        self.copy.mkdir(parents=True)
        for entry in sorted(self.root.iterdir()):
            if entry.name in SKIPPED_DIRS:
                (self.copy / entry.name).symlink_to(entry)
        for relative in list_files(self.root):
            source, target = self.root / relative, self.copy / relative
            if relative.split("/", 1)[0] in SKIPPED_DIRS or not source.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(source.readlink())
            else:
                shutil.copy2(source, target)

    def command_for(self, file: str) -> str:
        return self.command.replace("{file}", shlex.quote(file))

    async def baseline(self) -> Outcome | None:
        """The command on the untouched copy: tells whether failures mean anything.

        None when the command names ``{file}``: it has no meaning without an insertion.
        """
        if "{file}" in self.command:
            return None
        async with self._lock:
            return await run_shell(self.command, self.copy, self.limits)

    async def __call__(self, hole: Hole, completion: str) -> dict[str, Any]:
        path = self.copy / hole.source
        async with self._lock:
            original = path.read_bytes()
            try:
                path.write_text(hole.filled(completion), encoding="utf-8")
                outcome = await run_shell(self.command_for(hole.source), self.copy, self.limits)
            finally:
                path.write_bytes(original)
        return outcome_fields(outcome)

    def cleanup(self) -> None:
        shutil.rmtree(self.copy.parent, ignore_errors=True)
