"""`kcert coverage`: its options (harness.cli.coverage_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.lazy import lazy
from harness.cli.runref import RUN_HELP
from harness.suitefiles import reports_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("coverage", help="which test cases prove which national requirement")
    p.add_argument("--protocols", type=Path, action="append", default=[])
    p.add_argument("--run", help=f"show each requirement's result in this run too ({RUN_HELP})")
    p.add_argument("--reports", type=Path, default=reports_dir())
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lazy("coverage_cmd", "run"))
