"""What a run leaves behind: progress on the terminal, tables, JSONL, a Markdown report.

Last stage of a testbed run. ``summarize`` turns the per-hole records into
metrics (overall, per hole kind, per language); ``write_run`` writes
``holes.jsonl``, ``summary.json`` and ``report.md`` with SVG latency
histograms (no plotting library needed) into the run's folder.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any, TextIO

METRICS = (
    ("n", "holes"),
    ("exactMatch", "EM"),
    ("editSimilarity", "ES"),
    ("parses", "parses"),
    ("harm", "harm"),
    ("pass1", "pass@1"),
    ("empty", "empty"),
    ("skipped", "skipped"),
    ("errors", "errors"),
    ("latencyP50Ms", "p50 ms"),
    ("latencyP95Ms", "p95 ms"),
)


# ----- progress -------------------------------------------------------------------


class ProgressBar:
    """A one-line bar on a terminal; a line per tenth of the run elsewhere."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True):
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.exact = 0
        self.started = time.perf_counter()
        self.tty = self.stream.isatty()
        self._last_tenth = -1

    def __call__(self, record: dict[str, Any]) -> None:
        self.done += 1
        self.exact += bool(record.get("exactMatch"))
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        line = (
            f"{self.done}/{self.total}  EM {self.exact / self.done:6.1%}  "
            f"{elapsed:5.0f}s elapsed, ~{eta:.0f}s left"
        )
        if self.tty:
            width = 30
            filled = int(width * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}")
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            tenth = self.done * 10 // self.total
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self.stream.write(line + "\n")
        self.stream.flush()


# ----- metrics --------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _rate(records: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [bool(record[key]) for record in records if record.get(key) is not None]
    return sum(values) / len(values) if values else None


def metrics(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    latencies = [r["latencyMs"] for r in records if isinstance(r.get("latencyMs"), int | float)]
    walls = [r["wallMs"] for r in records if isinstance(r.get("wallMs"), int | float)]
    similarities = [r["editSimilarity"] for r in records if r.get("editSimilarity") is not None]
    tested = [r for r in records if r.get("passed") is not None]
    return {
        "n": len(records),
        "exactMatch": _rate(records, "exactMatch"),
        "editSimilarity": statistics.fmean(similarities) if similarities else None,
        "parses": _rate(records, "parses"),
        "harm": _rate(records, "harm"),
        "pass1": _rate(tested, "passed") if tested else None,
        "tested": len(tested),
        "empty": sum(1 for r in records if not r.get("completion")),
        "skipped": sum(1 for r in records if r.get("skipped")),
        "errors": sum(1 for r in records if r.get("error")),
        "latencyP50Ms": percentile(latencies, 0.5),
        "latencyP95Ms": percentile(latencies, 0.95),
        "latencyMeanMs": statistics.fmean(latencies) if latencies else None,
        "wallP50Ms": percentile(walls, 0.5),
        "wallP95Ms": percentile(walls, 0.95),
    }


def grouped(records: Sequence[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record.get(key)), []).append(record)
    return {name: metrics(group) for name, group in sorted(groups.items())}


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "overall": metrics(records),
        "byKind": grouped(records, "kind"),
        "byLanguage": grouped(records, "language"),
    }


# ----- tables ---------------------------------------------------------------------


def cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("exactMatch", "parses", "harm", "pass1"):
        return f"{value:.1%}"
    if key == "editSimilarity":
        return f"{value:.3f}"
    if key.endswith("Ms"):
        return f"{value:.0f}"
    return str(value)


def summary_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = [["all", *(cell(k, results["overall"].get(k)) for k, _ in METRICS)]]
    for section, label in (("byKind", "kind"), ("byLanguage", "lang")):
        groups = results.get(section, {})
        if len(groups) > 1 or section == "byLanguage":
            for name, values in groups.items():
                rows.append([f"{label}: {name}", *(cell(k, values.get(k)) for k, _ in METRICS)])
    return rows


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(row) for row in rows]
    widths = [max(len(str(item)) for item in column) for column in zip(header, *rows, strict=False)]

    def line(items: Sequence[str]) -> str:
        first = f"{items[0]:<{widths[0]}}"
        rest = (f"{item:>{width}}" for item, width in zip(items[1:], widths[1:], strict=False))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(item) for item in row) + " |" for row in rows]
    return "\n".join(lines)


def terminal_summary(results: dict[str, Any]) -> str:
    return text_table(["", *(label for _, label in METRICS)], summary_rows(results))


# ----- histograms -----------------------------------------------------------------


def histogram(values: Sequence[float], bins: int = 20) -> tuple[list[float], list[int]]:
    """Edges (bins + 1) and counts over [min, max]."""
    low, high = min(values), max(values)
    if high <= low:
        high = low + 1.0
    step = (high - low) / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / step))] += 1
    return [low + step * i for i in range(bins + 1)], counts


def svg_histogram(values: Sequence[float], title: str, unit: str = "ms") -> str:
    """A small self-contained SVG bar chart of ``values``."""
    width, height, left, bottom, top = 480, 220, 40, 30, 28
    if not values:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60">'
            f'<text x="10" y="30">{escape(title)}: no data</text></svg>'
        )
    edges, counts = histogram(values)
    peak = max(counts)
    plot_w, plot_h = width - left - 10, height - bottom - top
    bar_w = plot_w / len(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13">{escape(title)} (n={len(values)})</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for index, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + index * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{bar_h:.1f}" fill="#4c78a8"><title>{edges[index]:.0f}-'
            f"{edges[index + 1]:.0f} {unit}: {count}</title></rect>"
        )
    for index in (0, len(counts) // 2, len(counts)):
        x = left + index * bar_w
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
            f"{edges[index]:.0f}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w}" y="{height - 2}" text-anchor="end">{escape(unit)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def text_histogram(values: Sequence[float], bins: int = 10, width: int = 40) -> str:
    if not values:
        return "(no data)"
    edges, counts = histogram(values, bins)
    peak = max(counts) or 1
    return "\n".join(
        f"{edges[i]:8.0f} - {edges[i + 1]:8.0f} ms | {'#' * round(width * counts[i] / peak)} "
        f"{counts[i]}"
        for i in range(bins)
    )


# ----- files ------------------------------------------------------------------------


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def markdown_report(summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> str:
    results = summary["results"]
    run = summary["run"]
    lines = [
        f"# dscoder-lsp testbed: {run['benchmark']}",
        "",
        f"- command: `{run['command']}`",
        f"- started: {run['startedAt']}, took {run['seconds']:.1f} s",
        f"- holes: {results['overall']['n']}, seed: {run.get('seed')}",
        f"- model: {summary['model'].get('model', '?')} via {summary['model'].get('engine', '?')}",
        "",
        "## Summary",
        "",
        markdown_table(["", *(label for _, label in METRICS)], summary_rows(results)),
        "",
        "EM: exact match after normalizing whitespace at line ends and at both ends. "
        "ES: mean edit similarity (1 - Levenshtein / longer length). parses: the file "
        "parses without tree-sitter errors after insertion; harm: it parsed before the "
        "insertion and does not after it. pass@1: the tests pass with "
        "the completion (greedy, one sample). empty: no completion shown; skipped: the "
        "server declined and said why (see holes.jsonl). Latency: the server's totalMs.",
        "",
        "## Latency",
        "",
        "![latency](latency.svg)",
        "",
    ]
    by_language: dict[str, list[float]] = {}
    for record in records:
        if isinstance(record.get("latencyMs"), int | float):
            by_language.setdefault(record["language"], []).append(record["latencyMs"])
    if len(by_language) > 1:
        for language in sorted(by_language):
            lines += [f"![latency {language}](latency-{_slug(language)}.svg)", ""]
    all_latencies = [v for values in by_language.values() for v in values]
    lines += ["```text", text_histogram(all_latencies), "```", ""]
    misses = [r for r in records if not r.get("exactMatch")][:5]
    if misses:
        lines += ["## Sample misses", ""]
        for record in misses:
            lines += [
                f"**{record['id']}** ({record['kind']}, {record['source']}:{record['line']}:"
                f"{record['column']})",
                "",
                "expected:",
                "```",
                record["expected"],
                "```",
                "got:",
                "```",
                record["completion"] or "(nothing)",
                "```",
                "",
            ]
    lines += [
        "## Reproduce",
        "",
        "```json",
        json.dumps({"run": run, "model": summary["model"]}, indent=2),
        "```",
        "",
        "The effective server configuration is in summary.json (`config`).",
        "",
    ]
    return "\n".join(lines)


def write_run(out: Path, summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> Path:
    """Write the run's files into ``out``; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "holes.jsonl", records)
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    latencies: dict[str, list[float]] = {}
    for record in records:
        if isinstance(record.get("latencyMs"), int | float):
            latencies.setdefault(record["language"], []).append(record["latencyMs"])
    everything = [value for values in latencies.values() for value in values]
    (out / "latency.svg").write_text(svg_histogram(everything, "latency, all holes"), "utf-8")
    if len(latencies) > 1:
        for language, values in latencies.items():
            (out / f"latency-{_slug(language)}.svg").write_text(
                svg_histogram(values, f"latency, {language}"), "utf-8"
            )
    report = out / "report.md"
    report.write_text(markdown_report(summary, records), encoding="utf-8")
    return report
