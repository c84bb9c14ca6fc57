"""`kcert testscript run PATH...`: execute FHIR TestScripts against a SUT, write TestReports."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.cli.certify import chosen_sut, conclude, read_waivers
from harness.cli.errors import UsageProblem
from harness.cli.runflow import open_store, reporting, run_and_report
from harness.packs.store import PackError
from harness.runner.engine import RunOptions
from harness.session import runpath
from harness.suite import suite_version
from harness.testscript.fixtures import FixtureMap
from harness.testscript.needs import missing_fixtures
from harness.testscript.profiles import ProfileSource
from harness.testscript.run import ScriptSuite
from harness.testscript.script import Script, ScriptError, discover, load_script
from harness.testscript.testreport import FOLDER
from harness.yamlsource import SourceError


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
    """The scripts through the one run path: recorded in the run store (runs list, resume,
    rejudge, diff), the kcert report, and a FHIR TestReport per script."""
    choice = chosen_sut(args)  # the one SUT model, checked as the run needs it
    scripts = load_scripts(args.paths)
    try:
        fixture_map = FixtureMap.load(args.fixtures_map) if args.fixtures_map else FixtureMap()
    except SourceError as exc:
        raise UsageProblem(str(exc)) from None
    profiles = _profiles(args.package)
    suite = ScriptSuite.of(scripts, fixture_map, profiles)
    waivers = read_waivers(args.waivers, suite.protocols)
    options = RunOptions(
        tester=args.tester,
        lang=args.lang,
        suite_version=suite_version().text(),
        packs=list(profiles.packs),
        evidence_budget=args.evidence_budget,
    )
    for line in missing_fixtures(scripts, fixture_map).lines():
        console.print(escape(line), highlight=False)
    store = open_store(args.store, args.reports)
    try:
        plan = runpath.RunPlan(choice, suite.protocols, options, scripts=suite)
        done = run_and_report(console, store, plan, reporting(console, args, waivers))
    finally:
        store.close()
    console.print(f"TestReports: {done.run_dir / FOLDER}", highlight=False)
    return conclude(done.run, done.run_dir, console)
