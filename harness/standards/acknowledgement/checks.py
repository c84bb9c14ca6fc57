"""MedCom acknowledgement rules: the answer to a message, checked rule by rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks import profiles
from harness.checks.diagnostics import with_quote
from harness.checks.fhir_checks import outcome_findings
from harness.checks.registry import CHECKS, CheckContext, NotEvaluated
from harness.fhir.fhirpath import FhirPathError, evaluate, truthy
from harness.model.finding import Finding
from harness.model.outcome import Severity

EVENT_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
ACK_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
)
SOR = "urn:oid:1.2.208.176.1.1"
GLN = "https://www.gs1.org/gln"

# The acknowledgement package's invariant medcom-acknowledgement-1, restated: a response
# other than ok must come with an OperationOutcome.
_OO_WHEN_NOT_OK = (
    "entry.resource.ofType(MessageHeader).response.code = 'ok'"
    " or entry.resource.ofType(OperationOutcome).exists()"
)

_ACK_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code"],
    "properties": {
        "code": {"enum": ["ok", "transient-error", "fatal-error"]},
        "mentions": {"type": "array", "items": {"type": "string"}},
    },
}


def _header(bundle: dict[str, Any]) -> dict[str, Any] | None:
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return None
    first = entries[0].get("resource")
    if isinstance(first, dict) and first.get("resourceType") == "MessageHeader":
        return dict(first)
    return None


def _resolve(bundle: dict[str, Any], ref: Any) -> dict[str, Any] | None:
    target = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(target, str):
        return None
    for entry in bundle.get("entry", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        res: dict[str, Any] = entry["resource"]
        if entry.get("fullUrl") == target or f"{res.get('resourceType')}/{res.get('id')}" == target:
            return res
    return None


def _ids(org: dict[str, Any] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for ident in (org or {}).get("identifier", []) or []:
        if isinstance(ident, dict) and ident.get("system") in (SOR, GLN):
            found["sor" if ident["system"] == SOR else "gln"] = str(ident.get("value", ""))
    return found


def _same_party(org: dict[str, Any] | None, party: dict[str, str]) -> bool:
    ids = _ids(org)
    return bool(ids) and any(ids.get(k) == party.get(k) for k in ("sor", "gln") if ids.get(k))


def read_ack(ctx: CheckContext) -> tuple[dict[str, Any], dict[str, Any]] | list[Finding]:
    """The acknowledgement Bundle and its MessageHeader, or the findings why there is none."""
    problems = ctx.fhir_problems()
    if problems:
        return problems
    bundle = ctx.response_resource() or {}
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message":
        return [
            ctx.bad_answer(
                "ACK-TYPE",
                f"expected an acknowledgement message Bundle, got {bundle.get('resourceType')}"
                f" of type {bundle.get('type')}",
                "Bundle.type",
                "fhirpath",
            )
        ]
    header = _header(bundle)
    if header is None:
        return [
            ctx.root(
                ctx.finding(
                    "ACK-HEADER",
                    "the first entry is not a MessageHeader",
                    "Bundle.entry[0].resource",
                )
            )
        ]
    return bundle, header


@CHECKS.register("ack", _ACK_SCHEMA)
def ack(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The answer is a MedCom acknowledgement of the sent message with the expected code, and
    it meets MedCom's acknowledgement profile (with the packs; a named not-run without)."""
    if ctx.exchange.status != 200:
        # One root cause, one finding: the answer to a refused message is not judged further.
        yield ctx.bad_status(
            "200 with an acknowledgement", "ACK-HTTP", "a message must be answered 200"
        )
        return
    got = read_ack(ctx)
    if isinstance(got, list):
        yield from got
        return
    bundle, header = got
    hp = "Bundle.entry[0].resource"
    event = header.get("eventCoding") or {}
    if event.get("system") != EVENT_SYSTEM or event.get("code") != "acknowledgement-message":
        yield ctx.finding(
            "ACK-EVENT",
            f"event is {event.get('system')}#{event.get('code')}, expected acknowledgement-message",
            f"{hp}.eventCoding",
        )
    response = header.get("response") or {}
    sent_id = ctx.sent.header_id if ctx.sent else ""
    if response.get("identifier") != sent_id:
        hint = ""
        if ctx.sent and response.get("identifier") == ctx.sent.bundle_id:
            hint = " (that is the Bundle.id: the MessageHeader.id must be used)"
        yield ctx.finding(
            "ACK-REF",
            f"response.identifier is {response.get('identifier')!r}, expected the sent "
            f"MessageHeader.id {sent_id!r}{hint}",
            f"{hp}.response.identifier",
        )
    if response.get("code") != params["code"]:
        yield ctx.finding(
            "ACK-CODE",
            with_quote(
                f"response.code is {response.get('code')!r}, expected {params['code']!r}",
                ctx.exchange,
            ),
            f"{hp}.response.code",
        )
    yield from _addressing(ctx, bundle, header)
    yield from _outcome(ctx, bundle, header, params.get("mentions", []))
    profiles = (bundle.get("meta") or {}).get("profile") or []
    if not any(str(p).startswith(ACK_PROFILE) for p in profiles):
        yield ctx.finding(
            "ACK-PROFILE",
            "Bundle.meta.profile does not name the MedCom acknowledgement profile",
            "Bundle.meta.profile",
            severity=Severity.F4,
        )
    yield from ack_profile(ctx)


def ack_profile(ctx: CheckContext) -> Iterator[Finding]:
    """The acknowledgement against MedCom's acknowledgement profile (whatever it declares), in
    the acknowledgement version that belongs with the CareCommunication version the SUT
    claims (or the one it claims for the acknowledgement)."""
    yield from profiles.validate(
        ctx,
        ctx.exchange,
        ctx.exchange.response_body,
        ctx.exchange.response_content_type,
        "MedCom acknowledgement profile validation",
        profile=ACK_PROFILE,
        answer=True,
    )


def _addressing(
    ctx: CheckContext, bundle: dict[str, Any], header: dict[str, Any]
) -> Iterator[Finding]:
    """Sender and receiver are swapped: the SUT answers from itself to whoever sent."""
    sender = _resolve(bundle, header.get("sender"))
    if not _same_party(sender, ctx.sut_identity):
        yield ctx.finding(
            "ACK-SENDER",
            f"acknowledgement sender {_ids(sender) or 'unresolved'} is not the SUT "
            f"(SOR {ctx.sut_identity.get('sor')})",
            "Bundle.entry[0].resource.sender",
        )
    destinations = header.get("destination") or [{}]
    receiver = _resolve(bundle, destinations[0].get("receiver"))
    if not _same_party(receiver, ctx.peer_identity):
        yield ctx.finding(
            "ACK-RECEIVER",
            f"acknowledgement receiver {_ids(receiver) or 'unresolved'} is not the original "
            f"sender (SOR {ctx.peer_identity.get('sor')})",
            "Bundle.entry[0].resource.destination[0].receiver",
        )


def _outcome(
    ctx: CheckContext, bundle: dict[str, Any], header: dict[str, Any], mentions: list[str]
) -> Iterator[Finding]:
    try:
        holds = truthy(evaluate(bundle, _OO_WHEN_NOT_OK))
    except FhirPathError as exc:
        yield ctx.finding("ACK-OO", f"invariant could not be evaluated: {exc}", _OO_WHEN_NOT_OK)
        return
    if not holds:
        yield ctx.finding(
            "ACK-OO",
            "a response other than ok must carry an OperationOutcome (medcom-acknowledgement-1)",
            _OO_WHEN_NOT_OK,
        )
        return
    response = header.get("response") or {}
    if response.get("code") == "ok":
        return
    outcome = _resolve(bundle, response.get("details"))
    if outcome is None or outcome.get("resourceType") != "OperationOutcome":
        yield ctx.finding(
            "ACK-OO-REF",
            "response.details does not reference the OperationOutcome in the Bundle",
            "Bundle.entry[0].resource.response.details",
        )
        return
    yield from outcome_findings(ctx, outcome, "OperationOutcome", mentions)


@CHECKS.register(
    "same-ack",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["as"],
        "properties": {"as": {"type": ["string", "integer"]}},
    },
)
def same_ack(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """A duplicate is answered like the original: same response code for the same message."""
    ref = str(params["as"])
    earlier = ctx.earlier.get(ref)
    if earlier is not None and earlier.parsed is None and earlier.root is not None:
        raise NotEvaluated(f"step {ref} gave no acknowledgement to compare with", earlier.root)
    got = read_ack(ctx)
    if isinstance(got, list):
        yield from got
        return
    if earlier is None or earlier.parsed is None:
        said = with_quote("", earlier.exchange) if earlier and earlier.exchange else ""
        yield ctx.finding("ACK-DUP", f"step {ref} has no acknowledgement to compare with{said}")
        return
    _, header = got
    first = _header(earlier.parsed) or {}
    now_resp, first_resp = header.get("response") or {}, first.get("response")
    if not isinstance(first_resp, dict):
        first_resp = {}
    for key in ("identifier", "code"):
        if now_resp.get(key) != first_resp.get(key):
            yield ctx.finding(
                "ACK-DUP",
                f"duplicate answered with response.{key} {now_resp.get(key)!r}, the original "
                f"with {first_resp.get(key)!r}",
                f"Bundle.entry[0].resource.response.{key}",
            )
