"""`kcert protocols check|list|actions|checks`: collect protocol files and report what is wrong
with them; list the actions and checks a protocol can use."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.cli.catalogue import KINDS, rows
from harness.loader.protocols import discover, load_all
from harness.suitefiles import protocols_dir


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.action in KINDS:
        for row in rows(args.action):
            params = ", ".join([*row.required, *(f"[{n}]" for n in row.optional)]) or "-"
            console.print(f"{row.name:24} {row.what}", highlight=False, markup=False)
            console.print(f"{'':24} parameters: {params}", highlight=False, markup=False)
        return 0
    paths = [p for root in (args.paths or [protocols_dir()]) for p in discover(root)]
    protocols, errors = load_all(paths)
    for err in errors:
        console.print(f"collection error {err}", highlight=False, markup=False)
    if args.action == "list":
        for protocol in protocols:
            for case in protocol.cases:
                if args.needs:
                    n = case.needs
                    text = f"{n.standard} {n.direction or '—'} {','.join(n.operations)}"
                else:
                    text = f"{','.join(case.requirements):26} {case.title.da}"
                console.print(
                    f"{protocol.id:28} {case.id:10} {case.severity.value} {text}",
                    highlight=False,
                    markup=False,
                )
    else:
        total = sum(len(p.cases) for p in protocols)
        console.print(f"{len(protocols)} protocol(s), {total} test case(s), {len(errors)} error(s)")
    return 2 if errors else 0
