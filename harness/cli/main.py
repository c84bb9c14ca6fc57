"""kcert: entry point; every failure ends in a one-line reason, never a traceback.

Commands are imported only when named, and only when they run: `kcert --help` lists them from
the table below, `kcert <command> --help` (and parsing its arguments) imports that command's
parser module alone (harness.cli.parsers: standard library and light kcert modules), and only
running it imports the command's module with the engine, SQLAlchemy, rich, Saxon or
schemathesis it needs. The table's help texts must be the parsers' own (a test compares the
lazy parser's help with the fully built one).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from harness import __version__

# Each harness.cli.parsers module's add_parser registers these commands, in this order, with
# this help.
COMMANDS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("certify", (("certify", "run a certification against a SUT and write the report"),)),
    (
        "protocols",
        (("protocols", "check or list protocol files; list the actions and checks they use"),),
    ),
    ("population", (("population", "validate, read or generate test populations and extracts"),)),
    ("oracle", (("oracle", "expected profile members and explanations"),)),
    ("packs", (("packs", "install and check validation packs (store: KCERT_PACKS)"),)),
    ("validate", (("validate", "validate CDA / FHIR / OIOXML documents with the packs"),)),
    (
        "dossier",
        (
            ("keys", "signing keys"),
            ("sign", "sign a run's manifest (Ed25519)"),
            ("verify", "check every hash and the signature of a run, offline"),
        ),
    ),
    ("coverage", (("coverage", "which test cases prove which national requirement"),)),
    (
        "lifecycle",
        (
            ("resume", "continue a run that stopped after its last finished case"),
            ("answer", "record the tester's answers to a run's manual steps"),
            ("rejudge", "judge a stored run's recorded exchanges again, without the SUT"),
        ),
    ),
    (
        "runs",
        (("runs", "the runs in the run store"), ("diff", "what changed between two runs")),
    ),
    ("testscript", (("testscript", "run FHIR TestScripts against a SUT"),)),
    (
        "connectathon",
        (
            (
                "connectathon",
                "connectathon mode: sessions, systems, pairing, the live matrix, export and "
                "dossiers",
            ),
        ),
    ),
    (
        "load",
        (
            (
                "load",
                "load tests of the FLP operating environment: the workload model, Locust runs, "
                "workers",
            ),
        ),
    ),
    (
        "quality",
        (("quality", "data completeness and quality of clinic extracts, scored per clinic"),),
    ),
)


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"harness.cli.parsers.{name}")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `argv`, only the named command's module is imported (None: all)."""
    parser = argparse.ArgumentParser(
        prog="kcert", description="Conformance tests and certification for Danish LPS."
    )
    parser.add_argument("--version", action="version", version=f"kcert {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    wanted = None if argv is None else _command(argv)
    for module, commands in COMMANDS:
        if argv is None or wanted in [c for c, _ in commands]:
            _module(module).add_parser(sub)
            continue
        for name, helptext in commands:
            # Stands in for the real command in `kcert --help` and in "invalid choice"
            # messages; never run, since naming the command imports the real one.
            sub.add_parser(name, help=helptext)
    return parser


def main(argv: list[str] | None = None) -> int:
    line = sys.argv[1:] if argv is None else argv
    args = build_parser(line).parse_args(line)
    from rich.console import Console

    from harness.cli.errors import UsageProblem
    from harness.cli.words import say
    from harness.suitefiles import SuiteFilesMissing

    console = Console(stderr=False, highlight=False, soft_wrap=True)
    lang = str(getattr(args, "lang", "da"))
    try:
        code: int = args.func(args, console)
        return code
    except (UsageProblem, SuiteFilesMissing) as exc:
        console.print(say(lang, "error", text=exc), highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        console.print(say(lang, "interrupted"), highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
