"""`kcert resume RUN`, `kcert answer RUN`, `kcert rejudge RUN`: runs after their first pass."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from harness.cli.certify import conclude, read_answers, read_waivers, select_packs
from harness.cli.errors import UsageProblem
from harness.cli.prompter import ConsolePrompter
from harness.cli.runflow import open_store, reporting, run_and_report, translated
from harness.cli.words import say
from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.packs.store import PackStore
from harness.report.i18n import verdict_text
from harness.runner.attended import AnswerBook, AnswerSource, FirstOf
from harness.session import runpath
from harness.store.runstore import RunRow, RunStore
from harness.suite import suite_version
from harness.transport.replay import ReplayTransport


def _row(store: RunStore, ref: str) -> RunRow:
    with translated():
        return runpath.find_run(store, ref)


def _lang(args: argparse.Namespace, row: RunRow) -> str:
    """The console's language: --lang en when given, else the run's own."""
    return str(args.lang) if args.lang != "da" else row.lang


def run_resume(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = _row(store, args.run)
        with translated():
            plan = runpath.resume_plan(
                store,
                row,
                suite_version().text(),
                lambda protocols: read_answers(args.answers, protocols, row.tester),
            )
        total = sum(len(p.cases) for p in plan.protocols)
        console.print(
            say(
                _lang(args, row),
                "resuming",
                run=row.run_id,
                done=len(plan.completed),
                total=total,
            ),
            highlight=False,
        )
        waivers = read_waivers(args.waivers, plan.protocols)
        done = run_and_report(console, store, plan, reporting(console, args, waivers))
    finally:
        store.close()
    return conclude(done.run, done.run_dir, console)


def run_answer(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = _row(store, args.run)
        tester = args.tester or row.tester

        def source(protocols: list[Protocol]) -> AnswerSource:
            found: AnswerSource = AnswerBook(read_answers(args.answers, protocols, tester))
            if args.answers is None:
                if not sys.stdin.isatty():
                    raise UsageProblem("give --answers FILE, or run kcert answer in a terminal")
                found = FirstOf(found, ConsolePrompter(console, tester, row.lang))
            return found

        with translated():
            done = runpath.answer_run(
                store,
                row,
                source,
                reporting(console, args, []),
                lambda protocols: read_waivers(args.waivers, protocols),
            )
    finally:
        store.close()
    lang = _lang(args, row)
    if done.outcome is None:
        console.print(say(lang, "no_manual", run=row.run_id), highlight=False)
        return done.run.verdict.exit_code
    console.print(say(lang, "answered", n=done.answered, total=done.pending), highlight=False)
    if done.signature_dropped:
        console.print(say(lang, "signature_dropped", run=done.outcome.run_dir), highlight=False)
    return conclude(done.run, done.outcome.run_dir, console)


def run_rejudge(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = _row(store, args.run)
        installed = {p.sha256 for p in PackStore().installed()}
        gone = [f"{p['id']} {p['version']}" for p in row.packs if p["sha256"] not in installed]
        if gone and not args.pack:
            console.print(
                say(_lang(args, row), "packs_gone", packs=", ".join(gone)), highlight=False
            )
        packs = select_packs(args.pack, False) if args.pack else None
        with translated():
            plan = runpath.rejudge_plan(
                store, row, suite_version().text(), packs, args.lang if args.lang != "da" else ""
            )
        waivers = read_waivers(args.waivers, plan.protocols)
        done = run_and_report(console, store, plan, reporting(console, args, waivers))
    finally:
        store.close()
    assert plan.replay is not None
    _compare(console, row, done.run, plan.replay)
    return conclude(done.run, done.run_dir, console)


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
