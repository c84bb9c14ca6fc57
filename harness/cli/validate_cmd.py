"""`kcert validate FILE...`: every applicable check from the installed packs, per file.

Exit codes: 0 no file has an error-level finding; 1 at least one has; 2 an input is unusable
(missing, unsafe, not XML/JSON, over the size cap) or a required pack is missing (cda-schema for
CDA, oioxml-schema for OIOXML; see harness.validators.documents) or an installed pack is broken.
2 wins over 1. Files that can be read are still validated and reported when another is not.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.packs.store import PackError, PackStore
from harness.validators.documents import (
    DocumentReport,
    DocumentValidator,
    PackProblem,
    UnusableInput,
    files_of,
)


def run(args: argparse.Namespace, console: Console) -> int:
    import harness.standards  # noqa: F401  (the standards' native invariants: speed only)

    store = PackStore(args.store) if args.store else PackStore()
    validator = DocumentValidator(store, fhir_package=args.fhir_package)
    outcomes: list[DocumentReport] = []
    unusable: list[str] = []
    for path in files_of(args.files):
        try:
            outcomes.append(validator.report(path, args.kind))
        except UnusableInput as exc:
            unusable.append(str(exc))
        except (PackProblem, PackError) as exc:
            raise UsageProblem(f"{exc} (while validating {path})") from None
    missing = sorted({kind for o in outcomes for kind in o.missing})
    if args.json:
        print(
            json.dumps(
                {
                    "files": [o.to_dict() for o in outcomes],
                    "unusable": unusable,
                    "missing_packs": missing,
                    "packs": [p.summary() for p in validator.packs_used],
                },
                indent=1,
                ensure_ascii=False,
            )
        )
    else:
        _print_text(console, outcomes, unusable, missing)
    if unusable or missing:
        return 2
    return 1 if any(o.errors for o in outcomes) else 0


def _print_text(
    console: Console, outcomes: list[DocumentReport], unusable: list[str], missing: list[str]
) -> None:
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    for o in outcomes:
        say(f"{o.path}: {o.verdict}")
        if o.context:
            say(f"  context: {o.context}")
            say(f"  packs: {', '.join(o.packs) or 'none'}")
        notes: Counter[str] = Counter()
        for f in o.findings:
            if not f.is_problem:  # "not checked" remarks: counted here, listed with --json
                notes[f.rule_id] += 1
                continue
            line = f"line {f.location.line}" if f.location.line else ""
            where = "".join(f" {part}" for part in (f.location.path, line) if part)
            level = "error" if f.blocking else "warning"
            say(f"  {level} {f.severity.value} {f.rule_id}{where}: {f.message}")
        if notes:
            counted = ", ".join(f"{rule} x{n}" for rule, n in sorted(notes.items()))
            say(f"  info: {notes.total()} remarks ({counted}); --json lists them")
        for skipped in o.not_run:
            say(f"  not run: {skipped}")
    for problem in unusable:
        say(f"{problem}: UNUSABLE")
    for kind in missing:
        say(
            f"required pack missing: no {kind} pack is installed; install one with "
            f"`kcert packs install PATH --kind {kind}` (`make packs-dev` installs the corpus ones)"
        )
