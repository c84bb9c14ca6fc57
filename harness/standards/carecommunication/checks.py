"""CareCommunication's own checks of what the SUT sent (the shared send-side checks, such as
message-sent and resent, are in harness/checks/sendside.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks.registry import CHECKS, DELIVERY, CheckContext
from harness.checks.sendside import (
    NOTHING,
    at,
    identities,
    inbound,
    nothing_arrived,
    obj,
    profile_validation,
    resources_of,
)
from harness.fhir.fhirpath import FhirPathError, evaluate
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.safeparse import PayloadError, parse_json

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


@CHECKS.register("sent-carecommunication", NOTHING)
def sent_carecommunication(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The CareCommunication the SUT sent: readable, from the SUT, to the peer, about the
    patient, with the published profile URLs, keeping MedCom's invariants; with the FHIR
    packages installed, validated against the MedCom profiles as well."""
    yield from nothing_arrived(ctx)
    for exchange in inbound(ctx)[:1]:
        try:
            bundle = parse_json(exchange.request_body)
        except PayloadError as exc:
            found = at(ctx, exchange, "SEND-PARSE", f"not readable FHIR JSON: {exc}", "", "http")
            yield ctx.root(found, DELIVERY)
            continue
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            found = at(ctx, exchange, "SEND-PARSE", "the message is not a FHIR Bundle", "")
            yield ctx.root(found, DELIVERY)
            continue
        yield from identities(ctx, exchange, bundle)
        yield from _profiles(ctx, exchange, bundle)
        yield from _invariants(ctx, exchange, bundle)
        yield from profile_validation(ctx, exchange)


def _profiles(ctx: CheckContext, exchange: Exchange, bundle: dict[str, Any]) -> Iterator[Finding]:
    for index, resource in [(-1, bundle), *resources_of(bundle)]:
        kind = str(resource.get("resourceType", ""))
        wanted = CARECOMMUNICATION_PROFILES.get(kind)
        profiles = obj(resource.get("meta")).get("profile") or []
        if wanted and (not isinstance(profiles, list) or wanted not in profiles):
            where = "Bundle" if index < 0 else f"Bundle.entry[{index}].resource"
            yield at(
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
            else [(i, r) for i, r in resources_of(bundle) if r.get("resourceType") == context]
        )
        for index, target in targets:
            try:
                result = evaluate(target, expression)
            except FhirPathError as exc:
                yield at(
                    ctx,
                    exchange,
                    "KCERT-FHIRPATH",
                    f"{key} not evaluated: {exc}",
                    severity=Severity.OK,
                )
                continue
            if result != [True]:
                where = "Bundle" if index < 0 else f"Bundle.entry[{index}].resource"
                yield at(
                    ctx, exchange, "SEND-INVARIANT", f"{key} does not hold: {expression}", where
                )
