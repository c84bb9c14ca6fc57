"""Step actions: what a step does to the SUT. Each returns the exchange it caused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from harness.checks.diagnostics import OPERATION_MISSING, status_message
from harness.checks.registry import NotEvaluated, Sent, StepRecord, root_reason
from harness.fhir.resource import FHIR_JSON, FHIR_XML, FhirReadError, to_xml
from harness.fixtures import TemplateError, TemplateRenderer
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.model.protocol import Protocol as ProtocolModel
from harness.model.protocol import Step
from harness.registry import Registry
from harness.sut.config import SutConfig
from harness.transport.base import Transport
from harness.transport.peer import PeerServers


class ActionError(Exception):
    """An action could not be carried out for a reason on kcert's side (bad fixture, agent).

    `exchanges`: what was said on the way, kept as evidence of the error. `where`: the
    action's own place when it knows it better than its step's source line (a TestScript
    action: `file:test[0].action[2]`); the message then ends with it.
    """

    def __init__(
        self, message: str, exchanges: list[Exchange] | None = None, where: str = ""
    ) -> None:
        super().__init__(message)
        self.exchanges = list(exchanges or [])
        self.where = where


class CaseEnds(Exception):
    """What follows in this test case does not run, this step included: each is SKIP with
    the reason (a TestScript outside the LPS role). Not a finding, not an error."""


# ActionContext.state key: set by an action, the rest of its test case is SKIP with this
# reason (a TestScript's stopTestOnFail, or the operation the SUT failed that later asserts
# read). Set before an error, the case goes on to record them instead of stopping there.
STOP_CASE = "kcert.stop-case"
# Actions whose error leaves the rest of the case to run: each judges on its own (a
# TestScript assert that kcert cannot evaluate does not stop the next one).
INDEPENDENT_ACTIONS: set[str] = set()


class SutFault(Exception):
    """The SUT's answer makes the action impossible (a refused operation, a body that breaks
    the contract): a finding against the SUT, never kcert's error. The engine gives it the
    case's severity, records it as the step's root finding and fails the step."""

    def __init__(self, rule_id: str, message: str, exchanges: list[Exchange] | None = None):
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message
        self.exchanges = exchanges or []

    def finding(self, severity: Severity, step_id: str) -> Finding:
        evidence = self.exchanges[0].evidence.get("R", "") if self.exchanges else ""
        path = "status" if self.rule_id in STATUS_RULES else ""
        return Finding(
            self.rule_id, severity, self.message, Location(path, "http", None, evidence), step_id
        )


STATUS_RULES = frozenset({OPERATION_MISSING, "AGENT-HTTP"})
# Steps that set the stage for the rest of a test case: when one fails, what follows is
# not evaluated (its findings would all be consequences of the failed set-up).
SETUP_ACTIONS = frozenset({"reset", "load-population"})


def refused(exchange: Exchange, what: str, rule: str = "AGENT-HTTP") -> SutFault:
    """An operation the SUT answered with an error status: missing, or refused."""
    override, message = status_message(exchange, "2xx")
    return SutFault(override or rule, f"{what}: {message}", [exchange])


def builds_on(ctx: ActionContext, ref: Any, what: str) -> StepRecord:
    """The earlier step this one builds on. A missing step is the protocol's mistake. A step
    whose answer was unusable at its root (refused, unreadable, nothing delivered) leaves
    nothing to build on: this one is then not evaluated, naming that root finding, instead
    of failing a second time for the same cause."""
    record = ctx.earlier.get(str(ref))
    if record is None:
        raise ActionError(f"step {ref} did not run before this one: {what}")
    if record.root is not None:
        raise NotEvaluated(f"{what}, but {root_reason(record.root)}", record.root)
    return record


class ManualStepPending(Exception):
    """The SUT does this operation by hand and the tester has not recorded the result yet.

    The message tells the tester what to do; the step is pending, not failed.
    """


@dataclass
class ActionContext:
    transport: Transport
    sut: SutConfig
    renderer: TemplateRenderer
    persons: dict[str, dict[str, str]]
    peers: dict[str, dict[str, Any]]
    earlier: dict[str, StepRecord]
    state: dict[str, Any] = field(default_factory=dict)  # shared by the steps of one case
    # shared by the cases of one protocol, in order (a TestScript's variables, fixtures and
    # responses, from its setup to its teardown): see Protocol.setup_case
    shared: dict[str, Any] = field(default_factory=dict)
    # what the front door prepared for the whole run (`Runner.context`: the TestScripts)
    run_context: dict[str, Any] = field(default_factory=dict)
    protocol: ProtocolModel | None = None
    step: Step | None = None
    # kcert's peers the SUT sends to: the session's (the runner passes them), never a global
    peer_servers: PeerServers = field(default_factory=PeerServers)
    # the run's own seed for generated populations (RunOptions.population_seed), or None
    population_seed: int | None = None


@dataclass
class ActionResult:
    exchange: Exchange | None  # None: an action that reads kcert's own state, sends nothing
    sent: Sent | None = None
    person: dict[str, str] = field(default_factory=dict)
    peer: dict[str, Any] = field(default_factory=dict)
    more: list[Exchange] = field(default_factory=list)  # further requests of the same step
    notes: dict[str, Any] = field(default_factory=dict)  # what checks need to know about them
    message: str = ""  # what the step did, in words (the report's step message)

    @property
    def exchanges(self) -> list[Exchange]:
        return [e for e in (self.exchange, *self.more) if e is not None]


class ActionFunc(Protocol):
    def __call__(self, ctx: ActionContext, **params: Any) -> ActionResult: ...


ACTIONS: Registry[ActionFunc] = Registry("action")

_FORMAT = {"enum": ["json", "xml"]}


def sut_party(sut: SutConfig) -> dict[str, str]:
    return {"sor": sut.sor, "gln": sut.gln, "name": sut.org_name or sut.name}


@ACTIONS.register(
    "send-message",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["template"],
        "properties": {
            "template": {"type": "string", "pattern": r"^[\w./-]+\.j2$"},
            "person": {"type": "string"},
            "peer": {"type": "string"},
            "format": _FORMAT,
            "vars": {"type": "object"},
        },
    },
)
def send_message(ctx: ActionContext, **params: Any) -> ActionResult:
    """Render a message template with fresh ids and POST it to $process-message."""
    person = lookup(ctx.persons, params.get("person", "kol-karen"), "person")
    peer = lookup(ctx.peers, params.get("peer", "kommune"), "peer")
    try:
        rendered = ctx.renderer.render(
            params["template"],
            {
                "patient": person,
                "peer": peer,
                "sut": sut_party(ctx.sut),
                "vars": params.get("vars", {}),
                "steps": earlier_sent(ctx),
            },
        )
    except TemplateError as exc:
        raise ActionError(str(exc)) from None
    fmt = params.get("format", "json")
    if fmt == "xml":
        try:
            body = to_xml(rendered.resource)
        except FhirReadError as exc:
            raise ActionError(
                f"template {params['template']} cannot be sent as XML: {exc}"
            ) from None
        content_type = FHIR_XML
    else:
        import json

        body = json.dumps(rendered.resource, ensure_ascii=False, indent=1).encode("utf-8")
        content_type = FHIR_JSON
    sent = Sent(rendered.resource, rendered.ids, fmt, body, content_type)
    return ActionResult(_post_message(ctx, sent), sent, person, peer)


@ACTIONS.register(
    "resend",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["step"],
        "properties": {"step": {"type": ["string", "integer"]}},
    },
)
def resend(ctx: ActionContext, **params: Any) -> ActionResult:
    """Send the exact bytes of an earlier step again: a duplicate."""
    earlier = builds_on(ctx, params["step"], "a duplicate needs the original to have arrived")
    if earlier.sent is None:
        raise ActionError(f"step {params['step']} sent no message to resend")
    return ActionResult(
        _post_message(ctx, earlier.sent), earlier.sent, earlier.person, earlier.peer
    )


@ACTIONS.register(
    "send-raw",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["body", "content_type"],
        "properties": {"body": {"type": "string"}, "content_type": {"type": "string"}},
    },
)
def send_raw(ctx: ActionContext, **params: Any) -> ActionResult:
    """POST a literal body (for bodies that are not FHIR at all)."""
    body = params["body"].encode("utf-8")
    exchange = ctx.transport.request(
        "fhir",
        "POST",
        "$process-message",
        body,
        {"Content-Type": params["content_type"], "Accept": FHIR_JSON},
    )
    return ActionResult(exchange)


@ACTIONS.register(
    "read-received",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of"],
        "properties": {"of": {"type": ["string", "integer"]}},
    },
)
def read_received(ctx: ActionContext, **params: Any) -> ActionResult:
    """Ask the test agent which messages it stored under an earlier step's MessageHeader.id."""
    earlier = builds_on(ctx, params["of"], "looking a message up needs it to have been taken in")
    if earlier.sent is None:
        raise ActionError(f"step {params['of']} sent no message to look up")
    query = urlencode({"messageHeaderId": earlier.sent.header_id})
    exchange = ctx.transport.request("agent", "GET", f"messages?{query}")
    return ActionResult(exchange, earlier.sent, earlier.person, earlier.peer)


@ACTIONS.register("reset", {"type": "object", "additionalProperties": False})
def reset(ctx: ActionContext, **params: Any) -> ActionResult:
    """Reset the SUT's test data through the test agent."""
    exchange = ctx.transport.request("agent", "POST", "reset")
    if exchange.status is None or exchange.status >= 300:
        raise refused(exchange, "the test agent did not reset the test data")
    return ActionResult(exchange)


def earlier_sent(ctx: ActionContext) -> dict[str, dict[str, Any]]:
    """What the case's earlier steps sent, by step id (`steps['1'].ids.header`, `.resource`):
    a message that continues an earlier one (the next notification of the same hospital stay,
    a cancellation) refers to the ids that message really carried, not to made-up ones."""
    return {
        step: {"ids": dict(record.sent.ids), "resource": record.sent.resource}
        for step, record in ctx.earlier.items()
        if record.sent is not None
    }


def _post_message(ctx: ActionContext, sent: Sent) -> Exchange:
    """POST a message to $process-message, asking for the answer in the format sent."""
    return ctx.transport.request(
        "fhir",
        "POST",
        "$process-message",
        sent.body,
        {"Content-Type": f"{sent.content_type}; charset=utf-8", "Accept": sent.content_type},
    )


def lookup(table: dict[str, Any], key: str, what: str) -> Any:
    """A named person or peer from the fixtures; an unknown name is kcert's error."""
    try:
        return table[key]
    except KeyError:
        raise ActionError(f"unknown {what} {key!r}; known: {', '.join(sorted(table))}") from None
