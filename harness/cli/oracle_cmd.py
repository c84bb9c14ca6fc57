"""`kcert oracle members|explain`: the expected lists and the reasons, from the rule pack."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.oracle.engine import evaluate, explain
from harness.oracle.rulepack import load_rulepack
from harness.population.reader import PopulationError, load_population
from harness.yamlsource import SourceError


def _evaluate(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    console = Console(stderr=True)
    try:
        with console.status(f"reading {args.population} …"):
            pack = load_rulepack(args.rulepack)
            population = load_population(args.population)
    except (SourceError, PopulationError) as exc:
        raise UsageProblem(str(exc)) from None
    with console.status(f"evaluating {len(population.patients):,} patients …"):
        return evaluate(pack, population, args.as_of)


def run_members(args: argparse.Namespace, console: Console) -> int:
    result = _evaluate(args)
    try:
        members = result.members(args.profile)
    except KeyError as exc:
        raise UsageProblem(str(exc.args[0])) from None
    profile = result.pack.profile(args.profile)
    if args.json:
        payload = {
            "profile": profile.id,
            "title": profile.title.to_dict(),
            "rulepack": f"{result.pack.id} {result.pack.version}",
            "as_of": args.as_of.isoformat(),
            "members": [
                {
                    "cpr": v.cpr,
                    "name": v.patient.name,
                    "clauses": [
                        {"id": c.clause_id, "detail": c.detail}
                        for c in v.profiles[profile.id].clauses
                    ],
                }
                for v in members
            ],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=1))
        return 0
    console.print(
        f"{profile.id} — {profile.title.get(args.lang)} ({len(members)} members, "
        f"as of {args.as_of.isoformat()}, {result.pack.id} {result.pack.version})",
        highlight=False,
        markup=False,
    )
    for v in members:
        why = "; ".join(c.detail for c in v.profiles[profile.id].clauses)
        console.print(f"  {v.cpr}  {v.patient.name:30}  {why}", highlight=False, markup=False)
    return 0


def run_explain(args: argparse.Namespace, console: Console) -> int:
    result = _evaluate(args)
    try:
        info = explain(result, args.cpr, args.lang)
    except KeyError as exc:
        raise UsageProblem(str(exc.args[0])) from None
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=1))
        return 0
    lines = [f"{info['cpr']} {info['name']}, age {info['age']} on {info['as_of']}"]
    if not info["eligible"]:
        lines.append(f"  in no profile: {info['ineligible_reason']}")
    for name, colour in info["colours"].items():
        lines.append(f"  {name} colour: {colour['colour'] or 'none'} ({colour['detail']})")
    for pid, verdict in info["profiles"].items():
        if not verdict["clauses"]:
            continue
        mark = "IN " if verdict["member"] else "out"
        last = verdict["clauses"][-1]
        lines.append(f"  [{mark}] {pid}: {last['rule']} — {last['detail']}")
    for line in lines:
        console.print(line, highlight=False, markup=False)
    return 0
