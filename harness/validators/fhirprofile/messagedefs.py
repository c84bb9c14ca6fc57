"""Which version of a response standard belongs with a message standard.

A message package does not depend on the package of its acknowledgement, so its validation
context cannot say in which acknowledgement version an answer is judged. MedCom's
MessageDefinitions (medcom.fhir.dk.messagedefinitions, a dependency of the message packages)
do: the CareCommunication 5.0 definition allows the response `MedComAcknowledgementMessage
Definition|2.0`. The chain, all read from the installed packages:

    the package's own MessageHeader profiles fix the event code (care-communication-message)
    -> the MessageDefinitions of its context with that event code
    -> their allowedResponse whose MessageDefinition has the response event code
       (acknowledgement-message) -> that definition's version (2.0)
    -> the newest installed package defining the response profile in that version (2.0.x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.validators.fhirprofile.contexts import version_key
from harness.validators.fhirprofile.index import PackageKey, ProfileIndex, split_canonical

MAX_DEFINITIONS = 200  # bounds the search over one context's MessageDefinitions


@dataclass(frozen=True)
class ResponseVersion:
    """The response version a message package allows, and where that was read."""

    version: str  # as the MessageDefinition gives it: "2.0"
    source: str  # "MessageDefinition url|version in package#version"


def message_events(index: ProfileIndex, package: PackageKey) -> frozenset[str]:
    """The event codes the package's own MessageHeader profiles fix (patternCode/fixedCode)."""
    memo_key = f"message-events:{package[0]}#{package[1]}"
    cached = index.memo.get(memo_key)
    if isinstance(cached, frozenset):
        return cached
    events: set[str] = set()
    found = index.packages.get(package)
    for entry in found.entries if found else ():
        if entry.resource_type != "StructureDefinition":
            continue
        definition = entry.resource
        if definition.get("type") != "MessageHeader":
            continue
        for element in (definition.get("snapshot") or {}).get("element") or []:
            if isinstance(element, dict) and element.get("path") == "MessageHeader.event[x].code":
                code = element.get("patternCode") or element.get("fixedCode")
                if isinstance(code, str):
                    events.add(code)
    answer = frozenset(events)
    index.memo[memo_key] = answer
    return answer


def _event_code(definition: dict[str, Any]) -> str:
    coding = definition.get("eventCoding")
    return str(coding.get("code", "")) if isinstance(coding, dict) else ""


def response_version(
    index: ProfileIndex, package: PackageKey, response_event: str
) -> ResponseVersion | None:
    """The version of the response (by its event code) that the package's messages allow, or
    None when no MessageDefinition in the package's context says so."""
    events = message_events(index, package)
    if not events:
        return None
    context = index.context(package)
    seen = 0
    for member in context.members:
        holder = index.packages.get(member)
        for entry in holder.entries if holder else ():
            if entry.resource_type != "MessageDefinition":
                continue
            seen += 1
            if seen > MAX_DEFINITIONS:
                return None
            definition = entry.resource
            if _event_code(definition) not in events:
                continue
            for allowed in definition.get("allowedResponse") or []:
                canonical = allowed.get("message") if isinstance(allowed, dict) else None
                if not isinstance(canonical, str):
                    continue
                response = index.resource(canonical, context)
                if response is None or _event_code(response) != response_event:
                    continue
                version = split_canonical(canonical)[1] or str(response.get("version", ""))
                if version:
                    where = f"{entry.url}|{entry.version} in {member[0]}#{member[1]}"
                    return ResponseVersion(version, f"MessageDefinition {where}")
    return None


def installed_in_version(index: ProfileIndex, profile: str, version: str) -> list[PackageKey]:
    """The installed packages defining `profile` whose version is `version` or one of its
    patch releases (2.0 -> 2.0, 2.0.3), newest first."""
    matching = [
        key
        for key in index.defining(profile)
        if key[1] == version or key[1].startswith(version + ".")
    ]
    return sorted(matching, key=lambda k: version_key(k[1]), reverse=True)
