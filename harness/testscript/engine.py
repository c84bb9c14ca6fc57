"""Run one TestScript: setup, tests, teardown; each action becomes a kcert step result."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.checks.realcpr import guard_step, mask_text
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Protocol, Step, TestCase
from harness.model.result import CaseResult, ProtocolResult, StepResult
from harness.runner.evidence import EvidenceNamer
from harness.sut.config import SutConfig
from harness.testscript.asserts import judge
from harness.testscript.context import ActionError, ScriptState, SutFailure, Unsupported
from harness.testscript.fixtures import FixtureMap
from harness.testscript.operations import perform
from harness.testscript.profiles import ProfileSource
from harness.testscript.protocol import SETUP, TEARDOWN, action_text, to_protocol
from harness.testscript.roles import outside_role
from harness.testscript.script import Script, Where
from harness.transport.base import Transport, TransportError, now_iso
from harness.transport.peer import PeerServers

ASSERT_RULE = "TESTSCRIPT-ASSERT"
NOTE_RULE = "TESTSCRIPT-NOTE"
SENT_RULE = "TESTSCRIPT-SENT"  # kcert's own check of what the SUT sent (attachments)
ERROR_RULE = "KCERT-ERROR"
SUT_RULE = "TESTSCRIPT-SUT"  # the SUT's test agent refused, or the SUT sent nothing


@dataclass
class ActionResult:
    """One action's result as TestReport states it."""

    kind: str  # "operation" or "assert"
    result: str  # pass, fail, warning, error, skip
    message: str
    detail: str = ""


@dataclass
class SectionResult:
    section: str  # setup, test[n], teardown
    case: CaseResult
    actions: list[ActionResult] = field(default_factory=list)
    name: str = ""
    description: str = ""


@dataclass
class ScriptResult:
    script: Script
    protocol: Protocol
    result: ProtocolResult
    sections: list[SectionResult]
    issued: str = field(default_factory=now_iso)


CaseListener = Callable[[Protocol, CaseResult], None]


def ignore(protocol: Protocol, case: CaseResult) -> None:
    return None


class ScriptRunner:
    """Runs TestScripts against one SUT through one transport."""

    def __init__(
        self,
        transport: Transport,
        sut: SutConfig,
        fixture_map: FixtureMap | None = None,
        profiles: ProfileSource | None = None,
        listener: CaseListener = ignore,
        strict_cpr: bool = False,
        peer_servers: PeerServers | None = None,
    ) -> None:
        self.transport = transport
        # kcert's peers: the session's; a runner without a session keeps its own (close())
        self.peer_servers = peer_servers if peer_servers is not None else PeerServers()
        self._owns_peers = peer_servers is None
        self.strict_cpr = strict_cpr  # a body with a real-format CPR is not kept at all
        self.sut = sut
        self.fixture_map = fixture_map or FixtureMap()
        self.profiles = profiles or ProfileSource.none()
        self.listener = listener

    def close(self) -> None:
        """Stop the peer servers this runner started itself (a session closes its own)."""
        if self._owns_peers:
            self.peer_servers.close()

    def run(self, script: Script, protocol_id: str = "", unreachable: str = "") -> ScriptResult:
        protocol = to_protocol(script, protocol_id or script.id)
        state = ScriptState(
            script,
            self.transport,
            self.sut,
            self.fixture_map,
            self.profiles,
            peer_servers=self.peer_servers,
        )
        namer = EvidenceNamer(protocol.id)
        presult = ProtocolResult(protocol)
        sections: list[SectionResult] = []
        setup_problem = ""
        role = outside_role(script)
        for case, (section, block) in zip(protocol.cases, script.blocks(), strict=True):
            if unreachable:
                done = _not_run(protocol, case, section, unreachable)
            elif role:
                done = _skipped(protocol, case, section, role)
            elif setup_problem and section not in (SETUP, TEARDOWN):
                reason = f"not run: the setup of {script.file} failed (see its setup case)"
                done = _not_run(protocol, case, section, reason)
            else:
                done = self._run_block(state, protocol, case, section, block, namer)
            done.name = str(block.get("name") or "")
            done.description = str(block.get("description") or "")
            if section == SETUP and done.case.outcome is not Outcome.PASS:
                setup_problem = done.case.error or _first_problem(done.case)
            sections.append(done)
            presult.cases.append(done.case)
            self.listener(protocol, done.case)
        return ScriptResult(script, protocol, presult, sections)

    def _run_block(
        self,
        state: ScriptState,
        protocol: Protocol,
        case: TestCase,
        section: str,
        block: dict[str, Any],
        namer: EvidenceNamer,
    ) -> SectionResult:
        result = CaseResult(case, protocol.id, started=now_iso())
        done = SectionResult(section, result)
        t0 = time.perf_counter()
        stop = ""
        state.block = block
        for index, (step, action) in enumerate(zip(case.steps, block["action"], strict=True)):
            where = Where(state.script.file, section, index)
            kind = "operation" if "operation" in action else "assert"
            if stop:
                result.steps.append(StepResult(step, Outcome.SKIP, message=stop))
                done.actions.append(ActionResult(kind, "skip", stop))
                continue
            if kind == "operation":
                sresult, aresult = self._operation(state, step, action["operation"], where)
                if sresult.outcome is Outcome.ERROR:
                    stop = "not run: an earlier operation of this test did not complete"
                elif any(f.rule_id == SUT_RULE for f in sresult.findings):
                    # one root cause, one finding: what reads the missing answer is not judged
                    stop = f"not evaluated: the SUT failed the operation at {where}"
                for exchange in sresult.exchanges:
                    namer.name(exchange, f"{case.id}.{step.id}")
            else:
                sresult, aresult = self._assert(state, step, action["assert"], where)
                if aresult.result == "fail" and action["assert"].get("stopTestOnFail") is True:
                    stop = f"not run: stopTestOnFail after the failed assert at {where}"
            self._guard(step, sresult, aresult)
            if sresult.outcome is Outcome.ERROR and not result.error:
                result.error = sresult.message
            result.steps.append(sresult)
            done.actions.append(aresult)
        result.duration_ms = (time.perf_counter() - t0) * 1000
        return done

    def _guard(self, step: Step, sresult: StepResult, aresult: ActionResult) -> None:
        """Where a step's exchanges enter the record: real-format CPR numbers are masked."""
        guard_step(sresult, step.id, self.strict_cpr)
        aresult.message = mask_text(aresult.message)
        aresult.detail = mask_text(aresult.detail)
        if sresult.outcome is Outcome.FAIL and aresult.result == "pass":
            aresult.result = "fail"

    def _operation(
        self, state: ScriptState, step: Step, op: dict[str, Any], where: Where
    ) -> tuple[StepResult, ActionResult]:
        t0 = time.perf_counter()
        try:
            call = perform(state, op)
        except Unsupported as exc:
            return _error(step, f"unsupported: {exc} ({where})", t0, "operation")
        except SutFailure as exc:
            return _sut_failed(step, f"{exc} ({where})", t0, exc.exchanges)
        except ActionError as exc:
            return _error(step, f"{exc} ({where})", t0, "operation", exc.exchanges)
        except TransportError as exc:
            return _error(step, f"{exc} ({where})", t0, "operation")
        except Exception as exc:  # kcert's own fault: an error verdict, never a crash
            text = f"operation failed inside kcert: {type(exc).__name__}: {exc} ({where})"
            return _error(step, text, t0, "operation")
        findings = [
            Finding(NOTE_RULE, Severity.OK, note, Location(str(where), "testscript"), step.id)
            for note in call.notes
        ]
        findings += [
            Finding(SENT_RULE, Severity.F2, text, Location(str(where), "testscript"), step.id)
            for text in call.problems
        ]
        status = f"HTTP {call.status}" if call.status is not None else "no status"
        message = "; ".join([f"{call.method} {call.url}: {status}", *call.problems, *call.notes])
        exchanges = call.exchanges()
        elapsed = (time.perf_counter() - t0) * 1000
        outcome = Outcome.FAIL if call.problems else Outcome.PASS
        sresult = StepResult(step, outcome, findings, exchanges, message, elapsed)
        verdict = "fail" if call.problems else "pass"
        return sresult, ActionResult("operation", verdict, message, call.url)

    def _assert(
        self, state: ScriptState, step: Step, spec: dict[str, Any], where: Where
    ) -> tuple[StepResult, ActionResult]:
        t0 = time.perf_counter()
        try:
            verdict = judge(state, spec)
        except Unsupported as exc:
            return _error(step, f"unsupported: {exc} ({where})", t0, "assert")
        except ActionError as exc:
            return _error(step, f"{exc} ({where})", t0, "assert")
        except Exception as exc:  # kcert's own fault
            text = f"assert failed inside kcert: {type(exc).__name__}: {exc} ({where})"
            return _error(step, text, t0, "assert")
        elapsed = (time.perf_counter() - t0) * 1000
        if verdict.result == "pass":
            return (
                StepResult(step, Outcome.PASS, message=verdict.message, duration_ms=elapsed),
                ActionResult("assert", "pass", verdict.message),
            )
        severity = Severity.F4 if verdict.result == "warning" else Severity.F2
        text = f"{action_text({'assert': spec})}: {verdict.message}"
        finding = Finding(ASSERT_RULE, severity, text, Location(str(where), "testscript"), step.id)
        sresult = StepResult(step, Outcome.FAIL, [finding], message=text, duration_ms=elapsed)
        return sresult, ActionResult("assert", verdict.result, text)


def _sut_failed(
    step: Step, message: str, t0: float, exchanges: list[Exchange]
) -> tuple[StepResult, ActionResult]:
    """The SUT answered and broke the contract: the step fails with that one finding."""
    return _ended(step, message, t0, "operation", exchanges, (Outcome.FAIL, SUT_RULE, Severity.F2))


def _error(
    step: Step, message: str, t0: float, kind: str, exchanges: list[Exchange] | None = None
) -> tuple[StepResult, ActionResult]:
    """kcert could not carry the action out: an error, not a finding against the SUT."""
    return _ended(step, message, t0, kind, exchanges, (Outcome.ERROR, ERROR_RULE, Severity.OK))


def _ended(
    step: Step,
    message: str,
    t0: float,
    kind: str,
    exchanges: list[Exchange] | None,
    how: tuple[Outcome, str, Severity],
) -> tuple[StepResult, ActionResult]:
    outcome, rule, severity = how
    finding = Finding(rule, severity, message, Location("", "testscript"), step.id)
    sresult = StepResult(
        step,
        outcome,
        [finding],
        list(exchanges or []),
        message=message,
        duration_ms=(time.perf_counter() - t0) * 1000,
    )
    return sresult, ActionResult(kind, outcome.value, message)


def _not_run(protocol: Protocol, case: TestCase, section: str, reason: str) -> SectionResult:
    result = CaseResult(case, protocol.id, started=now_iso(), error=reason)
    done = SectionResult(section, result)
    for step in case.steps:
        kind = step.action.kind.split(".")[-1] if step.action else "operation"
        done.actions.append(ActionResult(kind, "skip", reason))
    return done


def _skipped(protocol: Protocol, case: TestCase, section: str, reason: str) -> SectionResult:
    """A case kcert does not run on purpose (outside the role): skipped, with the reason."""
    result = CaseResult(case, protocol.id, started=now_iso())
    done = SectionResult(section, result)
    for step in case.steps:
        kind = step.action.kind.split(".")[-1] if step.action else "operation"
        result.steps.append(StepResult(step, Outcome.SKIP, message=reason))
        done.actions.append(ActionResult(kind, "skip", reason))
    return done


def _first_problem(case: CaseResult) -> str:
    for step in case.steps:
        if step.outcome in (Outcome.FAIL, Outcome.ERROR):
            return step.message
    return "did not pass"
