"""`kcert population validate|generate|extract`: the documented format, checked, made, read."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.population.extract import TRUTH_SUFFIX
from harness.population.generator import GeneratorError, generate, to_csv, write_json
from harness.population.reader import validate_population

if TYPE_CHECKING:
    from harness.population.faultplan import FaultPlan


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
    extract = args.extract or args.faults is not None or args.extract_csv is not None
    if args.truth is not None and args.faults is None:
        raise UsageProblem("--truth needs --faults (the truth is that of a fault plan)")
    csv_path = None if args.no_csv or extract else (args.csv or args.out.with_suffix(".csv"))
    if extract and args.csv is not None:
        raise UsageProblem("--csv is the cockpit population's manual-import CSV; use --extract-csv")
    plan = _plan(args.faults) if args.faults is not None else None
    with console.status(f"generating {args.size:,} patients …"):
        try:
            if extract:
                from harness.population.extractgen import generate_extract

                made = generate_extract(
                    args.seed, args.size, args.as_of, args.clinic_sor, args.clinic_name
                )
            else:
                made = generate(args.seed, args.size, args.as_of, args.clinic_sor, args.clinic_name)
        except GeneratorError as exc:
            raise UsageProblem(str(exc)) from None
        console.print(f"generated {made.patients:,} patients", highlight=False)
        truth_path = None
        truth_json = None
        if plan is not None:
            truth_path = args.truth or args.out.with_name(args.out.stem + TRUTH_SUFFIX)
            truth_json = _planted(made.bundle, plan, args, truth_path)
        _write_all(made.bundle, args, csv_path, truth_path, truth_json)
    kind = "clinic extract" if extract else "population"
    console.print(
        f"wrote {args.out}: {kind} of {made.patients} patients"
        + ("" if extract else f" ({made.edge_cases} boundary cases)")
        + f", {len(made.bundle['entry'])} resources, as of {args.as_of.isoformat()}"
        + (f"; CSV {csv_path}" if csv_path else "")
        + (f"; CSV extract {args.extract_csv}" if args.extract_csv else "")
        + (f"; truth {truth_path}" if truth_path else ""),
        highlight=False,
    )
    if truth_json is not None:
        planted = {
            k: len(v["cprs"]) or len(v.get("clinics", [])) for k, v in truth_json["faults"].items()
        }
        console.print(
            "planted: " + ", ".join(f"{k} {n}" for k, n in planted.items() if n), highlight=False
        )
    return 0


def _plan(path: Path) -> FaultPlan:
    from harness.population.faultplan import load_fault_plan
    from harness.yamlsource import SourceError

    try:
        return load_fault_plan(path)
    except SourceError as exc:
        raise UsageProblem(str(exc)) from None


def _planted(
    bundle: dict[str, Any], plan: FaultPlan, args: argparse.Namespace, truth_path: Path
) -> dict[str, Any]:
    from harness.population.faults import FaultPlantError, plant

    try:
        truth = plant(bundle, plan.faults, plan.seed, args.as_of)
    except FaultPlantError as exc:
        raise UsageProblem(f"{args.faults}: {exc}") from None
    data = truth.to_json()
    data["plan"] = str(args.faults)
    data["population"] = {
        "file": args.out.name,
        "seed": args.seed,
        "size": args.size,
        "clinic_sor": args.clinic_sor,
    }
    return data


def _write_all(
    bundle: dict[str, Any],
    args: argparse.Namespace,
    csv_path: Path | None,
    truth_path: Path | None,
    truth_json: dict[str, Any] | None,
) -> None:
    """Everything is made before anything is written; each file lands whole (tmp + rename)."""
    outputs: list[tuple[Path, str]] = []
    if csv_path is not None:
        outputs.append((csv_path, to_csv(bundle)))
    if truth_path is not None and truth_json is not None:
        outputs.append((truth_path, json.dumps(truth_json, indent=1, ensure_ascii=False) + "\n"))
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    write_json(bundle, tmp)
    for path, text in outputs:
        part = path.with_name(f".{path.name}.tmp")
        part.write_text(text, encoding="utf-8", newline="")
        part.replace(path)
    tmp.replace(args.out)
    if args.extract_csv is not None:
        from harness.population.extract import read_extract_data
        from harness.population.extractcsv import write_extract_csv

        write_extract_csv(read_extract_data(bundle, str(args.out)), args.extract_csv)


def run_extract(args: argparse.Namespace, console: Console) -> int:
    from harness.population.extract import ExtractError, read_extract
    from harness.population.extractcsv import write_extract_csv
    from harness.population.facts import FACT_TABLES

    with console.status(f"reading {args.source} …"):
        try:
            extract = read_extract(args.source)
        except ExtractError as exc:
            console.print(str(exc), highlight=False, markup=False)
            return 1
    noted = {k: sorted(v) for k, v in sorted(extract.noted().items())}
    rows = {name: len(extract.table(name)) for name in FACT_TABLES}
    summary: dict[str, Any] = {
        "source": str(args.source),
        "clinic_sor": extract.clinic_sor,
        "as_of": extract.as_of.isoformat() if extract.as_of else None,
        "register_updated": (
            extract.register_updated.isoformat() if extract.register_updated else None
        ),
        "rows": rows,
        "faults_noted": {k: len(v) for k, v in noted.items()},
    }
    if args.csv is not None:
        write_extract_csv(extract, args.csv)
        summary["csv"] = str(args.csv)
    if args.json:
        console.print_json(json.dumps(summary))
        return 0
    counts = ", ".join(f"{n} {name}" for name, n in rows.items())
    console.print(f"{args.source}: clinic SOR {extract.clinic_sor}; {counts}", highlight=False)
    console.print(
        "faults kept / fejl bevaret: "
        + (", ".join(f"{k} {len(v)}" for k, v in noted.items()) or "none / ingen"),
        highlight=False,
    )
    if args.csv is not None:
        console.print(f"wrote the CSV form to {args.csv}", highlight=False)
    return 0
