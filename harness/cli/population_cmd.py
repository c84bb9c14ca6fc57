"""`kcert population validate|generate`: the documented population format, checked and made."""

from __future__ import annotations

import argparse

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.population.generator import GeneratorError, generate, to_csv, write_json
from harness.population.reader import validate_population


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
