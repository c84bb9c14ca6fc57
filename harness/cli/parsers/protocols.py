"""`kcert protocols`: its options (harness.cli.protocols_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.lazy import lazy

# What `kcert protocols` lists besides the protocols (harness.cli.catalogue builds them).
KINDS = ("actions", "checks")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "protocols", help="check or list protocol files; list the actions and checks they use"
    )
    p.add_argument("action", choices=["check", "list", *KINDS])
    p.add_argument("paths", type=Path, nargs="*")
    p.add_argument(
        "--needs",
        action="store_true",
        help="list: what each case needs of the SUT (standard, direction, operations)",
    )
    p.set_defaults(func=lazy("protocols_cmd", "run"))
