"""`kcert population`: its options (harness.cli.population_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import iso_date
from harness.cli.parsers.lazy import lazy
from harness.reflps.identity import REFERENCE_CLINIC


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "population", help="validate, read or generate test populations and extracts"
    )
    actions = p.add_subparsers(dest="population_action", required=True)
    v = actions.add_parser("validate", help="check a population file against the format")
    v.add_argument("file", type=Path)
    v.set_defaults(func=lazy("population_cmd", "run_validate"))
    g = actions.add_parser("generate", help="write a deterministic synthetic population")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--size", type=int, required=True)
    g.add_argument("--as-of", type=iso_date, required=True)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument(
        "--csv",
        type=Path,
        help="where the long-format CSV for manual import goes (default: OUT with .csv)",
    )
    g.add_argument("--no-csv", action="store_true", help="write only the FHIR Bundle")
    g.add_argument("--clinic-sor", default=REFERENCE_CLINIC.sor)
    g.add_argument("--clinic-name", default=REFERENCE_CLINIC.name)
    g.add_argument(
        "--extract",
        action="store_true",
        help="write a clean clinic extract (medication, register date) instead of the cockpit"
        " population with its boundary cases",
    )
    g.add_argument(
        "--faults",
        type=Path,
        metavar="PLAN",
        help="plant the data-quality faults of this YAML fault plan (implies --extract)",
    )
    g.add_argument(
        "--truth",
        type=Path,
        help="where the ground truth of --faults goes (default: OUT with .truth.json)",
    )
    g.add_argument(
        "--extract-csv",
        type=Path,
        metavar="DIR",
        help="also write the extract's CSV form (one CSV per table) into DIR (implies --extract)",
    )
    g.set_defaults(func=lazy("population_cmd", "run_generate"))
    e = actions.add_parser(
        "extract", help="read a clinic extract leniently: its facts and the faults kept"
    )
    e.add_argument("source", type=Path, help="a population Bundle (JSON) or a CSV extract folder")
    e.add_argument("--csv", type=Path, metavar="DIR", help="write the CSV form into DIR")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.set_defaults(func=lazy("population_cmd", "run_extract"))
