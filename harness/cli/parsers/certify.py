"""`kcert certify`: its options (harness.cli.certify runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import add_common, add_sut_options
from harness.cli.parsers.lazy import lazy


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("certify", help="run a certification against a SUT and write the report")
    add_sut_options(p)
    p.add_argument("--list-defects", action="store_true", help="list reference LPS defects")
    p.add_argument(
        "--protocols",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="protocol file or folder (default: testcases/)",
    )
    p.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="ID",
        help="run only these test cases: ids or patterns (CC-R-*), repeatable or comma-separated",
    )
    p.add_argument(
        "--requirement",
        action="append",
        default=[],
        metavar="ID",
        help="run only the test cases proving these requirements (ids or patterns: MVP1-KC-*)",
    )
    add_common(p)
    p.add_argument(
        "--test-type",
        choices=["egentest", "endelig"],
        default="egentest",
        help="egentest: vendor self-test (default); endelig: final certification (strict)",
    )
    p.add_argument(
        "--strict-cpr",
        action="store_true",
        help="a SUT body holding a real-format CPR number is not stored at all, only its "
        "SHA-256 and the REAL-CPR finding (always so for --test-type endelig); without it "
        "the number is masked as DDMMYY-xxxx",
    )
    p.add_argument(
        "--tester",
        default="",
        help="who runs the test (the operator: report header, manifest); each answer keeps "
        "who answered it",
    )
    p.add_argument("--place", default="", help="test location (report header)")
    p.add_argument("--answers", type=Path, help="YAML file with answers to the manual steps")
    p.add_argument(
        "--interactive",
        action="store_true",
        help="ask at the terminal for each manual step not in --answers",
    )
    p.add_argument(
        "--pack",
        action="append",
        default=[],
        metavar="ID[@VERSION]",
        help="use exactly these installed packs (repeatable; default: every installed pack)",
    )
    p.add_argument(
        "--no-packs", action="store_true", help="state that the run uses no validation pack"
    )
    p.set_defaults(func=lazy("certify", "run"))
