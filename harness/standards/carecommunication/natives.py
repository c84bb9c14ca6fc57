"""Python versions of MedCom CareCommunication's invariants (cc-1 … cc-15), registered with the
profile validator's natives (`harness.validators.fhirprofile.medcom.register_context_natives`).

Keyed by the exact expression text, as every native: a package that changes an expression is
judged by FHIRPath. Each answers what fhirpathpy answers, quirks included; where the input is
unusual (walk.Defer) it answers None and fhirpathpy decides. test_fhirprofile_natives.py compares
both on every node of the corpus and of mutated messages.
"""

from __future__ import annotations

from typing import Any

from harness.validators.fhirprofile import walk
from harness.validators.fhirprofile.medcom import ContextNative, bundle_resources, is_only
from harness.validators.fhirprofile.walk import Context, Defer, Json

PRACTITIONER_EXTENSION = (
    "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitioner-extension"
)
CC_SD = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"


def _starts_with(values: list[Any], prefix: str) -> bool | None:
    # startsWith(): empty in, empty out; an empty string never starts with anything
    string = walk.singleton_string(values)
    return None if string is None else bool(string) and string.startswith(prefix)


def cc_1(item: Any, ctx: Context) -> bool | None:
    first = walk.objects([item], "entry")[:1]
    headers = walk.of_type(walk.objects(first, "resource"), "MessageHeader")
    profiles = walk.children(walk.objects(headers, "meta"), "profile")
    return bool(_starts_with(profiles, CC_SD + "medcom-careCommunication-messageHeader"))


def cc_2(item: Any, ctx: Context) -> bool | None:
    patients = 0
    for entry in walk.objects([item], "entry"):
        resources = walk.objects([entry], "resource")
        if len(resources) > 1:
            raise Defer  # is() on several items raises in fhirpathpy
        patients += sum(walk.resource_type(r) == "Patient" for r in resources)
    return patients == 1


def cc_3(item: Any, ctx: Context) -> bool | None:
    wanted = CC_SD + "medcom-careCommunication-provenance"
    for provenance in bundle_resources(item, "Provenance"):
        profiles = walk.children(walk.objects([provenance], "meta"), "profile")
        if not _starts_with(profiles, wanted):  # all(): empty counts as not true
            return False
    return True


def cc_4(item: Any, ctx: Context) -> bool | None:
    return bool(walk.children(bundle_resources(item, "Practitioner"), "name"))


def cc_13(item: Any, ctx: Context) -> bool | None:
    roles = bundle_resources(item, "PractitionerRole", rooted=True)
    return bool(walk.children(walk.objects(roles, "practitioner"), "reference"))


def _references(values: list[Any]) -> list[str]:
    """`.reference` of Reference values; other types have none."""
    found: list[str] = []
    for value in values:
        if isinstance(value, dict):
            found += walk.strings([value], "reference")
        elif not isinstance(value, str | bool | int | float):
            raise Defer
    return found


def _organisation_of_author(authors: list[Json], ctx: Context, sender: list[Json]) -> bool:
    """managingOrganization or organization of the resolved authors `=` the sender; both
    sides of `or` are evaluated first, as fhirpathpy does (either may be what raises)."""
    answers = [
        walk.equal_first(ctx.resolve(walk.strings(walk.objects(authors, via), "reference")), sender)
        for via in ("managingOrganization", "organization")
    ]
    return any(answers)


def _resource_var(ctx: Context) -> Any:
    resource = ctx.resource
    if not isinstance(resource, dict):
        raise Defer
    return resource


def cc_11(item: Any, ctx: Context) -> bool | None:
    communications = bundle_resources(item, "Communication", rooted=True)
    extensions = walk.objects(communications, "extension")
    headers = bundle_resources(_resource_var(ctx), "MessageHeader")
    sender = ctx.resolve(walk.strings(walk.objects(headers, "sender"), "reference"))
    authors = ctx.resolve(_references(walk.choice_values(extensions, "value")))
    return _organisation_of_author(authors, ctx, sender) or not extensions


def cc_12(item: Any, ctx: Context) -> bool | None:
    communications = bundle_resources(item, "Communication", rooted=True)
    recipients = walk.objects(communications, "recipient")
    headers = bundle_resources(_resource_var(ctx), "MessageHeader")
    destinations = walk.objects(headers, "destination")
    receiver = ctx.resolve(walk.strings(walk.objects(destinations, "receiver"), "reference"))
    authors = ctx.resolve(walk.strings(recipients, "reference"))
    return _organisation_of_author(authors, ctx, receiver) or not recipients


def _category_codes(communication: Any) -> list[str]:
    categories = walk.objects([communication], "category")
    return walk.strings(walk.objects(categories, "coding"), "code")


def cc_5(item: Any, ctx: Context) -> bool | None:
    # where(codes != 'regarding-referral').priority.empty(); `!=` on no codes is empty, so
    # where() drops the Communication then too
    codes = _category_codes(item)
    if not codes or is_only(codes, "regarding-referral"):
        return True
    return not walk.children([item], "priority")


def cc_6(item: Any, ctx: Context) -> bool | None:
    # iif(codes != 'other', true, codes = 'other' and topic.exists()); with no codes both
    # comparisons are empty, and `empty and x` is never true
    codes = _category_codes(item)
    if not codes:
        return False
    if not is_only(codes, "other"):
        return True
    return bool(walk.children([item], "topic"))


def _practitioner_extensions(communication: Any) -> list[tuple[Json, list[Json]]]:
    """(payload, its extensions) for each payload, with the first practitioner extension as
    fhirpathpy's extension(url) reads it: it indexes every extension's url."""
    found = []
    for payload in walk.objects([communication], "payload"):
        extensions = walk.objects([payload], "extension")
        if not all(isinstance(e.get("url"), str) for e in extensions):
            raise Defer  # extension(url) raises on an extension without url
        if isinstance(payload.get("extension"), dict):
            raise Defer
        first = [e for e in extensions if e["url"] == PRACTITIONER_EXTENSION][:1]
        found.append((payload, first))
    return found


def cc_7(item: Any, ctx: Context) -> bool | None:
    values = walk.choice_values(
        [e for _, first in _practitioner_extensions(item) for e in first], "value"
    )
    if not all(isinstance(v, dict) for v in values):
        raise Defer  # resolve() would read a string value as a reference
    for role in ctx.resolve(values):
        codes = walk.objects([role], "code")
        coded = bool(walk.children(walk.objects(codes, "coding"), "code"))
        if coded == bool(walk.children(codes, "text")):  # xor
            return False
    return True


def cc_8(item: Any, ctx: Context) -> bool | None:
    payloads = [payload for payload, first in _practitioner_extensions(item) if first]
    extensions = walk.objects(payloads, "extension")
    roles = ctx.resolve(_references(walk.choice_values(extensions, "value")))
    practitioners = ctx.resolve(walk.children(roles, "practitioner"))
    return bool(walk.children(practitioners, "name"))


def cc_9(item: Any, ctx: Context) -> bool | None:
    if not walk.children([item], "encounter"):
        return True
    encounters = ctx.resolve(walk.strings(walk.objects([item], "encounter"), "reference"))
    return bool(walk.children(walk.objects(encounters, "episodeOfCare"), "identifier"))


def cc_15(item: Any, ctx: Context) -> bool | None:
    present = bool(walk.children([item], "encounter"))
    communication = walk.rooted(item, "Communication")  # both branches start there
    if not present:
        return True
    return bool(walk.children(walk.objects([communication], "encounter"), "reference"))


NATIVES: dict[str, ContextNative] = {
    "entry[0].resource.ofType(MessageHeader).meta.profile.startsWith('http://medcomfhir.dk/ig/"
    "carecommunication/StructureDefinition/medcom-careCommunication-messageHeader')": cc_1,
    "entry.where(resource.is(Patient)).count() = 1": cc_2,
    "entry.resource.ofType(Provenance).all(meta.profile.startsWith('http://medcomfhir.dk/ig/"
    "carecommunication/StructureDefinition/medcom-careCommunication-provenance'))": cc_3,
    "entry.resource.ofType(Practitioner).name.exists()": cc_4,
    "Bundle.entry.resource.ofType(PractitionerRole).practitioner.reference.exists()": cc_13,
    "Bundle.entry.resource.ofType(Communication).extension.value.reference.resolve()"
    ".managingOrganization.reference.resolve()\n"
    "        = %resource.entry.resource.ofType(MessageHeader).sender.reference.resolve()\n"
    "    or Bundle.entry.resource.ofType(Communication).extension.value.reference.resolve()"
    ".organization.reference.resolve()\n"
    "        = %resource.entry.resource.ofType(MessageHeader).sender.reference.resolve()\n"
    "    or Bundle.entry.resource.ofType(Communication).extension.exists().not()": cc_11,
    "Bundle.entry.resource.ofType(Communication).recipient.reference.resolve()"
    ".managingOrganization.reference.resolve() = %resource.entry.resource.ofType(MessageHeader)"
    ".destination.receiver.reference.resolve() or Bundle.entry.resource.ofType(Communication)"
    ".recipient.reference.resolve().organization.reference.resolve() = %resource.entry.resource"
    ".ofType(MessageHeader).destination.receiver.reference.resolve() or Bundle.entry.resource"
    ".ofType(Communication).recipient.exists().not()": cc_12,
    "where(category.coding.code != 'regarding-referral').priority.empty()": cc_5,
    "iif(category.coding.code != 'other', true, category.coding.code = 'other' and "
    "topic.exists())": cc_6,
    "payload.extension('" + PRACTITIONER_EXTENSION + "').value.resolve().all(code.coding.code"
    ".exists() xor code.text.exists())": cc_7,
    "payload.where(extension('" + PRACTITIONER_EXTENSION + "').exists()).extension.value"
    ".reference.resolve().practitioner.resolve().name.exists()": cc_8,
    "iif(encounter.exists().not(), true, encounter.reference.resolve().episodeOfCare.identifier"
    ".exists())": cc_9,
    "iif(encounter.exists(), Communication.encounter.reference.exists(), "
    "Communication.encounter.exists().not())": cc_15,
}
