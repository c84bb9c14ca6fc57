"""`kcert certify`: run the protocols against a SUT and write the report."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from rich.console import Console

from harness.cli.progress import ProgressDisplay
from harness.fixtures import REPO_ROOT
from harness.loader.protocols import discover, load_all
from harness.model.outcome import Verdict
from harness.model.result import RunResult
from harness.reflps.defects import CATALOGUE, UnknownDefect, check_names
from harness.report.i18n import verdict_text
from harness.report.waivers import apply_waivers, load_waivers
from harness.report.writer import write_report
from harness.runner.engine import RunOptions
from harness.session import CertificationSession, SutChoice
from harness.sut.reference import ReferenceStartError
from harness.transport.base import TransportError
from harness.yamlsource import SourceError


class UsageProblem(Exception):
    """The command line asks for something kcert cannot do; exit 2 with this text."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("certify", help="run a certification against a SUT and write the report")
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--sut", choices=["reference"], help="start and test the embedded reference LPS"
    )
    target.add_argument("--sut-config", type=Path, help="YAML file describing the SUT")
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="start the reference LPS with a named defect (repeatable)",
    )
    p.add_argument("--list-defects", action="store_true", help="list reference LPS defects")
    p.add_argument(
        "--transport",
        choices=["http", "inprocess"],
        default="http",
        help="with --sut reference: real HTTP on loopback (default) or in-process",
    )
    p.add_argument(
        "--protocols",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="protocol file or folder (default: testcases/)",
    )
    p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
    p.add_argument("--lang", choices=["da", "en"], default="da")
    p.add_argument("--test-type", choices=["egentest", "endelig"], default="egentest")
    p.add_argument("--tester", default="", help="who performs the test (report header)")
    p.add_argument("--place", default="", help="test location (report header)")
    p.add_argument("--pdf", action="store_true", help="also write report.pdf (signed with the run)")
    p.add_argument("--waivers", type=Path, help="YAML register of accepted deviations")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.list_defects:
        for defect in CATALOGUE.values():
            console.print(f"{defect.name:32} {defect.da if args.lang == 'da' else defect.en}")
        return 0
    if not args.sut and not args.sut_config:
        raise UsageProblem("name a SUT: --sut reference or --sut-config FILE")
    if args.defect and not args.sut:
        raise UsageProblem("--defect works only with --sut reference")
    try:
        check_names(args.defect)
    except UnknownDefect as exc:
        raise UsageProblem(str(exc)) from None
    paths = [p for root in (args.protocols or [REPO_ROOT / "testcases"]) for p in discover(root)]
    if not paths:
        raise UsageProblem("no protocol files found")
    protocols, errors = load_all(paths)
    if errors:
        for err in errors:
            console.print(f"[red]collection error[/] {err}", highlight=False)
        raise UsageProblem(f"{len(errors)} protocol file(s) could not be collected")
    waivers = []
    if args.waivers:
        try:
            waivers = load_waivers(args.waivers)
        except SourceError as exc:
            raise UsageProblem(str(exc)) from None
    options = RunOptions(
        test_type=args.test_type, tester=args.tester, lang=args.lang, place=args.place
    )
    choice = SutChoice(
        reference=args.sut == "reference",
        config_file=args.sut_config,
        defects=tuple(args.defect),
        transport=args.transport,
    )
    session = CertificationSession(choice, listener=ProgressDisplay(console))
    try:
        result = session.runner().run(protocols, options)
    except ReferenceStartError as exc:
        raise UsageProblem(f"the reference LPS did not start: {exc}") from None
    except (SourceError, TransportError) as exc:
        raise UsageProblem(str(exc)) from None
    finally:
        session.close()
    apply_waivers(result, waivers, dt.date.today())
    try:
        with console.status("writing the report" + (" and report.pdf" if args.pdf else "") + " …"):
            run_dir = write_report(result, args.reports, args.lang, pdf=args.pdf)
    except OSError as exc:
        raise UsageProblem(
            f"cannot write the report under {args.reports}: {exc.strerror}"
        ) from None
    return _conclude(result, run_dir, console)


def _conclude(run: RunResult, run_dir: Path, console: Console) -> int:
    verdict = run.verdict
    text = verdict_text(verdict, run.lang)
    failing = [c for c in run.cases if any(f.blocking for f in c.findings)]
    colour = {Verdict.GODKENDT: "green", Verdict.FEJL: "magenta"}.get(verdict, "red")
    console.print(f"[bold {colour}]{text}[/]  ({len(run.cases)} test cases)", highlight=False)
    if run.error:
        console.print(f"reason: {run.error}", highlight=False)
    elif failing:
        names = ", ".join(f"{c.case.id} [{c.assessment.value}]" for c in failing)
        console.print(f"caught by: {names}", highlight=False)
    elif verdict is Verdict.FEJL:
        errored = [c for c in run.cases if c.error]
        console.print(f"reason: {errored[0].error if errored else 'error'}", highlight=False)
    console.print(f"report: {run_dir / 'index.html'}", highlight=False)
    return verdict.exit_code
