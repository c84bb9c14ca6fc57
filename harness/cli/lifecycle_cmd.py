"""`kcert resume RUN`, `kcert answer RUN`, `kcert rejudge RUN`: runs after their first pass."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rich.console import Console

from harness.cli.certify import add_common, conclude, read_answers, read_waivers, select_packs
from harness.cli.errors import UsageProblem
from harness.cli.prompter import ConsolePrompter
from harness.cli.runflow import (
    Execution,
    open_store,
    rebuild_run,
    recorded_cases,
    reload_protocols,
    report_and_record,
    stored_choice,
)
from harness.cli.words import say
from harness.dossier.signing import drop_signature
from harness.model.exchange import Exchange
from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult, SutInfo
from harness.model.scope import Scope
from harness.packs.store import PackStore
from harness.report.i18n import verdict_text
from harness.runner.attended import AnswerBook, AnswerSource, FirstOf, answered_step
from harness.runner.engine import RunOptions, now_iso
from harness.session.sut import SutChoice, SutChoiceError
from harness.store.codec import exchange_from_row
from harness.store.runstore import RunRow, RunStore, StoreError
from harness.suite import suite_version
from harness.sut.codec import replay_config
from harness.sut.config import SutConfig
from harness.transport.replay import ReplayTransport
from harness.yamlsource import SourceError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("resume", help="continue a run that stopped after its last finished case")
    r.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    r.add_argument("--answers", type=Path, help="YAML answers for manual steps still to come")
    add_common(r)
    r.set_defaults(func=run_resume)
    a = sub.add_parser("answer", help="record the tester's answers to a run's manual steps")
    a.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    a.add_argument("--answers", type=Path, help="YAML answers file (else: ask at the terminal)")
    a.add_argument(
        "--tester",
        default="",
        help="who answers, when the answers file names nobody (default: the run's operator)",
    )
    add_common(a)
    a.set_defaults(func=run_answer)
    j = sub.add_parser(
        "rejudge", help="judge a stored run's recorded exchanges again, without the SUT"
    )
    j.add_argument("run", help="run id, unique prefix, run folder or 'latest'")
    j.add_argument(
        "--pack", action="append", default=[], metavar="ID[@VERSION]", help="other pack set"
    )
    add_common(j)
    j.set_defaults(func=run_rejudge)


def _row(store: RunStore, ref: str) -> RunRow:
    try:
        return store.run(store.resolve(ref))
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None


def _lang(args: argparse.Namespace, row: RunRow) -> str:
    """The console's language: --lang en when given, else the run's own."""
    return str(args.lang) if args.lang != "da" else row.lang


def _options(row: RunRow, **changes: object) -> RunOptions:
    base = RunOptions(
        test_type=row.test_type,
        tester=row.tester,
        lang=row.lang,
        place=row.place,
        run_id=row.run_id,
        packs=list(row.packs),
        packs_chosen=True,
        parent_run=row.parent_run,
        relation=row.relation,
        suite_version=row.suite_version,
        selection=Scope.from_dict(row.sut.get("scope")).selection,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run_resume(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = _row(store, args.run)
        if row.status == "finished":
            raise UsageProblem(f"run {row.run_id} is finished; nothing to resume")
        now = suite_version().text()
        if now != row.suite_version:
            raise UsageProblem(
                f"run {row.run_id} began with suite {row.suite_version}, this is {now}: "
                "results would mix two suites"
            )
        protocols = reload_protocols(row, same_files=True)
        completed = recorded_cases(store, row.run_id, protocols)
        total = sum(len(p.cases) for p in protocols)
        console.print(
            say(_lang(args, row), "resuming", run=row.run_id, done=len(completed), total=total),
            highlight=False,
        )
        execution = Execution(
            console,
            store,
            stored_choice(row),
            protocols,
            _options(row),
            _resume_answers(store, row, protocols, args.answers),
            completed=completed,
            run_started=row.started,
            resumed=True,
        )
        result = execution.run()
        run_dir = report_and_record(
            console,
            store,
            result,
            args.reports,
            pdf=args.pdf,
            waivers=read_waivers(args.waivers, protocols),
        )
    finally:
        store.close()
    return conclude(result, run_dir, console)


def _resume_answers(
    store: RunStore, row: RunRow, protocols: list[Protocol], answers: Path | None
) -> AnswerBook:
    book = AnswerBook(store.answers(row.run_id))
    for answer in read_answers(answers, protocols, row.tester):
        book.add(answer)
    return book


def run_answer(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = _row(store, args.run)
        if row.status != "finished":
            raise UsageProblem(f"run {row.run_id} has not finished: kcert resume it first")
        protocols = reload_protocols(row, same_files=True)
        run = rebuild_run(store, row, protocols)
        pending = [(c, s) for c, s in run.pending_steps if s.step.manual]
        if not pending:
            console.print(say(_lang(args, row), "no_manual", run=row.run_id), highlight=False)
            return run.verdict.exit_code
        tester = args.tester or row.tester
        source: AnswerSource = AnswerBook(read_answers(args.answers, protocols, tester))
        if args.answers is None:
            if not sys.stdin.isatty():
                raise UsageProblem("give --answers FILE, or run kcert answer in a terminal")
            source = FirstOf(source, ConsolePrompter(console, tester, run.lang))
        by_id = {p.protocol.id: p.protocol for p in run.protocols}
        versions = {p.id: p.version for p in protocols}
        answered = 0
        for case, step in pending:
            answer = source.answer(by_id[case.protocol_id], case.case, step.step)
            if answer is None:
                continue
            case.steps[case.steps.index(step)] = answered_step(step.step, answer)
            store.record_case(row.run_id, 0, case, versions[case.protocol_id])
            answered += 1
        console.print(
            say(_lang(args, row), "answered", n=answered, total=len(pending)), highlight=False
        )
        run.finished = now_iso()
        reports = Path(row.run_dir).parent if row.run_dir else args.reports
        _drop_signature(reports / run.run_id, console, _lang(args, row))
        run_dir = report_and_record(
            console,
            store,
            run,
            reports,
            pdf=args.pdf,
            waivers=read_waivers(args.waivers, protocols),
        )
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None
    finally:
        store.close()
    return conclude(run, run_dir, console)


def _drop_signature(run_dir: Path, console: Console, lang: str) -> None:
    if drop_signature(run_dir):
        console.print(say(lang, "signature_dropped", run=run_dir), highlight=False)


def run_rejudge(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = _row(store, args.run)
        protocols = reload_protocols(row, same_files=False)
        stored = store.cases(row.run_id)
        recorded: dict[tuple[str, str], list[Exchange]] = {}
        started: dict[tuple[str, str], str] = {}
        for case in stored:
            key = (case.protocol_id, case.case_id)
            started[key] = case.started
            recorded[key] = [
                exchange_from_row(e)
                for step in case.steps
                for e in case.exchanges.get(str(step["id"]), [])
            ]
        installed = {p.sha256 for p in PackStore().installed()}
        gone = [f"{p['id']} {p['version']}" for p in row.packs if p["sha256"] not in installed]
        if gone and not args.pack:
            console.print(
                say(_lang(args, row), "packs_gone", packs=", ".join(gone)), highlight=False
            )
        replay = ReplayTransport(_replay_config(row), recorded)
        options = RunOptions(
            test_type=row.test_type,
            tester=row.tester,
            lang=args.lang if args.lang != "da" else row.lang,
            place=row.place,
            seed_run_id=row.run_id,
            packs=select_packs(args.pack, False) if args.pack else list(row.packs),
            packs_chosen=True,
            parent_run=row.run_id,
            relation="rejudge",
            suite_version=suite_version().text(),
            selection=Scope.from_dict(row.sut.get("scope")).selection,
        )
        # Only the cases the recorded run reached can be judged again.
        in_scope = [
            dataclasses.replace(p, cases=tuple(c for c in p.cases if (p.id, c.id) in started))
            for p in protocols
        ]
        execution = Execution(
            console,
            store,
            stored_choice(row),
            [p for p in in_scope if p.cases],
            options,
            AnswerBook(store.answers(row.run_id)),
            started=started,
            replay=replay,
        )
        result = execution.run()
        run_dir = report_and_record(
            console,
            store,
            result,
            args.reports,
            pdf=args.pdf,
            waivers=read_waivers(args.waivers, protocols),
        )
    finally:
        store.close()
    _compare(console, row, result, replay)
    return conclude(result, run_dir, console)


def _replay_config(row: RunRow) -> SutConfig:
    """The SUT as recorded (`harness.sut.codec.replay_config`), with the manual settings of
    its configuration if that still reads (credentials are not needed to re-judge)."""
    configured = None
    try:
        choice = SutChoice.from_stored(row.choice)
        if not choice.reference:
            configured = choice.configured(credentials=False)
    except (SutChoiceError, SourceError):
        configured = None
    scope = Scope.from_dict(row.sut.get("scope"))
    return replay_config(SutInfo.from_dict(row.sut), scope.capabilities, configured)


def _compare(console: Console, row: RunRow, result: RunResult, replay: ReplayTransport) -> None:
    before = row.verdict
    after = result.verdict.value
    lang = result.lang
    if before == after:
        text = verdict_text(result.verdict, lang)
        console.print(say(lang, "same_verdict", run=row.run_id, verdict=text), highlight=False)
    else:
        if before in {v.value for v in Verdict}:  # an unfinished run has no verdict word
            before = verdict_text(Verdict(before), lang)
        after = verdict_text(result.verdict, lang)
        console.print(
            say(lang, "verdict_changed", before=before, run=row.run_id, after=after),
            highlight=False,
        )
    if replay.body_differences:
        console.print(
            say(lang, "differ", n=len(replay.body_differences), first=replay.body_differences[0]),
            highlight=False,
            markup=False,
        )
    errored = [c.case.id for c in result.cases if c.outcome is Outcome.ERROR]
    if errored:
        console.print(say(lang, "not_rejudged", cases=", ".join(errored)), highlight=False)
