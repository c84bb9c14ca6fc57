"""Profile validation of what the SUT produces: the one helper every check uses that judges FHIR
the SUT sent or answered (messages, acknowledgements, OperationOutcomes), against the official
profiles in the validation context of the standard version under test.

Findings it yields, besides the validator's own (errors carry the case's severity, warnings
are shown as remarks that do not fail the step):
- PACK-MISSING (OK): a named not-run: no FHIR package installed, the claimed version not
  installed, or a check inside the context that a missing dependency prevents;
- FHIR-CONTEXT (OK): the validation context the resource was judged in;
- FHIR-WARNING (OK): a validator warning, its own rule id first in the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.checks.registry import CheckContext
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.packs.store import PackStore
from harness.validators.api import ValidatorContext

ACK_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
)
ACK_EVENT = "acknowledgement-message"

# A context choice: a package (name, version), None (the package defining the resource's
# profile decides), or the not-run note that says why the claimed version cannot be used.
Choice = tuple[str, str] | str | None


@lru_cache(maxsize=4)
def _validator(store_root: str, pack_hashes: tuple[str, ...]) -> Any:
    from harness.validators.fhirprofile import ProfileIndex, ProfileValidator

    roots = [p.root for p in PackStore(Path(store_root)).installed() if p.sha256 in pack_hashes]
    return ProfileValidator(ProfileIndex.from_packages(roots))


def validator() -> Any:
    """The profile validator over the run's FHIR packages, or None when there are none."""
    store = PackStore()
    hashes = tuple(sorted(p.sha256 for p in store.of_kind("fhir-package")))
    if not hashes:
        return None
    return _validator(str(store.root), hashes)


def clear_cache() -> None:
    _validator.cache_clear()


def validate(
    ctx: CheckContext,
    exchange: Exchange,
    body: bytes,
    content_type: str,
    what: str,
    profile: str | None = None,
    answer: bool = False,
) -> Iterator[Finding]:
    """Validate what the SUT produced (`body` of `exchange`) against `profile` (None: the
    profiles it declares). `answer`: it answers a message, so it is judged in the response
    package version that belongs with the message package the SUT claims."""
    from harness.safeparse import PayloadError
    from harness.validators.fhirprofile.reading import read_instance

    found = validator()
    if found is None:
        yield ctx.pack_missing(exchange, "fhir-package", what)
        return
    evidence = exchange.evidence.get("R", "")
    try:
        instance = read_instance(body, evidence, found.index, content_type)
    except PayloadError:
        return  # unreadable: the check's own parse finding says so, once
    if instance.resource is None:
        return
    wanted = [profile] if profile else _declared(instance.resource)
    undefined = [url for url in wanted if not found.index.defining(url)]
    for url in undefined:
        yield ctx.finding_on(
            exchange,
            "PACK-MISSING",
            f"{what}: not run: pack missing (no installed FHIR package defines {url})",
            "",
            "",
            Severity.OK,
        )
    if profile in undefined:
        profile = None  # the base definitions (and what it declares) still apply
    choice = (
        response_context(found, ctx.standards, profile, _answered_event(ctx))
        if answer and profile
        else claimed_context(found, instance.resource, ctx.standards, profile)
    )
    if isinstance(choice, str):
        yield ctx.finding_on(exchange, "PACK-MISSING", f"{what}: {choice}", "", "", Severity.OK)
        return
    asked = ValidatorContext(evidence, profile, choice, instance.lines)
    judged = list(found.iter_findings(instance.resource, asked))
    judged_in = asked.fhir_context.describe() if asked.fhir_context else ""
    yield ctx.finding_on(
        exchange,
        "FHIR-CONTEXT",
        f"{what}: judged in the validation context {judged_in}",
        "",
        "",
        Severity.OK,
    )
    for gap in asked.not_run:
        yield ctx.finding_on(exchange, "PACK-MISSING", f"not run: {gap}", "", "", Severity.OK)
    for finding in [*instance.findings, *judged]:
        if finding.blocking:
            yield Finding(
                finding.rule_id, ctx.severity, finding.message, finding.location, ctx.step_id
            )
        elif finding.is_problem:
            # A validator warning (an extensible binding, a reference to a resource outside
            # the message) does not make the instance invalid, as in MedCom's validator: it is
            # shown, and it does not fail the step.
            yield Finding(
                "FHIR-WARNING",
                Severity.OK,
                f"{finding.rule_id}: {finding.message}",
                finding.location,
                ctx.step_id,
            )


def _declared(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None  # a hostile shape: none
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def _claims(standards: tuple[str, ...]) -> dict[str, str]:
    return dict(s.split("#", 1) for s in standards if "#" in s)


def _installed(found: Any, name: str) -> str:
    return ", ".join(v for n, v in sorted(found.index.packages) if n == name) or "none"


def claimed_context(
    found: Any, resource: dict[str, Any], standards: tuple[str, ...], profile: str | None = None
) -> Choice:
    """The package version the SUT claims for this resource (None: none claimed, the package
    that defines its profile decides), or the not-run note when that version is not
    installed: never another version in its place."""
    if not standards:
        return None
    claimed = _claims(standards)
    for url in [profile] if profile else _declared(resource):
        defining = found.index.defining(url)
        for name in sorted({k[0] for k in defining} & set(claimed)):
            if (name, claimed[name]) in defining:
                return (name, claimed[name])
            return (
                f"not run: pack missing ({name} {claimed[name]}, the version the SUT claims; "
                f"installed: {_installed(found, name)})"
            )
    return None


def _answered_event(ctx: CheckContext) -> str:
    """The event code of the message kcert sent in the step (what the answer answers)."""
    if ctx.sent is None:
        return ""
    try:
        return str(ctx.sent.resource["entry"][0]["resource"]["eventCoding"]["code"])
    except (KeyError, IndexError, TypeError):
        return ""


def response_context(
    found: Any, standards: tuple[str, ...], profile: str, event: str = ""
) -> Choice:
    """The package in which an answer to a message (an acknowledgement) is judged: the version
    the SUT claims for it; else the version the MessageDefinition of a claimed message package
    allows (CareCommunication 5.0 -> Acknowledgement 2.0 -> the newest installed 2.0.x); with
    nothing claimed, the package defining the profile."""
    from harness.validators.fhirprofile.messagedefs import (
        installed_in_version,
        message_events,
        response_version,
    )

    if not standards:
        return None
    direct = claimed_context(found, {}, standards, profile)
    if direct is not None:
        return direct
    defining = found.index.defining(profile)
    names = sorted({k[0] for k in defining}) or ["the package defining " + profile]

    def answers_it(claim: str) -> bool:
        name, _, version = claim.partition("#")
        key = (name, version)
        return key in found.index.packages and event in message_events(found.index, key)

    # the claimed package of the answered message first (several message standards may be
    # claimed, each allowing its own acknowledgement version)
    for claim in sorted(standards, key=lambda c: not answers_it(c)):
        name, _, version = claim.partition("#")
        if (name, version) not in found.index.packages:
            continue  # its own check names the missing claim
        allowed = response_version(found.index, (name, version), ACK_EVENT)
        if allowed is None:
            continue
        matching = installed_in_version(found.index, profile, allowed.version)
        if matching:
            return matching[0]
        return (
            f"not run: pack missing ({names[0]} {allowed.version}.x, the acknowledgement "
            f"version {allowed.source} allows for {claim}; installed: "
            f"{_installed(found, names[0])})"
        )
    return (
        f"not run: the acknowledgement version is unknown: no MessageDefinition in the context "
        f"of {', '.join(standards)} names the acknowledgement it allows (claim "
        f"{names[0]}#VERSION in the SUT configuration's standards)"
    )
