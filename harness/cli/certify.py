"""`kcert certify`: run the protocols against a SUT, record every case, write the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.cli.errors import UsageProblem
from harness.cli.prompter import ConsolePrompter
from harness.cli.runflow import open_store, reporting, run_and_report
from harness.cli.words import not_run_note, say
from harness.fixtures import REPO_ROOT
from harness.loader.answers import load_answers
from harness.loader.protocols import discover, load_all
from harness.loader.select import SelectionError, select_cases, selection_text
from harness.model.answer import ManualAnswer
from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.packs.store import PackStore
from harness.reflps.defects import CATALOGUE
from harness.report.i18n import outcome_text, scope_text, verdict_text
from harness.report.waivers import Waiver, load_waivers
from harness.runner.attended import AnswerBook, AnswerSource, FirstOf, manual_steps
from harness.runner.engine import RunOptions
from harness.session import SutChoice, runpath
from harness.session.sut import SutChoiceError
from harness.suite import SuiteVersion, suite_version
from harness.yamlsource import SourceError

__all__ = ["UsageProblem", "conclude", "run"]


def run(args: argparse.Namespace, console: Console) -> int:
    if args.list_defects:
        for defect in CATALOGUE.values():
            console.print(f"{defect.name:32} {defect.da if args.lang == 'da' else defect.en}")
        return 0
    choice = chosen_sut(args)
    suite_protocols = collect(args.protocols or [REPO_ROOT / "testcases"], console)
    try:
        protocols = select_cases(suite_protocols, args.case, args.requirement)
    except SelectionError as exc:
        raise UsageProblem(str(exc)) from None
    waivers = read_waivers(args.waivers, suite_protocols)
    # an answers file may answer more than a selection runs
    book = AnswerBook(read_answers(args.answers, suite_protocols, args.tester))
    packs = select_packs(args.pack, args.no_packs)
    suite = suite_version()
    if args.test_type == "endelig":
        refuse_unready_final(args, protocols, book, packs, suite)
    answers: AnswerSource = book
    if args.interactive:
        if not sys.stdin.isatty():
            raise UsageProblem("--interactive needs a terminal; use --answers FILE instead")
        answers = FirstOf(book, ConsolePrompter(console, args.tester, args.lang))
    options = RunOptions(
        test_type=args.test_type,
        tester=args.tester,
        lang=args.lang,
        place=args.place,
        packs=packs,
        packs_chosen=True,
        suite_version=suite.text(),
        selection=selection_text(args.case, args.requirement),
        strict_cpr=args.strict_cpr,
        evidence_budget=args.evidence_budget,
    )
    store = open_store(args.store, args.reports)
    try:
        plan = runpath.RunPlan(choice, protocols, options, answers, preset=book.preset)
        done = run_and_report(console, store, plan, reporting(console, args, waivers))
    finally:
        store.close()
    return conclude(done.run, done.run_dir, console)


def chosen_sut(args: argparse.Namespace) -> SutChoice:
    """The SUT the arguments name, checked as a run needs it (configuration, credentials)."""
    if not args.sut and not args.sut_config:
        raise UsageProblem("name a SUT: --sut reference or --sut-config FILE")
    try:
        return SutChoice.from_options(args.sut, args.sut_config, args.defect, args.transport)
    except (SutChoiceError, SourceError) as exc:
        raise UsageProblem(str(exc)) from None


def collect(roots: list[Path], console: Console) -> list[Protocol]:
    paths = [p for root in roots for p in discover(root)]
    if not paths:
        raise UsageProblem("no protocol files found")
    protocols, errors = load_all(paths)
    if errors:
        for err in errors:
            console.print(f"[red]collection error[/] {err}", highlight=False)
        raise UsageProblem(f"{len(errors)} protocol file(s) could not be collected")
    return protocols


def read_waivers(path: Path | None, protocols: list[Protocol] | None = None) -> list[Waiver]:
    if path is None:
        return []
    try:
        return load_waivers(path, protocols)
    except SourceError as exc:
        raise UsageProblem(str(exc)) from None


def read_answers(path: Path | None, protocols: list[Protocol], tester: str) -> list[ManualAnswer]:
    if path is None:
        return []
    try:
        return load_answers(path, protocols, tester)
    except SourceError as exc:
        raise UsageProblem(str(exc)) from None


def select_packs(wanted: list[str], none: bool) -> list[dict[str, str]]:
    """The pack set of a run: as named, none when so stated, else every installed pack."""
    if none and wanted:
        raise UsageProblem("--no-packs and --pack contradict each other")
    store = PackStore()
    if none:
        return []
    if not wanted:
        return [p.summary() for p in store.installed()]
    chosen = []
    for text in wanted:
        pack_id, _, version = text.partition("@")
        pack = store.find(pack_id, version or None)
        if pack is None:
            raise UsageProblem(
                f"pack {text} is not installed in {store.root} (kcert packs list shows what is)"
            )
        problems = store.verify(pack)
        if problems:
            raise UsageProblem(f"pack {pack.id} {pack.version} fails its hashes: {problems[0]}")
        chosen.append(pack.summary())
    return chosen


def refuse_unready_final(
    args: argparse.Namespace,
    protocols: list[Protocol],
    book: AnswerBook,
    packs: list[dict[str, str]],
    suite: SuiteVersion,
) -> None:
    """A final certification starts only when its record can be complete and exact."""
    reasons = []
    if not args.tester.strip():
        reasons.append("name the tester with --tester")
    unanswered = [
        f"{c.id} step {s.id}" for p, c, s in manual_steps(protocols) if book.answer(p, c, s) is None
    ]
    if unanswered and not args.interactive:
        reasons.append(
            f"answer every manual step (--answers FILE or --interactive); unanswered: "
            f"{', '.join(unanswered[:5])}{' …' if len(unanswered) > 5 else ''}"
        )
    if not suite.commit:
        reasons.append("run from a git checkout of kcert, so the suite version is exact")
    elif suite.dirty:
        reasons.append(
            f"the suite tree is not clean ({len(suite.dirty)} changed file(s), e.g. "
            f"{suite.dirty[0]}): commit or stash them"
        )
    if not args.pack and not args.no_packs:
        reasons.append("name the pack set with --pack ID@VERSION (or --no-packs)")
    if args.sut and args.defect:
        reasons.append("a final certification runs the reference LPS without defects")
    if reasons:
        raise UsageProblem("endelig (final certification) refused: " + "; ".join(reasons))


def conclude(run: RunResult, run_dir: Path, console: Console) -> int:
    """The verdict line and what follows it, in the run's language; returns the exit code."""
    verdict, lang = run.verdict, run.lang
    text = verdict_text(verdict, lang)
    failing = [c for c in run.cases if any(f.blocking for f in c.findings)]
    colour = {Verdict.GODKENDT: "green", Verdict.FEJL: "magenta", Verdict.AFVENTER: "yellow"}
    outside = len(run.cases) - len(run.in_scope)
    console.print(
        f"[bold {colour.get(verdict, 'red')}]{text}[/]  ({say(lang, 'cases', n=len(run.cases))}"
        + (f", {outside} {outcome_text(Outcome.NOT_IN_SCOPE, lang).lower()}" if outside else "")
        + ")",
        highlight=False,
    )
    if run.scope.declared or run.scope.selection:
        console.print(f"scope: {scope_text(run.scope, run.lang)}", highlight=False)
    if run.scope.note:
        console.print(f"[yellow]note:[/] {run.scope.note}", highlight=False)
    if run.error:
        console.print(say(lang, "reason", text=run.error), highlight=False, markup=False)
    elif failing:
        scoped = {p.protocol.id for p in run.protocols if p.protocol.shares_state}
        names = ", ".join(
            f"{c.protocol_id + '/' if c.protocol_id in scoped else ''}{c.case.id} "
            f"[{c.assessment.value}]"
            for c in failing
        )
        console.print(say(lang, "caught_by", names=names), highlight=False, markup=False)
    elif verdict is Verdict.FEJL:
        errored = [c for c in run.cases if c.error]
        reason = errored[0].error if errored else verdict_text(verdict, lang)
        console.print(say(lang, "reason", text=reason), highlight=False, markup=False)
    gaps = sorted({f.message for c in run.cases for f in c.findings if f.rule_id == "PACK-MISSING"})
    for gap in gaps:
        console.print(
            f"[yellow]{escape(not_run_note(gap, lang))}[/] {say(lang, 'pack_hint')}",
            highlight=False,
        )
    pending = run.pending_steps
    if pending:
        steps = ", ".join(say(lang, "step", case=c.case.id, step=s.step.id) for c, s in pending)
        console.print(say(lang, "awaiting", steps=steps), highlight=False, markup=False)
        console.print(say(lang, "answer_with", run=run.run_id), highlight=False, markup=False)
    console.print(say(lang, "report", path=run_dir / "index.html"), highlight=False, markup=False)
    return verdict.exit_code
