"""`kcert oracle`: its options (harness.cli.oracle_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import iso_date
from harness.cli.parsers.lazy import lazy


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("oracle", help="expected profile members and explanations")
    actions = p.add_subparsers(dest="oracle_action", required=True)
    for name, helptext in (("members", "members of one profile"), ("explain", "one patient")):
        a = actions.add_parser(name, help=helptext)
        a.add_argument("--population", type=Path, required=True)
        a.add_argument("--as-of", type=iso_date, required=True)
        a.add_argument("--rulepack", type=Path, help="rule pack YAML (default: kcert cockpit v1)")
        a.add_argument("--lang", choices=["da", "en"], default="da")
        a.add_argument("--json", action="store_true")
        if name == "members":
            a.add_argument("--profile", required=True)
            a.set_defaults(func=lazy("oracle_cmd", "run_members"))
        else:
            a.add_argument("--cpr", required=True)
            a.set_defaults(func=lazy("oracle_cmd", "run_explain"))
