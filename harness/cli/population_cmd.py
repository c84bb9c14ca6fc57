"""`kcert population validate|generate`: the documented population format, checked and made."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.population.generator import GeneratorError, generate, to_csv, write_json
from harness.population.reader import validate_population
from harness.reflps.identity import REFERENCE_CLINIC


def iso_date(text: str) -> dt.date:
    """YYYY-MM-DD only (Python also reads 20270301 and week dates), years 1900-2200."""
    try:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
        if not 1900 <= day.year <= 2200:
            raise ValueError(text)
        return day
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date YYYY-MM-DD between 1900 and 2200, got {text!r}"
        ) from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("population", help="validate or generate a synthetic test population")
    actions = p.add_subparsers(dest="population_action", required=True)
    v = actions.add_parser("validate", help="check a population file against the format")
    v.add_argument("file", type=Path)
    v.set_defaults(func=run_validate)
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
    g.set_defaults(func=run_generate)


def run_validate(args: argparse.Namespace, console: Console) -> int:
    with console.status(f"reading {args.file} …"):
        population, problems = validate_population(args.file)
    for problem in problems:
        console.print(f"{args.file}#{problem}", highlight=False, markup=False)
    if problems:
        console.print(f"{args.file}: INVALID ({len(problems)} problem(s))", highlight=False)
        return 1
    console.print(
        f"{args.file}: OK ({len(population.patients)} patients, clinic SOR "
        f"{population.clinic_sor})",
        highlight=False,
    )
    return 0


def run_generate(args: argparse.Namespace, console: Console) -> int:
    csv_path = None if args.no_csv else (args.csv or args.out.with_suffix(".csv"))
    with console.status(f"generating {args.size:,} patients …"):
        try:
            made = generate(args.seed, args.size, args.as_of, args.clinic_sor, args.clinic_name)
        except GeneratorError as exc:
            raise UsageProblem(str(exc)) from None
        console.print(f"generated {made.patients:,} patients", highlight=False)
        write_json(made.bundle, args.out)
        if csv_path is not None:
            csv_path.write_text(to_csv(made.bundle), encoding="utf-8", newline="")
    console.print(
        f"wrote {args.out}: {made.patients} patients ({made.edge_cases} boundary cases), "
        f"{len(made.bundle['entry'])} resources, as of {args.as_of.isoformat()}"
        + (f"; CSV {csv_path}" if csv_path else ""),
        highlight=False,
    )
    return 0
