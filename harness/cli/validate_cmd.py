"""`kcert validate FILE...`: every applicable check from the installed packs, per file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.packs.store import PackError, PackStore
from harness.validators.documents import KINDS, DocumentValidator, Outcome, UnusableInput
from harness.validators.xsd import SchemaLoadError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="validate CDA / FHIR / OIOXML documents with the packs")
    p.add_argument("files", type=Path, nargs="+")
    p.add_argument("--kind", choices=KINDS, help="skip detection")
    p.add_argument("--json", action="store_true")
    p.add_argument("--store", type=Path, help="pack store folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    validator = DocumentValidator(PackStore(args.store) if args.store else PackStore())
    outcomes: list[Outcome] = []
    unusable: list[str] = []
    for path in args.files:
        try:
            outcomes.append(validator.validate(path, args.kind))
        except UnusableInput as exc:
            unusable.append(str(exc))
        except (SchemaLoadError, PackError) as exc:
            raise UsageProblem(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "files": [
                        {
                            "path": o.path,
                            "kind": o.kind,
                            "errors": o.errors,
                            "warnings": o.warnings,
                            "not_run": o.not_run,
                            "findings": [f.to_dict() for f in o.findings],
                        }
                        for o in outcomes
                    ],
                    "unusable": unusable,
                },
                indent=1,
                ensure_ascii=False,
            )
        )
    else:
        for o in outcomes:
            verdict = "OK" if not o.errors else f"FAIL ({o.errors} errors, {o.warnings} warnings)"
            console.print(f"{o.path}: {verdict}", markup=False, highlight=False)
            for f in o.findings:
                line = f" line {f.location.line}" if f.location.line else ""
                level = "error" if f.blocking else "warning"
                console.print(
                    f"  {level} {f.rule_id} {f.location.path}{line}: {f.message}",
                    markup=False,
                    highlight=False,
                )
            for skipped in o.not_run:
                console.print(f"  not run: {skipped}", markup=False, highlight=False)
        for problem in unusable:
            console.print(f"{problem}: UNUSABLE", markup=False, highlight=False)
    if unusable:
        return 2
    return 1 if any(o.errors for o in outcomes) else 0
