"""`kcert testscript`: its options (harness.cli.testscript_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import add_common, add_sut_options
from harness.cli.parsers.lazy import lazy


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("testscript", help="run FHIR TestScripts against a SUT")
    actions = p.add_subparsers(dest="testscript_command", required=True)
    r = actions.add_parser("run", help="execute TestScripts (JSON or XML files or folders)")
    r.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    add_sut_options(r)
    r.add_argument(
        "--fixtures-map",
        type=Path,
        metavar="FILE",
        help="YAML: fixtures: {reference: local path} for fixtures not kept with the scripts",
    )
    r.add_argument(
        "--package",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="FHIR package .tgz for validateProfileId (repeatable; default: installed packs)",
    )
    add_common(r)
    r.add_argument("--tester", default="", help="who performs the test (report header)")
    r.set_defaults(func=lazy("testscript_cmd", "run"))
