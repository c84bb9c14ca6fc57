"""`kcert runs|diff`: their options (harness.cli.runs_cmd runs them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import add_store_options
from harness.cli.parsers.lazy import lazy


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = sub.add_parser("runs", help="the runs in the run store")
    actions = runs.add_subparsers(dest="runs_action", required=True)
    ls = actions.add_parser("list", help="every run, newest first")
    ls.add_argument("--limit", type=int, default=50)
    add_store_options(ls)
    ls.set_defaults(func=lazy("runs_cmd", "run_list"))
    show = actions.add_parser("show", help="one run: header, cases, findings")
    show.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    add_store_options(show)
    show.set_defaults(func=lazy("runs_cmd", "run_show"))
    systems = actions.add_parser(
        "systems", help="approved-systems summary: system x protocol x direction"
    )
    systems.add_argument("--html", type=Path, help="also write the table as HTML")
    add_store_options(systems)
    systems.set_defaults(func=lazy("runs_cmd", "run_systems"))
    d = sub.add_parser("diff", help="what changed between two runs")
    d.add_argument("run_a", help="run id, unique prefix, run folder or 'latest'")
    d.add_argument("run_b", help="run id, unique prefix, run folder or 'latest'")
    d.add_argument("--html", type=Path, help="also write the differences as HTML")
    d.add_argument("--json", action="store_true", help="print the differences as JSON")
    add_store_options(d)
    d.set_defaults(func=lazy("runs_cmd", "run_diff"))
