"""`kcert resume|answer|rejudge`: their options (harness.cli.lifecycle_cmd runs them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import add_common
from harness.cli.parsers.lazy import lazy


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("resume", help="continue a run that stopped after its last finished case")
    r.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    r.add_argument("--answers", type=Path, help="YAML answers for manual steps still to come")
    add_common(r)
    r.set_defaults(func=lazy("lifecycle_cmd", "run_resume"))
    a = sub.add_parser("answer", help="record the tester's answers to a run's manual steps")
    a.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    a.add_argument("--answers", type=Path, help="YAML answers file (else: ask at the terminal)")
    a.add_argument(
        "--tester",
        default="",
        help="who answers, when the answers file names nobody (default: the run's operator)",
    )
    add_common(a)
    a.set_defaults(func=lazy("lifecycle_cmd", "run_answer"))
    j = sub.add_parser(
        "rejudge", help="judge a stored run's recorded exchanges again, without the SUT"
    )
    j.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    j.add_argument(
        "--pack", action="append", default=[], metavar="ID[@VERSION]", help="other pack set"
    )
    add_common(j)
    j.set_defaults(func=lazy("lifecycle_cmd", "run_rejudge"))
