"""`kcert validate`: its options (harness.cli.validate_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.lazy import lazy
from harness.validators.kinds import KINDS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="validate CDA / FHIR / OIOXML documents with the packs")
    p.add_argument("files", type=Path, nargs="+", help="files, or folders of .xml/.json files")
    p.add_argument("--kind", choices=KINDS, help="skip detection")
    p.add_argument("--json", action="store_true")
    p.add_argument("--store", type=Path, help="pack store folder")
    p.add_argument(
        "--fhir-package",
        metavar="NAME[#VERSION]",
        help="validate in this package's context (it and its dependencies; canonicals resolve "
        "nowhere else); default: the package that defines the instance's meta.profile",
    )
    p.set_defaults(func=lazy("validate_cmd", "run"))
