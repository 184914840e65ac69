"""``dscoder-lsp stats``: the acceptance statistics kept on this machine.

Reads the SQLite file the server writes (completion/stats_store.py) and prints
one row per day, language and single/multi-line, or grouped as ``--by`` says.
``--chart FILE.png`` also draws acceptance rate and latency per day, with
matplotlib when it is installed (the optional ``chart`` extra).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from completion.stats_store import Row, default_path, format_table, read_rows

GROUPS = ("day", "language", "lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dscoder-lsp stats",
        description="Acceptance of suggestions, from the local database (never sent anywhere).",
    )
    parser.add_argument("--db", metavar="FILE", help=f"database (default {default_path()})")
    parser.add_argument(
        "--by",
        default="day,language,lines",
        help="comma-separated grouping among day, language, lines; empty for one total",
    )
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--chart", metavar="PNG", help="also draw rate and latency per day")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    by = tuple(name.strip() for name in args.by.split(",") if name.strip())
    unknown = [name for name in by if name not in GROUPS]
    if unknown:
        sys.stderr.write(f"dscoder-lsp stats: --by takes {', '.join(GROUPS)}, not {unknown}\n")
        return 2
    path = Path(args.db).expanduser() if args.db else default_path()
    rows = read_rows(path, by)
    if args.json:
        sys.stdout.write(json.dumps([row.as_json() for row in rows], indent=2) + "\n")
    elif rows:
        sys.stdout.write(format_table(rows))
    else:
        sys.stdout.write(f"no suggestions recorded yet in {path}\n")
    if args.chart:
        return draw_chart(read_rows(path, ("day",)), Path(args.chart))
    return 0


def draw_chart(rows: list[Row], target: Path) -> int:
    try:  # an optional extra: imported by name so the type check needs no stubs
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        pyplot = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        sys.stderr.write("dscoder-lsp stats: --chart needs matplotlib (pip install matplotlib)\n")
        return 1
    days = [row.day for row in rows]
    figure, rate_axis = pyplot.subplots(figsize=(8, 4))
    rate_axis.plot(days, [row.acceptance_rate * 100 for row in rows], marker="o", color="C0")
    rate_axis.set_ylabel("acceptance rate (%)", color="C0")
    latency_axis = rate_axis.twinx()
    latency_axis.plot(days, [row.latency_ms for row in rows], marker="s", color="C1")
    latency_axis.set_ylabel("latency (ms)", color="C1")
    rate_axis.set_title("dscoder-lsp suggestions per day")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(target)
    pyplot.close(figure)
    sys.stdout.write(f"chart written to {target}\n")
    return 0
