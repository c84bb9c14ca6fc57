"""TestScripts as a run's protocols: the suite the runner's TestScript actions read, what the
run store keeps to rebuild it (resume, rejudge), and the FHIR TestReports of a finished run.

The run itself goes through the one runner (`harness.runner.engine.Runner`) like any
protocol; opening the store, recording and writing the reports is the session's run path
(`harness.session.runpath`). `run_on` runs scripts on a transport directly (kcert's tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model.protocol import Protocol
from harness.model.result import ProtocolResult, RunResult
from harness.runner.engine import Runner, RunOptions
from harness.sut.config import SutConfig
from harness.testscript import steps, testreport
from harness.testscript.fixtures import FixtureMap
from harness.testscript.profiles import ProfileSource
from harness.testscript.protocol import to_protocol
from harness.testscript.script import Script, ScriptError, load_script
from harness.transport.base import Transport
from harness.transport.peer import PeerServers

KIND = "testscript"  # the run store's protocol-file entry for a TestScript


def protocol_ids(scripts: list[Script]) -> list[str]:
    """Script ids, made unique when two files share one."""
    seen: dict[str, int] = {}
    ids = []
    for script in scripts:
        count = seen.get(script.id, 0) + 1
        seen[script.id] = count
        ids.append(script.id if count == 1 else f"{script.id}-{count}")
    return ids


@dataclass
class ScriptSuite:
    """The scripts of a run as protocols, and the runner context their actions read."""

    suite: steps.Suite
    protocols: list[Protocol] = field(default_factory=list)

    @classmethod
    def of(
        cls, scripts: list[Script], fixture_map: FixtureMap, profiles: ProfileSource
    ) -> ScriptSuite:
        ids = protocol_ids(scripts)
        return cls(
            steps.Suite(dict(zip(ids, scripts, strict=True)), fixture_map, profiles),
            [to_protocol(s, pid) for s, pid in zip(scripts, ids, strict=True)],
        )

    @property
    def context(self) -> dict[str, Any]:
        return {steps.SUITE: self.suite}

    def files(self) -> list[dict[str, Any]]:
        """What the run store keeps per script, beside a protocol's path and sha256: enough
        to rebuild the very same suite (`from_files`)."""
        suite = self.suite
        return [
            {
                "kind": KIND,
                "root": str(Path(suite.scripts[p.id].root).resolve()),
                "fixtures": {k: str(v.resolve()) for k, v in suite.fixture_map.entries.items()},
                "profiles": [str(Path(x).resolve()) for x in suite.profiles.paths],
                "profile_packs": list(suite.profiles.packs),
            }
            for p in self.protocols
        ]

    @classmethod
    def from_files(cls, entries: list[dict[str, Any]]) -> ScriptSuite:
        """The suite a run row recorded; ScriptError names a script that no longer loads."""
        scripts = [load_script(Path(e["path"]), Path(e["root"])) for e in entries]
        first = entries[0] if entries else {}
        fixtures = FixtureMap({k: Path(v) for k, v in dict(first.get("fixtures", {})).items()})
        profiles = ProfileSource(
            [Path(p) for p in first.get("profiles", [])], list(first.get("profile_packs", []))
        )
        made = cls.of(scripts, fixtures, profiles)
        recorded = [str(e["id"]) for e in entries]
        if [p.id for p in made.protocols] != recorded:
            raise ScriptError(f"the TestScripts no longer have the ids {', '.join(recorded)}")
        return made

    def testreports(self, run: RunResult) -> dict[str, dict[str, Any]]:
        """File name -> FHIR TestReport, for each script the run reached."""
        return {
            testreport.file_name(p.protocol.id): testreport.build(
                self.suite.scripts[p.protocol.id], p, run
            )
            for p in run.protocols
            if p.protocol.id in self.suite.scripts
        }


def write_testreports(reports: dict[str, dict[str, Any]], run_dir: Path) -> None:
    for name, report in reports.items():
        testreport.write(report, run_dir / testreport.FOLDER, name)


@dataclass
class ScriptResult:
    script: Script
    result: ProtocolResult


@dataclass
class TestScriptRun:
    """The kcert run and, per script, its FHIR TestReport."""

    __test__ = False  # not a pytest test class

    run: RunResult
    scripts: list[ScriptResult] = field(default_factory=list)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name -> TestReport


def run_on(
    transport: Transport,
    sut: SutConfig,
    run: RunResult,
    scripts: list[Script],
    fixture_map: FixtureMap,
    profiles: ProfileSource,
    peer_servers: PeerServers | None = None,
) -> TestScriptRun:
    """Run every script through `transport` with the runner, as `run` (its id, type, start).
    kcert's peers are `peer_servers` (a session's), else the runner's own, stopped at the end."""
    made = ScriptSuite.of(scripts, fixture_map, profiles)
    runner = Runner(transport, sut, peer_servers=peer_servers)
    runner.context.update(made.context)
    options = RunOptions(
        test_type=run.test_type,
        tester=run.tester,
        lang=run.lang,
        run_id=run.run_id,
        packs=list(profiles.packs),
    )
    try:
        result = runner.run(made.protocols, options, run_started=run.started)
    finally:
        runner.close()
    return TestScriptRun(
        result,
        [ScriptResult(made.suite.scripts[p.protocol.id], p) for p in result.protocols],
        made.testreports(result),
    )


__all__ = ["KIND", "ScriptError", "ScriptSuite", "TestScriptRun", "run_on", "write_testreports"]
