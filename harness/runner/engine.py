"""The runner: executes test cases step by step and turns exchanges into findings."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from harness import __version__
from harness.checks import CHECKS, CheckContext
from harness.checks.diagnostics import NOT_EVALUATED
from harness.checks.realcpr import guard_step
from harness.checks.registry import NotEvaluated, StepRecord, reads, root_reason
from harness.dates import now_iso
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Expectation, Protocol, Step, TestCase
from harness.model.result import CaseResult, ProtocolResult, RunResult, StepResult, SutInfo
from harness.model.scope import Capabilities, Scope
from harness.packs.store import using_packs
from harness.runner.actions import (
    ACTIONS,
    INDEPENDENT_ACTIONS,
    SETUP_ACTIONS,
    STOP_CASE,
    ActionContext,
    ActionError,
    CaseEnds,
    ManualStepPending,
    SutFault,
    sut_party,
)
from harness.runner.attended import AnswerSource, answered_step, pending_step
from harness.runner.events import (
    CaseFinished,
    CaseStarted,
    Listener,
    RunFinished,
    RunStarted,
    ignore,
)
from harness.runner.evidence import EvidenceNamer
from harness.runner.runcache import run_scope
from harness.safeparse import PayloadError, parse_json
from harness.sut.codec import sut_info
from harness.sut.config import SutConfig, capabilities_schema
from harness.sut.peer_config import PeerConfig
from harness.synthetic import synthetic_cpr_problem
from harness.transport.base import Transport, TransportError
from harness.transport.capabilities import ExtraHeaders
from harness.transport.peer import PeerServers


def new_run_id() -> str:
    # 48 random bits: runs started in the same second (a CI matrix, a script) never share an
    # id; the store refuses a duplicate anyway rather than mixing two runs.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:12]}"


DEFAULT_EVIDENCE_BUDGET = 200 * 1024 * 1024
EVIDENCE_BUDGET = "EVIDENCE-BUDGET"


@dataclass
class RunOptions:
    test_type: str = "egentest"
    tester: str = ""
    lang: str = "da"
    place: str = ""
    run_id: str = field(default_factory=new_run_id)
    # Ids and clocks in rendered messages derive from this run id, so a replay (re-judging)
    # produces the very bytes the recorded run sent. Empty: the run's own id.
    seed_run_id: str = ""
    packs: list[dict[str, str]] = field(default_factory=list)
    # True: checks use exactly `packs` (a certification names its pack set); False: whatever
    # is installed (kcert's own tests and the pytest front door).
    packs_chosen: bool = False
    parent_run: str = ""
    relation: str = ""
    suite_version: str = ""  # empty: kcert's package version
    selection: tuple[str, ...] = ()  # the --case/--requirement patterns that chose the cases
    # A body holding a real-format CPR number is not kept at all (only its hash), not just
    # masked; always so for a final certification.
    strict_cpr: bool = False
    # Evidence is capped per exchange by the SUT config; this caps the whole run, so a SUT that
    # answers every request with the maximum cannot fill the disk and the store.
    evidence_budget: int = DEFAULT_EVIDENCE_BUDGET
    # The fixtures' named persons replaced for this run (key -> person with the fixture's
    # fields): a connectathon instance tests with its own synthetic patient, not the persons
    # every run shares. Each must be synthetic (harness.synthetic); the runner refuses others.
    persons: dict[str, dict[str, str]] = field(default_factory=dict)
    # Generated populations use this seed instead of the one their step names (the same
    # reason: an instance's own patients); None: the step's.
    population_seed: int | None = None

    @property
    def cpr_strict(self) -> bool:
        return self.strict_cpr or self.test_type == "endelig"


CaseKey = tuple[str, str]  # (protocol id, test case id)


@dataclass(frozen=True)
class StepSetting:
    """What one step's actions use besides the run's: headers on every request kcert makes
    to the SUT in the step, and the peer (kcert playing the step's receiving role) the SUT
    is told to send to."""

    headers: dict[str, str] = field(default_factory=dict)
    peer: PeerConfig | None = None


# Given by a front door that runs steps between roles (the connectathon executor).
StepSettings = Callable[[Protocol, TestCase, Step], StepSetting]


class Runner:
    """One engine for the CLI, the pytest plugin and later the connectathon service."""

    def __init__(
        self,
        transport: Transport,
        sut: SutConfig,
        renderer: TemplateRenderer | None = None,
        listener: Listener = ignore,
        answers: AnswerSource | None = None,
        peer_servers: PeerServers | None = None,
    ) -> None:
        self.transport = transport
        # kcert's peers for this runner's SUT: the session's, else the runner's own (close())
        self.peer_servers = peer_servers if peer_servers is not None else PeerServers()
        self._owns_peers = peer_servers is None
        self.answers = answers
        self.seed = uuid.uuid4().hex  # replaced by the run id when a whole run starts
        self.sut = sut
        self.renderer = renderer or TemplateRenderer()
        self._fixture_persons = load_persons()
        self.persons = self._fixture_persons
        self.peers = load_peers()
        self.step_settings: StepSettings | None = None
        self.population_seed: int | None = None
        self.listener = listener
        self._unreachable = ""
        self._health_capabilities: Capabilities | None = None
        self.health_note = ""  # why the health answer's capabilities were not used
        self.selection: tuple[str, ...] = ()
        self.strict_cpr = False
        self.evidence_budget = DEFAULT_EVIDENCE_BUDGET
        self._evidence_used = 0
        self._budget_spent: Finding | None = None  # set once the SUT has used the budget up
        # what the front door prepared for the whole run, handed to every action (the
        # TestScripts a `testscript-*` action belongs to, their fixtures and profiles)
        self.context: dict[str, Any] = {}
        # per protocol, the state its cases share (Protocol.shares_state), and how its cases
        # went so far: a failed set-up stops the cases after it
        self._shared: dict[str, dict[str, Any]] = {}
        self._setup_problem: dict[str, str] = {}

    @property
    def scope(self) -> Scope:
        """The configuration's declaration wins; else the health answer's; else everything."""
        caps = self.sut.capabilities or self._health_capabilities
        note = "" if self.sut.capabilities else self.health_note
        return Scope(caps, self.sut.manual_operation_ids, self.selection, note)

    def sut_info(self) -> SutInfo:
        return sut_info(self.sut)

    def close(self) -> None:
        """Stop the peer servers this runner started itself (a session closes its own)."""
        if self._owns_peers:
            self.peer_servers.close()

    def check_reachable(self) -> str:
        """ "" when the SUT's test agent answers its health check, else the reason."""
        try:
            exchange = self.transport.request("agent", "GET", "health")
        except TransportError as exc:
            self._unreachable = f"SUT unreachable: {exc}"
            return self._unreachable
        if exchange.status != 200:
            self._unreachable = f"SUT unreachable: health check answered HTTP {exchange.status}"
            return self._unreachable
        self._unreachable = ""
        self._health_capabilities, self.health_note = _health_capabilities(exchange.response_body)
        return ""

    def new_run(self, options: RunOptions, started: str = "") -> RunResult:
        """An empty run result carrying the SUT, the options and kcert's version."""
        return RunResult(
            run_id=options.run_id,
            sut=self.sut_info(),
            test_type=options.test_type,
            tester=options.tester,
            started=started or now_iso(),
            suite_version=options.suite_version or __version__,
            lang=options.lang,
            place=options.place,
            packs=list(options.packs),
            parent_run=options.parent_run,
            relation=options.relation,
            scope=self.scope,
        )

    def run(
        self,
        protocols: list[Protocol],
        options: RunOptions,
        completed: dict[CaseKey, CaseResult] | None = None,
        started: dict[CaseKey, str] | None = None,
        run_started: str = "",
    ) -> RunResult:
        """Run every case; `completed` ones (a resumed run) are kept, not run again.

        `started` pins a case's start time (a replay reproduces what was recorded).
        """
        completed = completed or {}
        started = started or {}
        self.selection = options.selection
        self.strict_cpr = options.cpr_strict
        self.evidence_budget = options.evidence_budget
        self.persons = {**self._fixture_persons, **_synthetic_only(options.persons)}
        self.population_seed = options.population_seed
        self._evidence_used = 0
        self._budget_spent = None
        self._shared = {}
        self._setup_problem = {}
        run = self.new_run(options, run_started)
        self.seed = options.seed_run_id or options.run_id
        chosen = frozenset(p["sha256"] for p in options.packs) if options.packs_chosen else None
        with using_packs(chosen), run_scope():  # run_scope: what the cases share (runcache)
            return self._run(run, protocols, completed, started)

    def _run(
        self,
        run: RunResult,
        protocols: list[Protocol],
        completed: dict[CaseKey, CaseResult],
        started: dict[CaseKey, str],
    ) -> RunResult:
        completed = kept_on_resume(protocols, completed)
        total = sum((p.id, c.id) not in completed for p in protocols for c in p.cases)
        self.listener(RunStarted(run, total))
        problem = self.check_reachable()
        if problem:
            run.error = problem
        run.scope = self.scope  # the health answer may have declared it
        for protocol in protocols:
            presult = ProtocolResult(protocol)
            run.protocols.append(presult)
            for case in protocol.cases:
                key = (protocol.id, case.id)
                if key in completed:
                    presult.cases.append(completed[key])
                    self._note_setup(protocol, completed[key])
                    continue
                presult.cases.append(self.run_case(protocol, case, started.get(key)))
        run.finished = now_iso()
        self.listener(RunFinished(run))
        return run

    def run_case(
        self, protocol: Protocol, case: TestCase, started: str | None = None
    ) -> CaseResult:
        self.listener(CaseStarted(protocol, case))
        result = CaseResult(case, protocol.id, started=started or now_iso())
        self.renderer.reseed(
            f"{self.seed}/{protocol.id}/{case.id}", datetime.fromisoformat(result.started)
        )
        t0 = time.perf_counter()
        outside = self.scope.why_not(case.needs)
        setup_problem = self._setup_problem.get(protocol.id, "")
        if outside:
            result.not_in_scope = outside
        elif self._unreachable:
            result.error = self._unreachable
        elif setup_problem and case.id != protocol.teardown_case:
            result.error = setup_problem  # the tear-down always runs
        else:
            self._run_steps(protocol, case, result)
        result.duration_ms = (time.perf_counter() - t0) * 1000
        self._note_setup(protocol, result)
        self.listener(CaseFinished(result))
        return result

    def _note_setup(self, protocol: Protocol, result: CaseResult) -> None:
        """A protocol's set-up case that failed (or erred, or waits for an answer) stops the
        cases after it, saying why; one skipped on purpose skips them too, by itself."""
        if result.case.id != protocol.setup_case or result.outcome in _SET_UP:
            return
        name = Path(protocol.source.file).name
        self._setup_problem[protocol.id] = (
            f"not run: the setup of {name} failed (see its {result.case.id} case)"
        )

    def _run_steps(self, protocol: Protocol, case: TestCase, result: CaseResult) -> None:
        # case ids are unique only inside a protocol whose cases share state (setup, t1, …)
        namer = EvidenceNamer(protocol.id if protocol.shares_state else protocol.standard)
        earlier: dict[str, StepRecord] = {}
        state: dict[str, Any] = {}
        setup_failed: Finding | None = None
        for step in case.steps:
            stop = state.get(STOP_CASE)
            if stop:  # an action ended its case: what follows is SKIP with its reason
                result.steps.append(StepResult(step, Outcome.SKIP, message=str(stop)))
                continue
            if self._budget_spent is not None:
                result.steps.append(
                    _not_evaluated(step, "the run's evidence budget is used up", self._budget_spent)
                )
                continue
            if setup_failed is not None:
                # One root cause, one finding: what follows a failed set-up is not judged.
                sresult = _not_evaluated(step, "the test case's set-up failed", setup_failed)
                earlier[step.id] = StepRecord(None, None, root=sresult.findings[0])
            else:
                sresult = self._run_step(protocol, case, step, earlier, namer, state)
                # Where a judged step's exchanges enter the record: every writer after this
                # (evidence, results.json, Allure, reports, store) sees only masked bytes.
                guard_step(sresult, step.id, self.strict_cpr)
            result.steps.append(sresult)
            self._spend_evidence(sresult)
            if sresult.outcome is Outcome.ERROR:
                result.error = result.error or sresult.message
                if not state.get(STOP_CASE) and not _goes_on(step):
                    break
            if (
                setup_failed is None
                and sresult.outcome is Outcome.FAIL
                and step.action is not None
                and step.action.kind in SETUP_ACTIONS
            ):
                setup_failed = _first_problem(sresult)

    def _run_step(
        self,
        protocol: Protocol,
        case: TestCase,
        step: Step,
        earlier: dict[str, StepRecord],
        namer: EvidenceNamer,
        state: dict[str, Any],
    ) -> StepResult:
        t0 = time.perf_counter()
        if step.manual or step.action is None:
            answer = self.answers.answer(protocol, case, step) if self.answers else None
            if answer is None:
                return pending_step(step)
            return answered_step(step, answer, (time.perf_counter() - t0) * 1000)
        setting = self.step_settings(protocol, case, step) if self.step_settings else None
        actx = ActionContext(
            self.transport,
            self.sut
            if setting is None or setting.peer is None
            else dataclasses.replace(self.sut, peer=setting.peer),
            self.renderer,
            self.persons,
            self.peers,
            earlier,
            state,
            shared=self._shared.setdefault(protocol.id, {}),
            run_context=self.context,
            protocol=protocol,
            step=step,
            peer_servers=self.peer_servers,
            population_seed=self.population_seed,
        )
        entry = ACTIONS.get(step.action.kind)
        try:
            with _extra_headers(self.transport, setting.headers if setting else {}):
                done = entry.func(actx, **step.action.params)
        except TransportError as exc:
            # One slow or broken answer is this step's error; only a failed health check makes
            # the rest of the run an error without trying.
            self.check_reachable()
            return _error(step, str(exc), t0)
        except ActionError as exc:
            text = f"{exc} ({exc.where})" if exc.where else f"{step.source}: {exc}"
            return _error(step, text, t0, exc.exchanges)
        except ManualStepPending as exc:
            return StepResult(step, Outcome.PENDING, message=str(exc))
        except CaseEnds as exc:
            state[STOP_CASE] = str(exc)
            return StepResult(step, Outcome.SKIP, message=str(exc))
        except SutFault as exc:  # the SUT's answer made the action impossible: its fault
            for exchange in exc.exchanges:
                namer.name(exchange, f"{case.id}.{step.id}")
            finding = exc.finding(case.severity, step.id)
            earlier[step.id] = StepRecord(
                exc.exchanges[0] if exc.exchanges else None, None, root=finding
            )
            return StepResult(
                step,
                Outcome.FAIL,
                [finding],
                exc.exchanges,
                duration_ms=(time.perf_counter() - t0) * 1000,
            )
        except NotEvaluated as exc:  # it builds on an earlier step that failed at its root
            sresult = _not_evaluated(step, str(exc), exc.root, t0)
            earlier[step.id] = StepRecord(None, None, root=exc.root or sresult.findings[0])
            return sresult
        except Exception as exc:  # kcert's own fault: an error verdict with the reason, no crash
            return _error(
                step,
                f"{step.source}: action {step.action.kind} failed inside kcert: "
                f"{type(exc).__name__}: {exc}",
                t0,
            )
        for exchange in done.exchanges:
            namer.name(exchange, f"{case.id}.{step.id}")
        record = StepRecord(done.exchange, done.sent, None, done.person, done.peer, done.notes)
        ctx = CheckContext(
            step_id=step.id,
            exchange=done.exchange if done.exchange is not None else NO_EXCHANGE,
            severity=case.severity,
            sent=done.sent,
            earlier=earlier,
            sut_identity=sut_party(self.sut),
            peer_identity=_party(done.peer) if done.peer else _party(self.peers["kommune"]),
            standards=self.sut.standards,
            person=done.person,
            exchanges=done.exchanges,
            notes=done.notes,
            state=state,
        )
        findings: list[Finding] = []
        for expectation in step.expectations:
            ctx.severity = expectation.severity or case.severity
            check = CHECKS.get(expectation.kind).func
            blocked = [ctx.roots[s] for s in reads(expectation.kind) if s in ctx.roots]
            if blocked:
                findings.append(_skipped_check(expectation, step, blocked[0]))
                continue
            try:
                for found in check(ctx, **expectation.params):
                    findings.append(found)
            except NotEvaluated as exc:
                findings.append(_skipped_check(expectation, step, exc.root, str(exc)))
            except Exception as exc:  # a check crashing is kcert's fault, never the SUT's
                return _error(
                    step,
                    f"{expectation.source}: check {expectation.kind} failed inside kcert: "
                    f"{type(exc).__name__}: {exc}",
                    t0,
                    done.exchanges,
                )
        record.parsed = ctx.response_resource()
        record.root = next(iter(ctx.roots.values()), None)
        earlier[step.id] = record
        problems = [f for f in findings if f.is_problem]
        skipped = any(f.rule_id == NOT_EVALUATED for f in findings)
        outcome = Outcome.FAIL if problems else Outcome.SKIP if skipped else Outcome.PASS
        return StepResult(
            step,
            outcome,
            findings,
            done.exchanges,
            message=done.message,
            duration_ms=(time.perf_counter() - t0) * 1000,
        )

    def _spend_evidence(self, sresult: StepResult) -> None:
        """Count the step's evidence; the step that overdraws the budget fails and ends the run."""
        self._evidence_used += sum(
            len(x.request_body) + len(x.response_body) for x in sresult.exchanges
        )
        if self._budget_spent is not None or self._evidence_used <= self.evidence_budget:
            return
        finding = Finding(
            EVIDENCE_BUDGET,
            Severity.F2,
            f"the SUT's messages reached {self._evidence_used} bytes of evidence in this run, "
            f"more than the run's budget of {self.evidence_budget} bytes; the remaining steps "
            "and cases were not run",
            Location(str(sresult.step.source), "yaml"),
            sresult.step.id,
        )
        self._budget_spent = finding
        sresult.findings.append(finding)
        if sresult.outcome is not Outcome.ERROR:
            sresult.outcome = Outcome.FAIL


_SET_UP = (Outcome.PASS, Outcome.SKIP, Outcome.NOT_IN_SCOPE)
# What the checks of a step that sent nothing see as its exchange (a TestScript assert).
NO_EXCHANGE = Exchange("", "", {}, b"")


def _goes_on(step: Step) -> bool:
    return step.action is not None and step.action.kind in INDEPENDENT_ACTIONS


def kept_on_resume(
    protocols: list[Protocol], completed: dict[CaseKey, CaseResult]
) -> dict[CaseKey, CaseResult]:
    """The recorded cases a resume keeps. A protocol whose cases share state is kept only
    when all of its cases were recorded: that state is not in the store, so one interrupted
    part-way runs again from its set-up."""
    kept = dict(completed)
    for protocol in protocols:
        keys = [(protocol.id, c.id) for c in protocol.cases]
        if protocol.shares_state and not all(k in completed for k in keys):
            for key in keys:
                kept.pop(key, None)
    return kept


@contextmanager
def _extra_headers(transport: Transport, headers: dict[str, str]) -> Iterator[None]:
    """`headers` on every request of the step, where the transport can carry them."""
    if not headers or not isinstance(transport, ExtraHeaders):
        yield
        return
    before = transport.extra_headers
    transport.extra_headers = {**before, **headers}
    try:
        yield
    finally:
        transport.extra_headers = before


def _synthetic_only(persons: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The run's own persons, refused unless synthetic: a real-format CPR never enters."""
    for key, person in persons.items():
        problem = synthetic_cpr_problem(str(person.get("cpr", "")))
        if problem:
            raise ValueError(f"run person {key!r}: {problem}")
    return dict(persons)


def _health_capabilities(body: bytes) -> tuple[Capabilities | None, str]:
    """The capabilities a health answer declares, or None and why they cannot be used.

    A health answer without `capabilities` declares nothing (everything is in scope); one
    whose declaration breaks the contract is not trusted with the scope either, and the run
    says so.
    """
    try:
        data = parse_json(body)
    except PayloadError:
        return None, ""
    if not isinstance(data, dict) or "capabilities" not in data:
        return None, ""
    errors = sorted(
        jsonschema.Draft202012Validator(capabilities_schema()).iter_errors(data["capabilities"]),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        return None, (
            f"the health answer's capabilities were not used: {where or 'capabilities'}: "
            f"{errors[0].message[:200]}"
        )
    return Capabilities.from_dict(data["capabilities"], "agent-health"), ""


def _party(peer: dict[str, Any]) -> dict[str, str]:
    return {"sor": str(peer.get("sor", "")), "gln": str(peer.get("gln", ""))}


def _first_problem(sresult: StepResult) -> Finding:
    return next(
        (f for f in sresult.findings if f.is_problem),
        Finding(NOT_EVALUATED, Severity.OK, sresult.message, Location(), sresult.step.id),
    )


def _not_evaluated(
    step: Step, why: str, root: Finding | None, t0: float | None = None
) -> StepResult:
    """A step that builds on a failed one: SKIP, naming the root finding it depends on."""
    reason = f"not evaluated: {why}"
    if root is not None and root_reason(root) not in why:
        reason += f" ({root_reason(root)})"
    note = Finding(NOT_EVALUATED, Severity.OK, reason, Location(str(step.source), "yaml"), step.id)
    took = (time.perf_counter() - t0) * 1000 if t0 is not None else 0.0
    return StepResult(step, Outcome.SKIP, [note], message=reason, duration_ms=took)


def _skipped_check(
    expectation: Expectation, step: Step, root: Finding | None, why: str = ""
) -> Finding:
    """A check of a step that the step's root finding leaves nothing to judge."""
    reason = f"not evaluated: {expectation.kind}"
    if why:
        reason += f": {why}"
    if root is not None and root_reason(root) not in why:
        reason += f" (depends on {root_reason(root)})"
    return Finding(
        NOT_EVALUATED, Severity.OK, reason, Location(str(expectation.source), "yaml"), step.id
    )


def _error(step: Step, message: str, t0: float, exchanges: list[Any] | None = None) -> StepResult:
    return StepResult(
        step,
        Outcome.ERROR,
        [Finding("KCERT-ERROR", Severity.OK, message, Location(str(step.source), "yaml"))],
        exchanges or [],
        message=message,
        duration_ms=(time.perf_counter() - t0) * 1000,
    )
