"""Run one connectathon test instance as a normal kcert run.

The instance's scenario is one protocol (one case, a step per scenario step); the system
bound to its system-played role is the SUT, chosen from its registration the one way
(`SutChoice.from_registration`); the roles kcert simulates are the session's peers, each on
its own loopback port with the URL advertised to the SUT (a recording proxy may sit on that
URL); kcert's own requests to the SUT carry the instance's and the step's ids
(`INSTANCE_HEADER`, `STEP_HEADER`) so the proxy matches them. The run goes through the run
path every front door uses (`harness.session.runpath`), so it is in the run store and its
report folder like any other (`kcert runs list`, `diff`, `verify`). Its case and step
results become the instance's steps, outcome and automatic grade.

Fail vs error as everywhere: a SUT that answers against the standard fails the instance with
findings quoting it; an unreachable SUT, an unusable registration or a kcert fault is an
error (the instance waits, with the reason kept).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.connectathon.api import StoreApi
from harness.connectathon.model import (
    INSTANCE_HEADER,
    SIMULATED,
    STEP_HEADER,
    Grade,
    GradeValue,
    InstanceStep,
    Outcome,
    TestInstance,
)
from harness.connectathon.patients import as_fixture_person, patient_for
from harness.connectathon.scenario.load import (
    FIXTURES_MAP,
    Scenario,
    ScenarioError,
    ScenarioStep,
    UnknownScenario,
    find_scenario,
)
from harness.dates import now_iso
from harness.fixtures import load_persons
from harness.model.outcome import Outcome as RunOutcome
from harness.model.protocol import Protocol, Step, TestCase
from harness.model.result import CaseResult, RunResult, StepResult
from harness.packs.store import PackError, PackStore
from harness.runner.engine import RunOptions, StepSetting
from harness.session import runpath
from harness.session.sut import SutChoice, SutChoiceError
from harness.store.runstore import StoreError
from harness.suite import suite_version
from harness.sut.peer_config import LOOPBACK, PeerConfig
from harness.testscript.fixtures import FixtureMap
from harness.testscript.profiles import ProfileSource
from harness.testscript.run import ScriptSuite
from harness.testscript.steps import Suite
from harness.yamlsource import SourceError

RESET_STEP = "0"  # the loader's own reset step before a case's first step
MAX_FINDINGS_PER_STEP = 50
POPULATION_SEEDS = 1_000_000
MAX_MESSAGE = 2_000


@dataclass(frozen=True)
class Routes:
    """Where kcert reaches the instance's systems and where its simulated roles listen."""

    # system id -> the URL of that system's test-agent API (the proxy's listen URL)
    sut_urls: dict[str, str] = field(default_factory=dict)
    # simulated role -> the loopback port kcert's peer for that role binds
    peer_ports: dict[str, int] = field(default_factory=dict)
    # simulated role -> the base URL the SUT is told to send to (the proxy's listen URL)
    peer_urls: dict[str, str] = field(default_factory=dict)


class InstanceProblem(Exception):
    """The instance cannot be run as bound; the text is the instance's reason."""


def run_instance(
    store: StoreApi,
    instance_id: str,
    *,
    reports: Path,
    store_url: str,
    routes: Routes | None = None,
    scenarios: Path | None = None,
) -> TestInstance:
    """Run the instance through the one run path; save its steps, outcome and auto grade.
    `scenarios`: the folder its scenario is in (default: the suite's)."""
    instance = store.instance(instance_id)
    if not instance.patient:
        instance.patient = patient_for(instance_id)
    instance.status, instance.outcome, instance.reason = "running", "", ""
    instance.started, instance.finished, instance.run_id = now_iso(), "", ""
    store.update_instance(instance)
    scenario: Scenario | None = None
    run: RunResult | None = None
    try:
        scenario = find_scenario(instance.scenario_id, scenarios)
        plan = instance_plan(store, instance, scenario, routes or Routes())
        instance.run_id = plan.options.run_id
        store.update_instance(instance)
        run_store = runpath.open_store(store_url, reports)
        try:
            run = runpath.run_and_report(run_store, plan, runpath.Reporting(reports)).run
        finally:
            run_store.close()
    except (InstanceProblem, UnknownScenario, ScenarioError, runpath.RunPathError) as exc:
        instance.reason = str(exc)
    except Exception as exc:  # kcert's own fault: the instance errs with the reason, no crash
        instance.reason = f"kcert fault running the instance: {type(exc).__name__}: {exc}"
    if run is None and instance.run_id and not _recorded(store_url, reports, instance.run_id):
        instance.run_id = ""  # the run never started: no run to point at
    steps = instance_steps(instance, scenario, run)
    store.save_steps(instance_id, steps)
    outcome, grade, reason = judged(run, steps, instance.reason)
    instance.outcome, instance.reason = outcome, reason
    instance.status = "error" if outcome == "error" else "done"
    instance.finished = now_iso()
    store.update_instance(instance)
    store.add_grade(
        Grade(instance_id, grade, "auto", "kcert", now_iso(), comment=_comment(outcome, reason))
    )
    return store.instance(instance_id)


def _recorded(store_url: str, reports: Path, run_id: str) -> bool:
    """Whether the run store has the run (a run path that failed part-way may have it)."""
    try:
        run_store = runpath.open_store(store_url, reports)
    except runpath.RunPathError:
        return False
    try:
        run_store.run(run_id)
        return True
    except StoreError:
        return False
    finally:
        run_store.close()


# -- the plan ------------------------------------------------------------------------------------


def instance_plan(
    store: StoreApi, instance: TestInstance, scenario: Scenario, routes: Routes
) -> runpath.RunPlan:
    """The run plan of an instance: its SUT, its scenario's protocol, its own patient, and
    per step the headers and the peer of the step's simulated role."""
    bound = {b.role: b.system_id for b in instance.bindings}
    for role in scenario.roles:
        who = bound.get(role.name)
        if who is None:
            raise InstanceProblem(f"role {role.name!r} of {scenario.scenario_id} is not bound")
        if who == SIMULATED and not role.simulated:
            raise InstanceProblem(f"role {role.name!r} must be played by a registered system")
        if who != SIMULATED and not role.systems_may_play:
            raise InstanceProblem(f"role {role.name!r} is played by kcert only, not by {who}")
    played = {role: who for role, who in bound.items() if who != SIMULATED}
    if len(played) != 1:
        raise InstanceProblem(
            "kcert drives one registered system's test agent per instance; this one binds "
            + (", ".join(f"{r}={s}" for r, s in sorted(played.items())) or "none")
        )
    ((sut_role, system_id),) = played.items()
    try:
        system = store.system(instance.session_id, system_id)
    except KeyError:
        raise InstanceProblem(f"system {system_id!r} is not registered") from None
    choice = _choice(system.registration, routes.sut_urls.get(system_id))
    persons = {
        key: as_fixture_person(instance.patient, key) for key in load_persons()
    }  # every named person of the fixtures is this instance's own patient
    options = RunOptions(
        tester=f"kcert connectathon ({instance.session_id})",
        packs=[p.summary() for p in PackStore().installed()],
        packs_chosen=True,
        suite_version=suite_version().text(),
        persons=persons,
        population_seed=population_seed(instance.instance_id),
    )
    settings = _StepSettings(instance.instance_id, scenario, sut_role, routes)
    scripts = _script_suite(scenario)
    if scripts is not None:
        options = dataclasses.replace(options, packs=list(scripts.suite.profiles.packs))
    return runpath.RunPlan(
        choice, [scenario.protocol], options, scripts=scripts, step_settings=settings
    )


def _script_suite(scenario: Scenario) -> ScriptSuite | None:
    """A TestScript scenario's suite: the script, the fixtures map kept beside it (as
    `python -m harness.testscript.corpusmap` writes one), the installed FHIR packages."""
    script = scenario.script
    if script is None:
        return None
    map_file = Path(script.root) / FIXTURES_MAP
    try:
        fixtures = FixtureMap.load(map_file) if map_file.is_file() else FixtureMap()
        profiles = ProfileSource.from_store()
    except (SourceError, PackError) as exc:
        raise InstanceProblem(str(exc)) from None
    suite = Suite({scenario.scenario_id: script}, fixtures, profiles)
    return ScriptSuite(suite, [scenario.protocol])


def population_seed(instance_id: str) -> int:
    """The seed of the instance's own generated population (its own patients there too)."""
    digest = hashlib.sha256(f"kcert-connectathon-population\0{instance_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % POPULATION_SEEDS


def _choice(registration: Mapping[str, Any], sut_url: str | None) -> SutChoice:
    """The registered system's SUT; with a route, its endpoints reached through it."""
    try:
        if sut_url and isinstance(registration.get("configuration"), Mapping):
            registration = {
                **registration,
                "configuration": routed(registration["configuration"], sut_url),
            }
        return SutChoice.from_registration(dict(registration))
    except SutChoiceError as exc:
        raise InstanceProblem(str(exc)) from None


def routed(configuration: Mapping[str, Any], agent_url: str) -> dict[str, Any]:
    """The configuration with its agent endpoint at `agent_url`, and its other endpoints on
    the agent's origin moved to the new origin with it (the proxy fronts an origin)."""
    endpoints = configuration.get("endpoints")
    if not isinstance(endpoints, Mapping) or not isinstance(endpoints.get("agent"), str):
        return {**configuration, "endpoints": {"agent": agent_url}}
    old, new = _origin(endpoints["agent"]), _origin(agent_url)
    moved = {
        name: new + url[len(old) :] if isinstance(url, str) and _origin(url) == old else url
        for name, url in endpoints.items()
    }
    moved["agent"] = agent_url
    return {**configuration, "endpoints": moved}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _StepSettings:
    """Per step of the instance's case: the ids in headers; the peer of its simulated role."""

    def __init__(self, instance_id: str, scenario: Scenario, sut_role: str, routes: Routes):
        self.instance_id = instance_id
        self.scenario = scenario
        self.sut_role = sut_role
        self.peers: dict[str, PeerConfig] = {}
        for role in scenario.roles:
            if role.name in routes.peer_ports:
                advertise = routes.peer_urls.get(role.name, "").rstrip("/")
                self.peers[role.name] = PeerConfig(
                    LOOPBACK, routes.peer_ports[role.name], advertise
                )

    def __call__(self, protocol: Protocol, case: TestCase, step: Step) -> StepSetting:
        sstep = scenario_step(self.scenario, case, step)
        headers = {
            INSTANCE_HEADER: self.instance_id,
            STEP_HEADER: sstep.step_id if sstep else step.id,
        }
        if sstep is None:  # the reset before the steps
            return StepSetting(headers)
        # the role kcert plays in this step: the receiver (kcert takes what the SUT sends),
        # else the sender (kcert sends as it)
        role = next((r for r in (sstep.receiver, sstep.sender) if r != self.sut_role), "")
        return StepSetting(headers, self.peers.get(role))


def scenario_step(scenario: Scenario, case: TestCase, step: Step) -> ScenarioStep | None:
    """The scenario step a protocol step belongs to (None: the loader's own reset)."""
    for sstep in scenario.steps:
        if sstep.whole_case and sstep.case_id == case.id:
            return sstep
        if not sstep.whole_case and sstep.step_id == step.id:
            return sstep
    return None


# -- results -------------------------------------------------------------------------------------

_STEP_OUTCOMES: dict[RunOutcome, Outcome] = {
    RunOutcome.PASS: "passed",
    RunOutcome.FAIL: "failed",
    RunOutcome.ERROR: "error",
}


def instance_steps(
    instance: TestInstance, scenario: Scenario | None, run: RunResult | None
) -> list[InstanceStep]:
    """One row per scenario step (and the reset before them), with what the run found."""
    if scenario is None:
        return []
    cases = _cases(run)
    first = cases.get(scenario.protocol.cases[0].id)
    results = {s.step.id: [s] for s in first.steps} if first is not None else {}
    sut_role = next(
        (b.role for b in instance.bindings if b.system_id != SIMULATED), scenario.roles[0].name
    )
    rows: list[InstanceStep] = []
    if not scenario.steps[0].whole_case and scenario.protocol.cases[0].steps[0].id == RESET_STEP:
        rows.append(
            _row(
                instance.instance_id,
                RESET_STEP,
                0,
                SIMULATED,
                sut_role,
                "Nulstil testdata i SUT",
                results.get(RESET_STEP, []),
            )
        )
    for sstep in scenario.steps:
        if sstep.whole_case:
            case = cases.get(sstep.case_id)
            found = list(case.steps) if case is not None else []
            error = case.error if case is not None else ""
        else:
            found, error = results.get(sstep.step_id, []), ""
        row = _row(
            instance.instance_id,
            sstep.step_id,
            sstep.seq,
            sstep.sender,
            sstep.receiver,
            sstep.title.get("da"),
            found,
        )
        if error and row.outcome != "error":
            row.outcome = "error"
            row.findings.append({"rule": "KCERT-ERROR", "severity": "OK", "message": error})
        rows.append(row)
    return rows


def _cases(run: RunResult | None) -> dict[str, CaseResult]:
    if run is None or not run.protocols:
        return {}
    return {c.case.id: c for c in run.protocols[0].cases}


def _case(run: RunResult | None) -> CaseResult | None:
    if run is None or not run.protocols or not run.protocols[0].cases:
        return None
    return run.protocols[0].cases[0]


def _row(
    instance_id: str,
    step_id: str,
    seq: int,
    sender: str,
    receiver: str,
    title: str,
    results: list[StepResult],
) -> InstanceStep:
    """The row of one scenario step: the protocol step(s) it ran as, rolled up."""
    row = InstanceStep(instance_id, step_id, seq, sender, receiver, title, outcome="not-run")
    if not results:
        return row
    worst = RunOutcome.worst((r.outcome for r in results), default=RunOutcome.SKIP)
    row.outcome = _STEP_OUTCOMES.get(worst, "not-run")
    findings = [f for r in results for f in r.findings]
    row.findings = [
        {"rule": f.rule_id, "severity": f.severity.value, "message": f.message[:MAX_MESSAGE]}
        for f in findings[:MAX_FINDINGS_PER_STEP]
    ]
    errors = [r.message for r in results if r.outcome is RunOutcome.ERROR and r.message]
    if errors and not row.findings:
        row.findings = [{"rule": "KCERT-ERROR", "severity": "OK", "message": errors[0]}]
    # when the step's traffic began and ended (what a sequence diagram places it by)
    spans = [
        (start, start + dt.timedelta(milliseconds=e.duration_ms))
        for r in results
        for e in r.exchanges
        if e.started and (start := _instant(e.started)) is not None
    ]
    if spans:
        row.started = min(a for a, _ in spans).isoformat(timespec="milliseconds")
        row.finished = max(b for _, b in spans).isoformat(timespec="milliseconds")
    return row


def _instant(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def judged(
    run: RunResult | None, steps: list[InstanceStep], reason: str
) -> tuple[Outcome, GradeValue, str]:
    """The instance's outcome, automatic grade and reason from its run."""
    cases = list(_cases(run).values())
    if run is None or not cases:
        return "error", "waiting", reason or "the instance did not run"
    outside = [c.not_in_scope for c in cases if c.not_in_scope]
    if len(outside) == len(cases):
        return "not-run", "waiting", f"not in the system's scope: {outside[0]}"
    erred = [c for c in cases if c.outcome is RunOutcome.ERROR]
    if erred:
        return "error", "waiting", erred[0].error or run.error or _first_error(steps)
    if any(s.outcome == "failed" for s in steps):
        failed = [s.step_id for s in steps if s.outcome == "failed"]
        return "failed", "failed", f"failed at step {', '.join(failed)}"
    not_run = [s.step_id for s in steps if s.outcome != "passed"]
    if not not_run:
        return "passed", "verified", ""
    why = f"step {', '.join(not_run)} not run or not evaluated"
    if len(not_run) < len(steps):
        return "not-run", "partial", why
    return "not-run", "waiting", why


def _first_error(steps: list[InstanceStep]) -> str:
    for step in steps:
        if step.outcome == "error" and step.findings:
            return str(step.findings[0]["message"])
    return "error"


def _comment(outcome: Outcome, reason: str) -> str:
    words = {
        "passed": "alle trin bestået / every step passed",
        "failed": "fejl fundet / failures found",
        "error": "kunne ikke køres / could not run",
        "not-run": "ikke kørt helt / not run in full",
    }
    text = words.get(outcome, outcome)
    return f"{text}: {reason}" if reason else text
