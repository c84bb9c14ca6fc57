"""A TestScript's actions as the runner's registered actions and checks.

One step per TestScript action (`protocol.to_protocol`): an operation is the action
`testscript-operation` with the check `testscript-operation` (what kcert's own checks found of
what arrived: an attachment other than asked for is TESTSCRIPT-SENT, F2; what kcert did on the
way are TESTSCRIPT-NOTE remarks); an assert is the action `testscript-assert` (it evaluates the
assert on the script's state and sends nothing) with the check `testscript-assert`
(TESTSCRIPT-ASSERT: F2, or F4 with warningOnly). The runner's ladder decides the rest:
a refused or silent SUT is `SutFault` (TESTSCRIPT-SUT, a failed step quoting the SUT), kcert's
and the script's own faults an error naming the action (`file:test[0].action[2]`).

The script's state (fixtures, variables, the calls so far, kcert's mailbox) lives in the
runner's per-protocol `ActionContext.shared`, from its setup to its teardown; which script a
protocol is comes from the run's `Runner.context` (`SUITE`, a `Suite`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.checks import CHECKS, CheckContext
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.runner.actions import (
    ACTIONS,
    INDEPENDENT_ACTIONS,
    STOP_CASE,
    ActionContext,
    ActionError,
    ActionResult,
    CaseEnds,
    SutFault,
)
from harness.runner.operations import ACTION_OPERATIONS
from harness.testscript.asserts import Verdict, judge
from harness.testscript.context import Call, ScriptState, SutFailure, Unsupported
from harness.testscript.fixtures import FixtureMap
from harness.testscript.operations import MAILBOX, perform
from harness.testscript.profiles import ProfileSource
from harness.testscript.protocol import action_text
from harness.testscript.roles import outside_role
from harness.testscript.script import Script, Where
from harness.transport.base import TransportError
from harness.transport.capabilities import SideChannelRecord

OPERATION = "testscript-operation"
ASSERT = "testscript-assert"
SUITE = "testscript.suite"  # Runner.context key
_STATE = "testscript.state"  # ActionContext.shared key
_CALL = "testscript.call"  # ActionResult.notes keys, read by the checks
_VERDICT = "testscript.verdict"
_WHERE = "testscript.where"
_TEXT = "testscript.text"

ASSERT_RULE = "TESTSCRIPT-ASSERT"
NOTE_RULE = "TESTSCRIPT-NOTE"
SENT_RULE = "TESTSCRIPT-SENT"  # kcert's own check of what the SUT sent (attachments)
SUT_RULE = "TESTSCRIPT-SUT"  # the SUT's test agent refused, or the SUT sent nothing

# An assert kcert cannot evaluate does not stop the next one (each judges on its own).
INDEPENDENT_ACTIONS.add(ASSERT)
# Which agent operations a script calls depends on what it asks; its scope is its role.
ACTION_OPERATIONS.setdefault(OPERATION, ())
ACTION_OPERATIONS.setdefault(ASSERT, ())

_ELEMENT = {"type": "object", "description": "the TestScript action element, as written"}
_NOTHING = {"type": "object", "additionalProperties": False}


@dataclass
class Suite:
    """The TestScripts of a run, by protocol id, with what their fixtures and
    validateProfileId asserts need."""

    scripts: dict[str, Script] = field(default_factory=dict)
    fixture_map: FixtureMap = field(default_factory=FixtureMap)
    profiles: ProfileSource = field(default_factory=ProfileSource.none)


def _place(ctx: ActionContext) -> tuple[ScriptState, Where]:
    """The script's state (made at its first action) and this action's place in it."""
    suite = ctx.run_context.get(SUITE)
    protocol, step = ctx.protocol, ctx.step
    if not isinstance(suite, Suite) or protocol is None or step is None:
        raise ActionError("a TestScript action outside a TestScript run")
    script = suite.scripts.get(protocol.id)
    if script is None:
        raise ActionError(f"protocol {protocol.id} is not one of the run's TestScripts")
    state = ctx.shared.get(_STATE)
    if not isinstance(state, ScriptState):
        state = ScriptState(
            script,
            ctx.transport,
            ctx.sut,
            suite.fixture_map,
            suite.profiles,
            peer_servers=ctx.peer_servers,  # the session's peers, never a global server
        )
        ctx.shared[_STATE] = state
    state.new_id = ctx.renderer.new_id
    # the step's source names its place: <script path>#<section>.action[<index>]
    section, _, index = step.source.file.rpartition("#")[2].rpartition(".action[")
    state.block = dict(script.blocks()).get(section, {})
    role = outside_role(script)
    if role:
        raise CaseEnds(role)
    return state, Where(script.file, section, int(index.rstrip("]") or 0))


@ACTIONS.register(OPERATION, _ELEMENT)
def operation(ctx: ActionContext, **op: Any) -> ActionResult:
    """A TestScript operation: against the SUT, or kcert's mailbox when the SUT is the client."""
    state, where = _place(ctx)
    stop = "not run: an earlier operation of this test did not complete"
    try:
        call = perform(state, op)
    except Unsupported as exc:
        ctx.state[STOP_CASE] = stop
        raise ActionError(f"unsupported: {exc}", where=str(where)) from None
    except SutFailure as exc:
        # one root cause, one finding: what reads the missing answer is not judged
        ctx.state[STOP_CASE] = f"not evaluated: the SUT failed the operation at {where}"
        raise SutFault(SUT_RULE, f"{exc} ({where})", exc.exchanges) from None
    except ActionError as exc:
        ctx.state[STOP_CASE] = stop
        raise ActionError(str(exc), exc.exchanges, where=str(where)) from None
    except TransportError as exc:
        ctx.state[STOP_CASE] = stop
        raise TransportError(f"{exc} ({where})") from None
    except Exception:
        ctx.state[STOP_CASE] = stop
        raise  # kcert's own fault: the runner makes it an error verdict
    _consume_local(ctx, call)
    exchanges = call.exchanges()
    status = f"HTTP {call.status}" if call.status is not None else "no status"
    message = "; ".join([f"{call.method} {call.url}: {status}", *call.problems, *call.notes])
    return ActionResult(
        exchanges[0] if exchanges else None,
        more=exchanges[1:],
        notes={_CALL: call, _WHERE: str(where)},
        message=message,
    )


def _consume_local(ctx: ActionContext, call: Call) -> None:
    """Replaying, the calls kcert answered itself (its mailbox) are taken off the record so
    the next request meets its own recorded answer."""
    if not isinstance(ctx.transport, SideChannelRecord):
        return
    for exchange in call.exchanges():
        if exchange.url.startswith(MAILBOX):
            ctx.transport.take_recorded(exchange.method)


@CHECKS.register(OPERATION, _NOTHING)
def operation_findings(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """What kcert's own checks of the operation found (attachments) and what it noted."""
    call = ctx.notes.get(_CALL)
    if not isinstance(call, Call):
        return
    where = Location(str(ctx.notes.get(_WHERE, "")), "testscript")
    for note in call.notes:
        yield Finding(NOTE_RULE, Severity.OK, note, where, ctx.step_id)
    for text in call.problems:
        yield Finding(SENT_RULE, Severity.F2, text, where, ctx.step_id)


@ACTIONS.register(ASSERT, _ELEMENT)
def assertion(ctx: ActionContext, **spec: Any) -> ActionResult:
    """A TestScript assert, evaluated on the script's state (nothing is sent)."""
    state, where = _place(ctx)
    try:
        verdict = judge(state, spec)
    except Unsupported as exc:
        raise ActionError(f"unsupported: {exc}", where=str(where)) from None
    except ActionError as exc:
        raise ActionError(str(exc), exc.exchanges, where=str(where)) from None
    message = verdict.message
    if verdict.result != "pass":
        message = f"{action_text({'assert': spec})}: {verdict.message}"
        if verdict.result == "fail" and spec.get("stopTestOnFail") is True:
            ctx.state[STOP_CASE] = f"not run: stopTestOnFail after the failed assert at {where}"
    notes = {_VERDICT: verdict, _WHERE: str(where), _TEXT: message}
    return ActionResult(None, notes=notes, message=message)


@CHECKS.register(ASSERT, _NOTHING)
def assert_findings(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The assert's verdict: TESTSCRIPT-ASSERT, F2, or F4 when the script says warningOnly."""
    verdict = ctx.notes.get(_VERDICT)
    if not isinstance(verdict, Verdict) or verdict.result == "pass":
        return
    severity = Severity.F4 if verdict.result == "warning" else Severity.F2
    where = Location(str(ctx.notes.get(_WHERE, "")), "testscript")
    text = str(ctx.notes.get(_TEXT) or verdict.message)
    yield Finding(ASSERT_RULE, severity, text, where, ctx.step_id)
