"""Checks on what the SUT sent to kcert's peer, and on how it handled the answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks import profiles
from harness.checks.registry import ANSWER, CHECKS, DELIVERY, CheckContext, NotEvaluated
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.kinds import KINDS
from harness.model.outcome import Severity
from harness.safeparse import PayloadError, parse_json

NOTHING: dict[str, Any] = {"type": "object", "additionalProperties": False}


def _is_fhir(kind: Any) -> bool:
    """Whether the step's message kind is a FHIR message (its resend keeps MessageHeader.id)."""
    found = KINDS.get(kind) if isinstance(kind, str) else None
    return found is not None and found.syntax == "fhir"


def inbound(ctx: CheckContext) -> list[Exchange]:
    return ctx.inbound()


def at(
    ctx: CheckContext,
    exchange: Exchange,
    rule: str,
    message: str,
    path: str = "",
    language: str = "fhirpath",
    severity: Severity | None = None,
) -> Finding:
    return ctx.finding_on(exchange, rule, message, path, language, severity)


@CHECKS.register(
    "message-sent",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"count": {"type": "integer", "minimum": 0, "maximum": 10}},
    },
)
def message_sent(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The SUT sent (exactly `count`, default at least one) message(s) to kcert's peer."""
    got = len(inbound(ctx))
    if ctx.exchange.status is not None and not 200 <= ctx.exchange.status < 300 and not got:
        # The agent refused the send request and nothing came: one finding, not two.
        yield ctx.bad_status("2xx", "AGENT-HTTP", "the send request", (ANSWER, DELIVERY))
        return
    if ctx.exchange.status is not None and not 200 <= ctx.exchange.status < 300:
        yield ctx.bad_status("2xx", "AGENT-HTTP", "the send request")
    wanted = params.get("count")
    if wanted is None and got == 0:
        yield ctx.bad_answer(
            "SEND-NOTHING", "the SUT sent nothing to the receiving peer", "", "http", (DELIVERY,)
        )
    elif wanted is not None and got != wanted:
        finding = ctx.bad_answer(
            "SEND-COUNT",
            f"the SUT sent {got} message(s) to the peer, expected {wanted}",
            "",
            "http",
            (DELIVERY,) if got == 0 else (),
        )
        yield finding


def nothing_arrived(ctx: CheckContext) -> Iterator[Finding]:
    """A check of what the SUT sent, when it sent nothing: the root finding, or not
    evaluated when the step's send request already failed."""
    if inbound(ctx):
        return
    if ANSWER in ctx.roots:
        raise NotEvaluated("nothing arrived to judge", ctx.roots[ANSWER])
    yield ctx.bad_answer(
        "SEND-NOTHING", "the SUT sent nothing to the receiving peer", "", "http", (DELIVERY,)
    )


def obj(value: Any) -> dict[str, Any]:
    """A JSON object of the SUT's message, or an empty one where it put something else (its
    shape is the profile validation's to judge; the checks here must not trip over it)."""
    return value if isinstance(value, dict) else {}


def resources_of(bundle: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    entries = bundle.get("entry")
    out = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            out.append((index, resource))
    return out


def _identifier_values(resource: dict[str, Any]) -> set[str]:
    values = resource.get("identifier")
    return (
        {str(i.get("value")) for i in values if isinstance(i, dict)}
        if isinstance(values, list)
        else set()
    )


def identities(ctx: CheckContext, exchange: Exchange, bundle: dict[str, Any]) -> Iterator[Finding]:
    resources = resources_of(bundle)
    header = next((r for _, r in resources if r.get("resourceType") == "MessageHeader"), {})
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for _, r in resources}
    sender_ref = str(obj(header.get("sender")).get("reference", ""))
    sender = by_ref.get(sender_ref, {})
    if ctx.sut_identity.get("gln") not in _identifier_values(sender):
        yield at(
            ctx,
            exchange,
            "SEND-SENDER",
            "MessageHeader.sender is not the SUT's organisation (GLN)",
            "Bundle.entry[0].resource.sender",
        )
    destinations = header.get("destination")
    endpoints = (
        [str(d.get("endpoint", "")) for d in destinations if isinstance(d, dict)]
        if isinstance(destinations, list)
        else []
    )
    peer_sor = str(ctx.peer_identity.get("sor", ""))
    if not any(e.endswith(f"={peer_sor}") for e in endpoints):
        yield at(
            ctx,
            exchange,
            "SEND-DESTINATION",
            f"no destination endpoint names the receiver's SOR {peer_sor}",
            "Bundle.entry[0].resource.destination",
        )
    patients = [r for _, r in resources if r.get("resourceType") == "Patient"]
    cpr = ctx.person.get("cpr", "")
    if cpr and not any(cpr in _identifier_values(p) for p in patients):
        yield at(
            ctx,
            exchange,
            "SEND-PATIENT",
            "the message is not about the test patient",
            "Bundle.entry.resource.ofType(Patient).identifier",
        )


def profile_validation(ctx: CheckContext, exchange: Exchange) -> Iterator[Finding]:
    """The message against MedCom's profiles, in the version the SUT claims (profiles.py)."""
    yield from profiles.validate(
        ctx,
        exchange,
        exchange.request_body,
        exchange.request_content_type,
        "MedCom profile validation",
    )


@CHECKS.register(
    "resent",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["expected"],
        "properties": {"expected": {"type": "boolean"}},
    },
)
def resent(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """After the resend timer: a message never acknowledged comes again with the same
    MessageHeader.id (expected: true); a refused one (fatal error) does not (false)."""
    got = inbound(ctx)
    first_id = str(ctx.notes.get("message_id", ""))
    if not got and (ctx.exchange.status is None or not 200 <= ctx.exchange.status < 300):
        # The agent refused to fire the resend timer: that is the one finding.
        yield ctx.bad_status("2xx", "AGENT-HTTP", "the resend request", (ANSWER, DELIVERY))
        return
    if not params["expected"]:
        if got:
            yield at(
                ctx,
                got[0],
                "SEND-RESENT",
                "the SUT sent the message again although it was refused (fatal-error)",
                "",
                "http",
            )
        return
    if not got:
        yield ctx.bad_answer(
            "SEND-NO-RESEND",
            "no acknowledgement came, yet the SUT did not send the message again",
            "",
            "http",
            (DELIVERY,),
        )
        return
    try:
        bundle = parse_json(got[0].request_body)
        header_id = str(bundle["entry"][0]["resource"]["id"])
    except (PayloadError, KeyError, IndexError, TypeError):
        header_id = ""
    fhir = _is_fhir(ctx.notes.get("kind"))
    if fhir and header_id != first_id:
        yield at(
            ctx,
            got[0],
            "SEND-RESEND-ID",
            f"the resend has MessageHeader.id {header_id!r}, the original {first_id!r}",
            "Bundle.entry[0].resource.id",
        )
    if fhir:
        yield from profile_validation(ctx, got[0])


@CHECKS.register(
    "outbox-status",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {
            "status": {"enum": ["acknowledged", "failed", "rejected", "awaiting-ack"]},
            "shown_to_user": {"type": "boolean"},
        },
    },
)
def outbox_status(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """What the SUT did with the answer: marked it, and showed a refusal to the user."""
    if ctx.exchange.status is None or not 200 <= ctx.exchange.status < 300:
        yield ctx.bad_status("200", "AGENT-HTTP", "the outbox lookup")
        return
    try:
        data = parse_json(ctx.exchange.response_body)
        item = data["messages"][0]
        status, shown = item["status"], item["shownToUser"]
    except (PayloadError, KeyError, IndexError, TypeError):
        yield ctx.bad_answer(
            "AGENT-FORMAT", "the outbox answer is not {'messages': [{...}]}", "/messages/0"
        )
        return
    if status != params["status"]:
        yield ctx.finding(
            "SEND-STATUS",
            f"the SUT marks the message {status!r}, expected {params['status']!r}",
            "/messages/0/status",
            "json-pointer",
        )
    if "shown_to_user" in params and shown is not params["shown_to_user"]:
        yield ctx.finding(
            "SEND-NOT-SHOWN" if params["shown_to_user"] else "SEND-SHOWN",
            "the refusal is not shown to the user"
            if params["shown_to_user"]
            else "the user is shown a problem although the message was accepted",
            "/messages/0/shownToUser",
            "json-pointer",
        )
