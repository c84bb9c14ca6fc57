"""`kcert coverage`: national requirement × test cases, and their results in a run if given."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from harness.cli.errors import UsageProblem
from harness.cli.runref import run_folder
from harness.loader.protocols import discover, load_all
from harness.suitefiles import protocols_dir


def run(args: argparse.Namespace, console: Console) -> int:
    paths = [p for root in (args.protocols or [protocols_dir()]) for p in discover(root)]
    protocols, errors = load_all(paths)
    if errors:
        raise UsageProblem(str(errors[0]))
    table: dict[str, list[str]] = {}
    for protocol in protocols:
        for case in protocol.cases:
            for requirement in case.requirements:
                table.setdefault(requirement, []).append(case.id)
    outcomes: dict[str, str] = {}
    if args.run:
        try:
            folder = run_folder(args.run, args.reports)
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            outcomes = {req: row["outcome"] for req, row in results["requirements"].items()}
        except (OSError, ValueError, KeyError) as exc:
            raise UsageProblem(f"{args.run}: no usable results.json ({exc})") from None
    if args.json:
        print(
            json.dumps(
                {
                    req: {"cases": cases, "outcome": outcomes.get(req)}
                    for req, cases in sorted(table.items())
                },
                indent=1,
            )
        )
        return 0
    view = Table("Krav / requirement", "Testcases", "Resultat" if outcomes else "")
    for requirement, cases in sorted(table.items()):
        view.add_row(requirement, ", ".join(cases), outcomes.get(requirement, ""))
    console.print(view)
    return 0
