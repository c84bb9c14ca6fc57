"""What certify, resume, answer and rejudge share: the store, protocols, running and reporting."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.cli.progress import ProgressDisplay
from harness.cli.words import say
from harness.loader.protocols import load_all
from harness.model.protocol import Protocol
from harness.model.result import CaseResult, ProtocolResult, RunResult, SutInfo
from harness.model.scope import Scope
from harness.report.waivers import Waiver, apply_waivers
from harness.report.writer import write_report
from harness.runner.attended import AnswerSource
from harness.runner.engine import RunOptions
from harness.session import CertificationSession, SutChoice
from harness.session.sut import SutChoiceError
from harness.store.codec import StoreMismatch, rebuild_case
from harness.store.recorder import StoreRecorder
from harness.store.runstore import RunRow, RunStore, StoreError, default_url
from harness.sut.peer_config import PeerConfig
from harness.sut.reference import ReferenceStartError
from harness.transport.base import TransportError
from harness.transport.peer import PeerError
from harness.transport.replay import ReplayTransport
from harness.yamlsource import SourceError


def open_store(url: str | None, reports: Path) -> RunStore:
    try:
        return RunStore(url or default_url(reports))
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None


def protocol_files(protocols: list[Protocol]) -> list[dict[str, Any]]:
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
        }
        for p in protocols
    ]


def stored_choice(row: RunRow) -> SutChoice:
    """The SUT a recorded run tested (`SutChoice.from_stored`), as a usage problem if the
    record no longer names one this kcert can test."""
    try:
        return SutChoice.from_stored(row.choice)
    except SutChoiceError as exc:
        raise UsageProblem(f"run {row.run_id}: {exc}") from None


def reload_protocols(row: RunRow, *, same_files: bool) -> list[Protocol]:
    """The run's protocol files, loaded again; `same_files` insists they are unchanged."""
    paths = [Path(p["path"]) for p in row.protocols]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UsageProblem(f"protocol file(s) of run {row.run_id} are gone: {', '.join(missing)}")
    protocols, errors = load_all(paths)
    if errors:
        raise UsageProblem(f"protocol file(s) of run {row.run_id} no longer load: {errors[0]}")
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
                raise UsageProblem(
                    f"{p.source.file} changed since run {row.run_id} began "
                    f"(sha256 {recorded.get(p.id, '?')[:12]}… → {p.sha256[:12]}…): "
                    "results would mix two suites; start a new run instead"
                )
    return protocols


def rebuild_run(store: RunStore, row: RunRow, protocols: list[Protocol]) -> RunResult:
    """The run as recorded: header from the run row, cases in protocol order."""
    sut = row.sut
    run = RunResult(
        run_id=row.run_id,
        sut=SutInfo.from_dict(sut),
        test_type=row.test_type,
        tester=row.tester,
        started=row.started,
        finished=row.finished,
        error=row.error,
        suite_version=row.suite_version,
        lang=row.lang,
        place=row.place,
        packs=list(row.packs),
        parent_run=row.parent_run,
        relation=row.relation,
        scope=Scope.from_dict(sut.get("scope")),
    )
    done = recorded_cases(store, row.run_id, protocols)
    for protocol in protocols:
        presult = ProtocolResult(protocol)
        presult.cases = [
            done[(protocol.id, c.id)] for c in protocol.cases if (protocol.id, c.id) in done
        ]
        if presult.cases:
            run.protocols.append(presult)
    return run


def recorded_cases(
    store: RunStore, run_id: str, protocols: list[Protocol]
) -> dict[tuple[str, str], CaseResult]:
    by_id = {p.id: p for p in protocols}
    out: dict[tuple[str, str], CaseResult] = {}
    for stored in store.cases(run_id):
        protocol = by_id.get(stored.protocol_id)
        if protocol is None:
            continue  # a protocol no longer in scope
        try:
            out[(stored.protocol_id, stored.case_id)] = rebuild_case(stored, protocol)
        except StoreMismatch as exc:
            raise UsageProblem(f"run {run_id}: {exc}") from None
    return out


@dataclass
class Execution:
    """One pass of the runner over a SUT (or a replay), recording into the store."""

    console: Console
    store: RunStore
    choice: SutChoice
    protocols: list[Protocol]
    options: RunOptions
    answers: AnswerSource | None = None
    completed: dict[tuple[str, str], CaseResult] = field(default_factory=dict)
    started: dict[tuple[str, str], str] = field(default_factory=dict)
    run_started: str = ""
    resumed: bool = False
    replay: ReplayTransport | None = None

    def run(self) -> RunResult:
        display = ProgressDisplay(self.console, self.options.lang)
        if self.answers is not None:
            self.answers.attach(display)
        recorder = StoreRecorder(
            self.store,
            self.protocols,
            self.choice.to_stored(),
            protocol_files(self.protocols),
            then=display,
            resumed=self.resumed,
            preset=list(self.answers.preset) if self.answers is not None else [],
        )
        session = CertificationSession(
            self.choice, listener=recorder, answers=self.answers, replay=self.replay
        )
        try:
            runner = session.runner()
            self._announce_peer(runner.sut.peer)
            return runner.run(
                self.protocols, self.options, self.completed, self.started, self.run_started
            )
        except ReferenceStartError as exc:
            raise UsageProblem(f"the reference LPS did not start: {exc}") from None
        except (SourceError, SutChoiceError, TransportError, StoreError, PeerError) as exc:
            raise UsageProblem(str(exc)) from None
        finally:
            session.close()

    def _announce_peer(self, peer: PeerConfig) -> None:
        """Where a configured peer listens: what the vendor's firewall must let through."""
        if peer == PeerConfig() or self.replay is not None:
            return
        lang = self.options.lang
        mode = "peer_mtls" if peer.client_ca else "peer_tls" if peer.tls else "peer_http"
        bind = peer.public_dict()["bind"]
        url = peer.advertise or f"{'https' if peer.tls else 'http'}://{bind}"
        self.console.print(
            say(lang, "peer", url=url, bind=bind, mode=say(lang, mode)), highlight=False
        )


def report_and_record(
    console: Console,
    store: RunStore,
    run: RunResult,
    reports: Path,
    *,
    pdf: bool = False,
    waivers: list[Waiver] | None = None,
) -> Path:
    apply_waivers(run, waivers or [], dt.date.today())
    try:
        with console.status(say(run.lang, "writing_pdf" if pdf else "writing")):
            run_dir = write_report(run, reports, run.lang, pdf=pdf)
    except OSError as exc:
        raise UsageProblem(f"cannot write the report under {reports}: {exc.strerror}") from None
    try:
        store.finish_run(run, run_dir)
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None
    return run_dir
