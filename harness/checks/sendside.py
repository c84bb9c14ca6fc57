"""Checks on what the SUT sent to kcert's peer, and on how it handled the answer."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from harness.checks import profiles
from harness.checks.gs1 import valid_gln
from harness.checks.registry import ANSWER, CHECKS, DELIVERY, CheckContext, NotEvaluated
from harness.fhir.fhirpath import FhirPathError, evaluate
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.packs.store import PackStore
from harness.safeparse import PayloadError, parse_json, parse_xml

CC = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
# The published canonical URL of each resource's profile in a CareCommunication message.
CARECOMMUNICATION_PROFILES = {
    "Bundle": CC + "medcom-careCommunication-message",
    "MessageHeader": CC + "medcom-careCommunication-messageHeader",
    "Communication": CC + "medcom-careCommunication-communication",
    "Provenance": CC + "medcom-careCommunication-provenance",
    "Patient": CORE + "medcom-core-patient",
    "Practitioner": CORE + "medcom-core-practitioner",
    "PractitionerRole": CORE + "medcom-core-practitionerrole",
    "CareTeam": CORE + "medcom-core-careteam",
    "Organization": "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
    "medcom-messaging-organization",
}
# A few MedCom CareCommunication invariants kcert always checks, even without the packages
# (with them, the profile validator checks every invariant): key -> (context, FHIRPath).
BUILT_IN_INVARIANTS = {
    "medcom-careCommunication-2": ("Bundle", "entry.where(resource.is(Patient)).count() = 1"),
    "medcom-careCommunication-4": ("Bundle", "entry.resource.ofType(Practitioner).name.exists()"),
    "medcom-careCommunication-6": (
        "Communication",
        "iif(category.coding.code != 'other', true, topic.exists())",
    ),
}
OIOXML = "{http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/}"
NOTHING: dict[str, Any] = {"type": "object", "additionalProperties": False}


def inbound(ctx: CheckContext) -> list[Exchange]:
    return ctx.inbound()


def _at(
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


@CHECKS.register("sent-carecommunication", NOTHING)
def sent_carecommunication(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The CareCommunication the SUT sent: readable, from the SUT, to the peer, about the
    patient, with the published profile URLs, keeping MedCom's invariants; with the FHIR
    packages installed, validated against the MedCom profiles as well."""
    yield from _nothing_arrived(ctx)
    for exchange in inbound(ctx)[:1]:
        try:
            bundle = parse_json(exchange.request_body)
        except PayloadError as exc:
            found = _at(ctx, exchange, "SEND-PARSE", f"not readable FHIR JSON: {exc}", "", "http")
            yield ctx.root(found, DELIVERY)
            continue
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            found = _at(ctx, exchange, "SEND-PARSE", "the message is not a FHIR Bundle", "")
            yield ctx.root(found, DELIVERY)
            continue
        yield from _identities(ctx, exchange, bundle)
        yield from _profiles(ctx, exchange, bundle)
        yield from _invariants(ctx, exchange, bundle)
        yield from _profile_validation(ctx, exchange)


def _nothing_arrived(ctx: CheckContext) -> Iterator[Finding]:
    """A check of what the SUT sent, when it sent nothing: the root finding, or not
    evaluated when the step's send request already failed."""
    if inbound(ctx):
        return
    if ANSWER in ctx.roots:
        raise NotEvaluated("nothing arrived to judge", ctx.roots[ANSWER])
    yield ctx.bad_answer(
        "SEND-NOTHING", "the SUT sent nothing to the receiving peer", "", "http", (DELIVERY,)
    )


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object of the SUT's message, or an empty one where it put something else (its
    shape is the profile validation's to judge; the checks here must not trip over it)."""
    return value if isinstance(value, dict) else {}


def _resources(bundle: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
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


def _identities(ctx: CheckContext, exchange: Exchange, bundle: dict[str, Any]) -> Iterator[Finding]:
    resources = _resources(bundle)
    header = next((r for _, r in resources if r.get("resourceType") == "MessageHeader"), {})
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for _, r in resources}
    sender_ref = str(_obj(header.get("sender")).get("reference", ""))
    sender = by_ref.get(sender_ref, {})
    if ctx.sut_identity.get("gln") not in _identifier_values(sender):
        yield _at(
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
        yield _at(
            ctx,
            exchange,
            "SEND-DESTINATION",
            f"no destination endpoint names the receiver's SOR {peer_sor}",
            "Bundle.entry[0].resource.destination",
        )
    patients = [r for _, r in resources if r.get("resourceType") == "Patient"]
    cpr = ctx.person.get("cpr", "")
    if cpr and not any(cpr in _identifier_values(p) for p in patients):
        yield _at(
            ctx,
            exchange,
            "SEND-PATIENT",
            "the message is not about the test patient",
            "Bundle.entry.resource.ofType(Patient).identifier",
        )


def _profiles(ctx: CheckContext, exchange: Exchange, bundle: dict[str, Any]) -> Iterator[Finding]:
    for index, resource in [(-1, bundle), *_resources(bundle)]:
        kind = str(resource.get("resourceType", ""))
        wanted = CARECOMMUNICATION_PROFILES.get(kind)
        profiles = _obj(resource.get("meta")).get("profile") or []
        if wanted and (not isinstance(profiles, list) or wanted not in profiles):
            where = "Bundle" if index < 0 else f"Bundle.entry[{index}].resource"
            yield _at(
                ctx,
                exchange,
                "SEND-PROFILE",
                f"{kind}.meta.profile is {profiles!r}, expected {wanted}",
                f"{where}.meta.profile",
            )


def _invariants(ctx: CheckContext, exchange: Exchange, bundle: dict[str, Any]) -> Iterator[Finding]:
    for key, (context, expression) in BUILT_IN_INVARIANTS.items():
        targets = (
            [(-1, bundle)]
            if context == "Bundle"
            else [(i, r) for i, r in _resources(bundle) if r.get("resourceType") == context]
        )
        for index, target in targets:
            try:
                result = evaluate(target, expression)
            except FhirPathError as exc:
                yield _at(
                    ctx,
                    exchange,
                    "KCERT-FHIRPATH",
                    f"{key} not evaluated: {exc}",
                    severity=Severity.OK,
                )
                continue
            if result != [True]:
                where = "Bundle" if index < 0 else f"Bundle.entry[{index}].resource"
                yield _at(
                    ctx, exchange, "SEND-INVARIANT", f"{key} does not hold: {expression}", where
                )


def _profile_validation(ctx: CheckContext, exchange: Exchange) -> Iterator[Finding]:
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
            yield _at(
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
    if ctx.notes.get("kind") == "carecommunication" and header_id != first_id:
        yield _at(
            ctx,
            got[0],
            "SEND-RESEND-ID",
            f"the resend has MessageHeader.id {header_id!r}, the original {first_id!r}",
            "Bundle.entry[0].resource.id",
        )
    if ctx.notes.get("kind") == "carecommunication":
        yield from _profile_validation(ctx, got[0])


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


@lru_cache(maxsize=4)
def _oioxml_schemas(pack_hash: str) -> Any:
    from harness.validators.oioxml import OioxmlSchemas

    pack = next(p for p in PackStore().of_kind("oioxml-schema") if p.sha256 == pack_hash)
    return OioxmlSchemas(pack)


def _x(root: Any, path: str) -> str:
    found = root.find(path.replace("m:", OIOXML))
    return (found.text or "").strip() if found is not None else ""


@CHECKS.register(
    "sent-referral",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["diagnosis"],
        "properties": {"diagnosis": {"type": "string", "pattern": "^D[A-Z][0-9]{1,4}$"}},
    },
)
def sent_referral(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The referral (OIOXML REF01): valid against the installed schema, about the patient,
    from the SUT to the municipality (GLN with GS1 check digit), with a reason and the
    package's diagnosis."""
    yield from _nothing_arrived(ctx)
    for exchange in inbound(ctx)[:1]:
        try:
            root = parse_xml(exchange.request_body)
        except PayloadError as exc:
            found = _at(
                ctx, exchange, "REF-PARSE", f"the referral is not usable XML: {exc}", "", "http"
            )
            yield ctx.root(found, DELIVERY)
            continue
        packs = PackStore().of_kind("oioxml-schema")
        if packs:
            for f in _oioxml_schemas(packs[-1].sha256).iter_findings(
                root, exchange.evidence.get("R", "")
            ):
                yield Finding(f.rule_id, ctx.severity, f.message, f.location, ctx.step_id)
        else:
            yield ctx.pack_missing(exchange, "oioxml-schema", "OIOXML schema validation")
        letter = "m:HospitalReferral/"
        checks = [
            (
                "REF-PATIENT",
                letter + "m:Patient/m:CivilRegistrationNumber",
                ctx.person.get("cpr", ""),
                "the patient's CPR",
            ),
            (
                "REF-SENDER",
                letter + "m:Sender/m:EANIdentifier",
                ctx.sut_identity.get("gln", ""),
                "the SUT's GLN",
            ),
            (
                "REF-RECEIVER",
                letter + "m:Receiver/m:EANIdentifier",
                str(ctx.peer_identity.get("gln", "")),
                "the municipality's GLN",
            ),
        ]
        for rule, path, wanted, what in checks:
            got = _x(root, path)
            if got != wanted:
                yield _at(
                    ctx,
                    exchange,
                    rule,
                    f"{path.replace('m:', '')} is {got!r}, not {what}",
                    "/Emessage/" + path.replace("m:", ""),
                    "xpath",
                )
            if rule != "REF-PATIENT" and got and not valid_gln(got):
                yield _at(
                    ctx,
                    exchange,
                    "REF-GLN-CHECK",
                    f"{got} is not a GLN: wrong GS1 check digit",
                    "/Emessage/" + path.replace("m:", ""),
                    "xpath",
                )
        if not _x(root, letter + "m:AdditionalInformation/m:ClinicalReason"):
            yield _at(
                ctx,
                exchange,
                "REF-REASON",
                "the referral gives no clinical reason",
                "/Emessage/HospitalReferral/AdditionalInformation/ClinicalReason",
                "xpath",
            )
        code = _x(root, letter + "m:Referral/m:Refer/m:DiagnoseCode")
        if not code.startswith(params["diagnosis"]):
            yield _at(
                ctx,
                exchange,
                "REF-DIAGNOSIS",
                f"diagnosis {code!r} does not fit the package ({params['diagnosis']}…)",
                "/Emessage/HospitalReferral/Referral/Refer/DiagnoseCode",
                "xpath",
            )
