"""`kcert protocols check|list|actions|checks`: collect protocol files and report what is wrong
with them; list the actions and checks a protocol can use."""

from __future__ import annotations

import argparse

from rich.console import Console

from harness.cli.catalogue import rows
from harness.cli.parsers.protocols import KINDS
from harness.loader.protocols import discover, load_all
from harness.suitefiles import protocols_dir


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
