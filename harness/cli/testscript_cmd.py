"""`kcert testscript run PATH...`: execute FHIR TestScripts against a SUT, write TestReports."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.cli.certify import add_sut_options, conclude
from harness.cli.errors import UsageProblem
from harness.fixtures import REPO_ROOT
from harness.model.outcome import Outcome
from harness.model.protocol import Protocol
from harness.model.result import CaseResult
from harness.packs.store import PackError
from harness.reflps.defects import UnknownDefect
from harness.runner.engine import RunOptions
from harness.session import SutChoice
from harness.sut.config import SutConfigError
from harness.sut.reference import ReferenceStartError
from harness.testscript.fixtures import FixtureMap
from harness.testscript.needs import missing_fixtures
from harness.testscript.profiles import ProfileSource
from harness.testscript.run import run_session, write
from harness.testscript.script import Script, ScriptError, discover, load_script
from harness.testscript.testreport import FOLDER
from harness.transport.base import TransportError
from harness.yamlsource import SourceError

COLOURS = {
    Outcome.PASS: "green",
    Outcome.FAIL: "red",
    Outcome.ERROR: "magenta",
    Outcome.SKIP: "yellow",
    Outcome.PENDING: "yellow",
    Outcome.NOT_IN_SCOPE: "dim",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("testscript", help="run FHIR TestScripts against a SUT")
    actions = p.add_subparsers(dest="testscript_command", required=True)
    r = actions.add_parser("run", help="execute TestScripts (JSON or XML files or folders)")
    r.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    add_sut_options(r)
    r.add_argument(
        "--fixtures-map",
        type=Path,
        metavar="FILE",
        help="YAML: fixtures: {reference: local path} for fixtures not kept with the scripts",
    )
    r.add_argument(
        "--package",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="FHIR package .tgz for validateProfileId (repeatable; default: installed packs)",
    )
    r.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
    r.add_argument("--lang", choices=["da", "en"], default="da")
    r.add_argument("--tester", default="", help="who performs the test (report header)")
    r.set_defaults(func=run)


def load_scripts(paths: list[Path]) -> list[Script]:
    """Every script, or UsageProblem naming each file that is not a usable TestScript."""
    try:
        found = discover(paths)
    except ScriptError as exc:
        raise UsageProblem(str(exc)) from None
    if not found:
        raise UsageProblem("no TestScript files found in " + ", ".join(str(p) for p in paths))
    scripts, problems = [], []
    for path, root in found:
        try:
            scripts.append(load_script(path, root))
        except ScriptError as exc:
            problems.append(str(exc))
    if problems:
        raise UsageProblem("; ".join(problems))
    return scripts


def _profiles(packages: list[Path]) -> ProfileSource:
    missing = [str(p) for p in packages if not p.is_file()]
    if missing:
        raise UsageProblem(f"--package: no such file: {', '.join(missing)}")
    if packages:
        return ProfileSource.from_files(packages)
    try:
        return ProfileSource.from_store()
    except PackError as exc:
        raise UsageProblem(str(exc)) from None


def run(args: argparse.Namespace, console: Console) -> int:
    if not args.sut and not args.sut_config:
        raise UsageProblem("name a SUT: --sut reference or --sut-config FILE")
    choice = SutChoice(
        reference=args.sut == "reference",
        config_file=args.sut_config,
        defects=tuple(args.defect),
        transport=args.transport,
    )
    try:
        choice.validate()
    except (ValueError, UnknownDefect) as exc:
        raise UsageProblem(str(exc)) from None
    scripts = load_scripts(args.paths)
    try:
        fixture_map = FixtureMap.load(args.fixtures_map) if args.fixtures_map else FixtureMap()
    except SourceError as exc:
        raise UsageProblem(str(exc)) from None
    profiles = _profiles(args.package)
    options = RunOptions(tester=args.tester, lang=args.lang)
    for line in missing_fixtures(scripts, fixture_map).lines():
        console.print(escape(line), highlight=False)

    def show(protocol: Protocol, case: CaseResult) -> None:
        outcome = case.outcome
        reason = case.error or next((f.message for f in case.findings if f.is_problem), "")
        name = escape(f"{protocol.id} / {case.case.id}")
        line = f"[{COLOURS[outcome]}]{outcome.value:5}[/] {name}"
        console.print(line + (f"  {escape(reason)}" if reason else ""), highlight=False)

    try:
        outcome = run_session(choice, scripts, options, fixture_map, profiles, show)
    except ReferenceStartError as exc:
        raise UsageProblem(f"the reference LPS did not start: {exc}") from None
    except (SourceError, SutConfigError, TransportError) as exc:
        raise UsageProblem(str(exc)) from None
    try:
        run_dir = write(outcome, args.reports, args.lang)
    except OSError as exc:
        raise UsageProblem(
            f"cannot write the report under {args.reports}: {exc.strerror}"
        ) from None
    console.print(f"TestReports: {run_dir / FOLDER}", highlight=False)
    return conclude(outcome.run, run_dir, console)
