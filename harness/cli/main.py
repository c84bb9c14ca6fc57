"""kcert: entry point; every failure ends in a one-line reason, never a traceback."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from harness import __version__
from harness.cli import (
    certify,
    coverage_cmd,
    dossier_cmd,
    lifecycle_cmd,
    oracle_cmd,
    packs_cmd,
    population_cmd,
    protocols_cmd,
    runs_cmd,
    testscript_cmd,
    validate_cmd,
)
from harness.cli.errors import UsageProblem
from harness.cli.words import say
from harness.suitefiles import SuiteFilesMissing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kcert", description="Conformance tests and certification for Danish LPS."
    )
    parser.add_argument("--version", action="version", version=f"kcert {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    certify.add_parser(sub)
    protocols_cmd.add_parser(sub)
    population_cmd.add_parser(sub)
    oracle_cmd.add_parser(sub)
    packs_cmd.add_parser(sub)
    validate_cmd.add_parser(sub)
    dossier_cmd.add_parser(sub)
    coverage_cmd.add_parser(sub)
    lifecycle_cmd.add_parser(sub)
    runs_cmd.add_parser(sub)
    testscript_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    args = build_parser().parse_args(argv)
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
