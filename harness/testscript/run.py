"""A TestScript run on a SUT chosen like `kcert certify`: results, TestReports, kcert report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model.result import RunResult
from harness.report.writer import write_report
from harness.runner.engine import RunOptions, now_iso
from harness.session import CertificationSession, SutChoice
from harness.sut.config import SutConfig
from harness.testscript import testreport
from harness.testscript.engine import CaseListener, ScriptResult, ScriptRunner, ignore
from harness.testscript.fixtures import FixtureMap
from harness.testscript.profiles import ProfileSource
from harness.testscript.script import Script
from harness.transport.base import Transport
from harness.transport.peer import PeerServers


@dataclass
class TestScriptRun:
    """The kcert run and, per script, its FHIR TestReport."""

    __test__ = False  # not a pytest test class

    run: RunResult
    scripts: list[ScriptResult] = field(default_factory=list)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name -> TestReport


def protocol_ids(scripts: list[Script]) -> list[str]:
    """Script ids, made unique when two files share one."""
    seen: dict[str, int] = {}
    ids = []
    for script in scripts:
        count = seen.get(script.id, 0) + 1
        seen[script.id] = count
        ids.append(script.id if count == 1 else f"{script.id}-{count}")
    return ids


def run_on(
    transport: Transport,
    sut: SutConfig,
    run: RunResult,
    scripts: list[Script],
    fixture_map: FixtureMap,
    profiles: ProfileSource,
    unreachable: str = "",
    listener: CaseListener = ignore,
    peer_servers: PeerServers | None = None,
) -> TestScriptRun:
    """Run every script through `transport`; the results go into `run`. kcert's peers are
    `peer_servers` (the session's), else this call's own, stopped when it ends."""
    strict_cpr = run.test_type == "endelig"
    runner = ScriptRunner(transport, sut, fixture_map, profiles, listener, strict_cpr, peer_servers)
    try:
        return _run_all(runner, run, scripts, sut, unreachable)
    finally:
        runner.close()


def _run_all(
    runner: ScriptRunner, run: RunResult, scripts: list[Script], sut: SutConfig, unreachable: str
) -> TestScriptRun:
    outcome = TestScriptRun(run)
    if unreachable:
        run.error = unreachable
    for script, pid in zip(scripts, protocol_ids(scripts), strict=True):
        done = runner.run(script, pid, unreachable)
        outcome.scripts.append(done)
        run.protocols.append(done.result)
        outcome.reports[testreport.file_name(done)] = testreport.build(done, sut, run.run_id)
    run.packs = list(runner.profiles.packs)
    run.finished = now_iso()
    return outcome


def run_session(
    choice: SutChoice,
    scripts: list[Script],
    options: RunOptions,
    fixture_map: FixtureMap,
    profiles: ProfileSource,
    listener: CaseListener = ignore,
) -> TestScriptRun:
    """Start the SUT as the session does (reference LPS or configured), run, stop it."""
    session = CertificationSession(choice)
    try:
        runner = session.runner()
        unreachable = runner.check_reachable()
        run = runner.new_run(options, session.started)
        return run_on(
            runner.transport,
            runner.sut,
            run,
            scripts,
            fixture_map,
            profiles,
            unreachable,
            listener,
            session.peers,
        )
    finally:
        session.close()


def write(outcome: TestScriptRun, reports_dir: Path, lang: str = "da") -> Path:
    """TestReports first, so the manifests written by the kcert report cover them."""
    run_dir = reports_dir / outcome.run.run_id
    for name, report in outcome.reports.items():
        testreport.write(report, run_dir / testreport.FOLDER, name)
    return write_report(outcome.run, reports_dir, lang)
