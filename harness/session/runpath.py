"""The one run path below the front doors: open the store, run, apply waivers, record, write
every report, the manifest and optionally the PDF and the signature.

`kcert certify`, `testscript run`, `resume`, `answer` and `rejudge` and the pytest plugin's
session finish all come through here; they differ only in what they hand over (a `RunPlan`:
which SUT, protocols or TestScripts, completed cases, a replay) and in how they show
progress (the listener they pass). Everything that can go wrong on the way is a
`RunPathError` with a message fit for the tester; the front doors translate it (the CLI: exit
2 with the text), none of them sees a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.dates import now_iso
from harness.dossier.signing import drop_signature, sign
from harness.loader.protocols import load_all
from harness.model.answer import ManualAnswer
from harness.model.protocol import Protocol
from harness.model.result import CaseResult, RunResult, SutInfo
from harness.model.scope import Scope
from harness.report.signature_page import write_signature_page
from harness.report.waivers import Waiver, apply_waivers
from harness.report.writer import write_report
from harness.runner.attended import AnswerBook, AnswerSource, answered_step
from harness.runner.engine import RunOptions, StepSettings, kept_on_resume
from harness.runner.events import Listener
from harness.session.core import CertificationSession
from harness.session.sut import SutChoice, SutChoiceError
from harness.store.codec import StoreMismatch
from harness.store.rebuild import rebuild_run, recorded_cases, recorded_exchanges
from harness.store.recorder import StoreRecorder
from harness.store.runstore import RunRow, RunStore, StoreError, default_url
from harness.sut.codec import replay_config as recorded_config
from harness.sut.config import SutConfig, SutConfigError
from harness.sut.reference import ReferenceStartError
from harness.testscript.run import KIND as TESTSCRIPT
from harness.testscript.run import ScriptSuite, write_testreports
from harness.testscript.script import ScriptError
from harness.transport.base import TransportError
from harness.transport.peer import PeerError
from harness.transport.replay import ReplayTransport
from harness.yamlsource import SourceError

CaseKey = tuple[str, str]


class RunPathError(Exception):
    """The run cannot go on; the message says why, in words for the tester."""


class StoreProblem(RunPathError):
    """The run store cannot be opened, read or written."""


class ProtocolsChanged(RunPathError):
    """A stored run's protocol files are gone, no longer load or no longer fit its record."""


class SutUnavailable(RunPathError):
    """The SUT could not be set up: the reference LPS did not start, a configuration or a
    peer address is unusable, the SUT does not answer at all."""


class ReportUnwritable(RunPathError):
    """The report folder cannot be written."""


class RunStateProblem(RunPathError):
    """The stored run is not in a state for what was asked (resume a finished run …)."""


# -- the plan a front door hands over ------------------------------------------------------------


@dataclass
class RunPlan:
    """What to run: a SUT, protocols (TestScripts among them through `scripts`), and for a
    run after its first pass what is already recorded or the replay that stands in for the
    SUT."""

    choice: SutChoice
    protocols: list[Protocol]
    options: RunOptions
    answers: AnswerSource | None = None
    preset: list[ManualAnswer] = field(default_factory=list)  # answers given before the run
    scripts: ScriptSuite | None = None
    completed: dict[CaseKey, CaseResult] = field(default_factory=dict)
    started: dict[CaseKey, str] = field(default_factory=dict)
    run_started: str = ""
    resumed: bool = False
    replay: ReplayTransport | None = None
    # per step: headers on kcert's requests and the peer the SUT sends to (a connectathon
    # instance's steps between roles); None: every step as the run's
    step_settings: StepSettings | None = None
    headers: dict[str, str] = field(default_factory=dict)  # on every request to the SUT


@dataclass
class Reporting:
    """Where and how the run's reports are written."""

    reports: Path
    pdf: bool = False
    waivers: list[Waiver] = field(default_factory=list)
    sign_key: Path | None = None  # sign the manifest at once (else later: `kcert sign`)
    signer: str = ""
    # the front door's "writing the report …" indicator, given the run's language
    writing: Callable[[RunResult], AbstractContextManager[Any]] = lambda run: (
        contextlib.nullcontext()
    )


@dataclass
class Outcome:
    run: RunResult
    run_dir: Path


# -- the path ------------------------------------------------------------------------------------


def open_store(url: str | None, reports: Path) -> RunStore:
    try:
        reports.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportUnwritable(f"cannot write the report under {reports}: {exc.strerror}") from None
    try:
        return RunStore(url or default_url(reports))
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None


def run_and_report(
    store: RunStore,
    plan: RunPlan,
    reporting: Reporting,
    listener: Listener | None = None,
    on_sut: Callable[[SutConfig], None] | None = None,
) -> Outcome:
    """The whole path: run (recording each case as it finishes), then `finish`."""
    run = execute(store, plan, listener, on_sut)
    return Outcome(run, finish(run, reporting, store, plan.scripts))


def execute(
    store: RunStore,
    plan: RunPlan,
    listener: Listener | None = None,
    on_sut: Callable[[SutConfig], None] | None = None,
) -> RunResult:
    """One pass of the runner over the SUT (or the replay), recording into the store.

    `listener` is the front door's progress display; `on_sut` is told the SUT's
    configuration once it is up (where a configured peer listens)."""
    recorder = StoreRecorder(
        store,
        plan.protocols,
        plan.choice.to_stored(),
        protocol_files(plan.protocols, plan.scripts),
        then=listener,
        resumed=plan.resumed,
        preset=list(plan.preset),
    )
    options = plan.options
    if plan.scripts is not None and not options.packs:
        # what validateProfileId validated against is the run's pack set
        options = dataclasses.replace(options, packs=list(plan.scripts.suite.profiles.packs))
    session = CertificationSession(
        plan.choice,
        listener=recorder,
        answers=plan.answers,
        replay=plan.replay,
        headers=dict(plan.headers),
    )
    try:
        with _translated():
            runner = session.runner()
            runner.step_settings = plan.step_settings
            if plan.scripts is not None:
                runner.context.update(plan.scripts.context)
            if on_sut is not None and plan.replay is None:
                on_sut(runner.sut)
            return runner.run(
                plan.protocols, options, plan.completed, plan.started, plan.run_started
            )
    finally:
        session.close()


LOAD_PROFILE = "load-profile"  # a run row's protocol file that is a load profile (a load run)
QUALITY_CATALOGUE = "quality-catalogue"  # … a data-quality catalogue (a `kcert quality` run)


def record_and_finish(
    store: RunStore,
    run: RunResult,
    reporting: Reporting,
    choice: dict[str, Any],
    kind: str,
) -> Path:
    """A run made outside the runner (a load run: Locust ran it, kcert judged it; a
    data-quality run): its row begun, each case recorded in its own transaction (as
    `StoreRecorder` does), then `finish`. `choice` is the run row's SUT choice, `kind` its
    protocol files' kind (LOAD_PROFILE, QUALITY_CATALOGUE), so resume and rejudge refuse it
    with the reason."""
    versions = {p.protocol.id: p.protocol.version for p in run.protocols}
    files = [
        {
            "path": p.protocol.source.file,
            "id": p.protocol.id,
            "version": p.protocol.version,
            "sha256": p.protocol.sha256,
            "standard": p.protocol.standard,
            "capability": p.protocol.capability,
            "direction": "",
            "cases": [c.id for c in p.protocol.cases],
            "kind": kind,
        }
        for p in run.protocols
    ]
    try:
        store.begin_run(run, choice, files)
        for seq, case in enumerate(run.cases):
            store.record_case(run.run_id, seq, case, versions.get(case.protocol_id, ""))
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None
    return finish(run, reporting, store)


def finish(
    run: RunResult,
    reporting: Reporting,
    store: RunStore | None = None,
    scripts: ScriptSuite | None = None,
) -> Path:
    """Waivers, every report (TestReports first, so the manifest covers them), the store's
    run row marked finished, and the signature when asked for. Returns the run folder."""
    apply_waivers(run, reporting.waivers, dt.date.today())
    run_dir = reporting.reports / run.run_id
    try:
        with reporting.writing(run):
            if scripts is not None:
                write_testreports(scripts.testreports(run), run_dir)
            run_dir = write_report(run, reporting.reports, run.lang, pdf=reporting.pdf)
    except OSError as exc:
        raise ReportUnwritable(
            f"cannot write the report under {reporting.reports}: {exc.strerror}"
        ) from None
    if store is not None:
        try:
            store.finish_run(run, run_dir)
        except StoreError as exc:
            raise StoreProblem(str(exc)) from None
    if reporting.sign_key is not None:
        try:
            sign(run_dir, reporting.sign_key, reporting.signer)
            write_signature_page(run_dir, run.lang)
        except (OSError, ValueError) as exc:
            raise ReportUnwritable(f"cannot sign {run_dir}: {exc}") from None
    return run_dir


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """The session's and the SUT's failures, as the run path's errors."""
    try:
        yield
    except ReferenceStartError as exc:
        raise SutUnavailable(f"the reference LPS did not start: {exc}") from None
    except (SourceError, SutChoiceError, SutConfigError, TransportError, PeerError) as exc:
        raise SutUnavailable(str(exc)) from None
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None


# -- what the store keeps of the protocols, and reading it back ----------------------------------


def protocol_files(
    protocols: list[Protocol], scripts: ScriptSuite | None = None
) -> list[dict[str, Any]]:
    """The run row's protocol files: path and SHA-256 (resume refuses a changed one), the
    cases the run covers, and for a TestScript what rebuilds its suite."""
    extra = {}
    if scripts is not None:
        extra = {p.id: e for p, e in zip(scripts.protocols, scripts.files(), strict=True)}
    return [
        {
            "path": str(Path(p.source.file).resolve()),
            "id": p.id,
            "version": p.version,
            "sha256": p.sha256,
            "standard": p.standard,
            "capability": p.capability,
            "direction": p.needs.direction,
            # the cases this run covers (a --case/--requirement selection): resume keeps to them
            "cases": [c.id for c in p.cases],
            **extra.get(p.id, {}),
        }
        for p in protocols
    ]


def choice_from(row: RunRow) -> SutChoice:
    """The SUT a recorded run tested (`SutChoice.from_stored`); a record that no longer
    names one this kcert can test is `SutUnavailable`."""
    try:
        return SutChoice.from_stored(row.choice)
    except SutChoiceError as exc:
        raise SutUnavailable(f"run {row.run_id}: {exc}") from None


@dataclass
class Reloaded:
    protocols: list[Protocol]
    scripts: ScriptSuite | None = None


def reload_protocols(row: RunRow, *, same_files: bool) -> Reloaded:
    """The run's protocol files (YAML protocols and TestScripts), loaded again;
    `same_files` insists they are unchanged."""
    if any(p.get("kind") == LOAD_PROFILE for p in row.protocols):
        raise RunStateProblem(
            f"run {row.run_id} is a load run: Locust measured it, no exchanges were recorded "
            "to judge again or continue; run kcert load run again"
        )
    if any(p.get("kind") == QUALITY_CATALOGUE for p in row.protocols):
        raise RunStateProblem(
            f"run {row.run_id} is a data-quality run: it scored clinic extracts, no exchanges "
            "were recorded to judge again or continue; run kcert quality score again"
        )
    paths = [Path(p["path"]) for p in row.protocols]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ProtocolsChanged(
            f"protocol file(s) of run {row.run_id} are gone: {', '.join(missing)}"
        )
    entries = [p for p in row.protocols if p.get("kind") == TESTSCRIPT]
    plain = [Path(p["path"]) for p in row.protocols if p.get("kind") != TESTSCRIPT]
    protocols, errors = load_all(plain) if plain else ([], [])
    if errors:
        raise ProtocolsChanged(f"protocol file(s) of run {row.run_id} no longer load: {errors[0]}")
    scripts = None
    if entries:
        try:
            scripts = ScriptSuite.from_files(entries)
        except ScriptError as exc:
            raise ProtocolsChanged(
                f"TestScript file(s) of run {row.run_id} no longer load: {exc}"
            ) from None
        protocols = [*protocols, *scripts.protocols]
        order = {str(p["id"]): i for i, p in enumerate(row.protocols)}
        protocols.sort(key=lambda p: order.get(p.id, len(order)))
    chosen = {p["id"]: set(p["cases"]) for p in row.protocols if "cases" in p}
    protocols = [
        dataclasses.replace(p, cases=tuple(c for c in p.cases if c.id in chosen[p.id]))
        if p.id in chosen
        else p
        for p in protocols
    ]
    if same_files:
        recorded = {p["id"]: p["sha256"] for p in row.protocols}
        for p in protocols:
            if recorded.get(p.id) != p.sha256:
                raise ProtocolsChanged(
                    f"{p.source.file} changed since run {row.run_id} began "
                    f"(sha256 {recorded.get(p.id, '?')[:12]}… → {p.sha256[:12]}…): "
                    "results would mix two suites; start a new run instead"
                )
    return Reloaded(protocols, scripts)


def find_run(store: RunStore, ref: str) -> RunRow:
    try:
        return store.run(store.resolve(ref))
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None


def recorded(store: RunStore, row: RunRow, protocols: list[Protocol]) -> dict[CaseKey, CaseResult]:
    try:
        return recorded_cases(store, row.run_id, protocols)
    except StoreMismatch as exc:
        raise ProtocolsChanged(str(exc)) from None
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None


def stored_run(store: RunStore, row: RunRow, protocols: list[Protocol]) -> RunResult:
    try:
        return rebuild_run(store, row, protocols)
    except StoreMismatch as exc:
        raise ProtocolsChanged(str(exc)) from None
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None


# -- runs after their first pass -----------------------------------------------------------------


def row_options(row: RunRow, **changes: Any) -> RunOptions:
    """The options a stored run ran with (its id, type, packs, selection)."""
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
    return dataclasses.replace(base, **changes)


def resume_plan(
    store: RunStore,
    row: RunRow,
    suite_now: str,
    more_answers: Callable[[list[Protocol]], list[ManualAnswer]] = lambda protocols: [],
) -> RunPlan:
    """A run that stopped: the same protocol files (unchanged) and suite, its recorded cases
    kept, its answers with those given now."""
    if row.status == "finished":
        raise RunStateProblem(f"run {row.run_id} is finished; nothing to resume")
    if suite_now != row.suite_version:
        raise RunStateProblem(
            f"run {row.run_id} began with suite {row.suite_version}, this is {suite_now}: "
            "results would mix two suites"
        )
    loaded = reload_protocols(row, same_files=True)
    book = AnswerBook(store.answers(row.run_id))
    for answer in more_answers(loaded.protocols):
        book.add(answer)
    return RunPlan(
        choice_from(row),
        loaded.protocols,
        row_options(row),
        book,
        preset=book.preset,
        scripts=loaded.scripts,
        completed=kept_on_resume(loaded.protocols, recorded(store, row, loaded.protocols)),
        run_started=row.started,
        resumed=True,
    )


def rejudge_plan(
    store: RunStore,
    row: RunRow,
    suite_now: str,
    packs: list[dict[str, str]] | None = None,
    lang: str = "",
) -> RunPlan:
    """The current protocols judged again on the recorded exchanges (a replay, no SUT): the
    renderer seeded with the recorded run's id and case start times sends the same bytes."""
    loaded = reload_protocols(row, same_files=False)
    try:
        exchanges, started = recorded_exchanges(store, row.run_id)
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None
    options = RunOptions(
        test_type=row.test_type,
        tester=row.tester,
        lang=lang or row.lang,
        place=row.place,
        seed_run_id=row.run_id,
        packs=list(row.packs) if packs is None else packs,
        packs_chosen=True,
        parent_run=row.run_id,
        relation="rejudge",
        suite_version=suite_now,
        selection=Scope.from_dict(row.sut.get("scope")).selection,
    )
    # Only the cases the recorded run reached can be judged again.
    in_scope = [
        dataclasses.replace(p, cases=tuple(c for c in p.cases if (p.id, c.id) in started))
        for p in loaded.protocols
    ]
    book = AnswerBook(store.answers(row.run_id))
    return RunPlan(
        choice_from(row),
        [p for p in in_scope if p.cases],
        options,
        book,
        preset=book.preset,
        scripts=loaded.scripts,
        started=started,
        replay=ReplayTransport(replay_config(row), exchanges),
    )


def replay_config(row: RunRow) -> SutConfig:
    """The SUT as recorded (`harness.sut.codec.replay_config`): its identity and (redacted)
    endpoints, the recorded run's scope however it was declared (the replayed health says
    nothing), the manual settings of its configuration if that still reads (credentials are
    not needed to re-judge)."""
    configured = None
    try:
        choice = SutChoice.from_stored(row.choice)
        if not choice.reference:
            configured = choice.configured(credentials=False)
    except (SutChoiceError, SourceError, SutConfigError):
        configured = None
    scope = Scope.from_dict(row.sut.get("scope"))
    return recorded_config(SutInfo.from_dict(row.sut), scope.capabilities, configured)


@dataclass
class Answered:
    outcome: Outcome | None  # None: nothing was pending
    run: RunResult
    answered: int = 0
    pending: int = 0
    signature_dropped: bool = False


def answer_run(
    store: RunStore,
    row: RunRow,
    source: Callable[[list[Protocol]], AnswerSource],
    reporting: Reporting,
    waivers: Callable[[list[Protocol]], list[Waiver]] = lambda protocols: [],
) -> Answered:
    """The tester's answers to a finished run's manual steps, recorded case by case; the
    report is written again (and its old signature dropped: it no longer fits)."""
    if row.status != "finished":
        raise RunStateProblem(f"run {row.run_id} has not finished: kcert resume it first")
    loaded = reload_protocols(row, same_files=True)
    run = stored_run(store, row, loaded.protocols)
    pending = [(c, s) for c, s in run.pending_steps if s.step.manual]
    if not pending:
        return Answered(None, run)
    answers = source(loaded.protocols)
    by_id = {p.protocol.id: p.protocol for p in run.protocols}
    versions = {p.id: p.version for p in loaded.protocols}
    answered = 0
    try:
        for case, step in pending:
            answer = answers.answer(by_id[case.protocol_id], case.case, step.step)
            if answer is None:
                continue
            case.steps[case.steps.index(step)] = answered_step(step.step, answer)
            store.record_case(row.run_id, 0, case, versions[case.protocol_id])
            answered += 1
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None
    run.finished = now_iso()
    reports = Path(row.run_dir).parent if row.run_dir else reporting.reports
    dropped = drop_signature(reports / run.run_id)
    reporting = dataclasses.replace(reporting, reports=reports, waivers=waivers(loaded.protocols))
    run_dir = finish(run, reporting, store, loaded.scripts)
    return Answered(Outcome(run, run_dir), run, answered, len(pending), dropped)
