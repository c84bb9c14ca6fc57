"""Receive MedCom FHIR messages and build acknowledgements: the reference LPS's own logic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from harness.reflps.identity import ClinicIdentity
from harness.reflps.standards import Handler, by_event
from harness.reflps.storage import Storage, StoredMessage, utc_now

EVENT_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
ACTIVITY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
ERROR_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"
ACK_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
)
ACK_HEADER_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
    "medcom-messaging-acknowledgementHeader"
)
ACK_OO_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
    "medcom-acknowledgement-operationoutcome"
)
PROVENANCE_PROFILE = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance"
)
ORG_PROFILE = "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
DESTINATION_USE_EXTENSION = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)
DESTINATION_USE = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse"
# The base of the acknowledgement's fullUrls: RESTful, so that a relative reference
# (Organization/id) resolves inside the Bundle by FHIR's rules (urn:uuid fullUrls do not).
FULL_URL_BASE = "https://reflps.kcert.invalid/fhir"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
GLN_SYSTEM = "https://www.gs1.org/gln"

KNOWN_EVENTS = {
    "empty-message",
    "care-communication-message",
    "hospital-notification-message",
    "acknowledgement-message",
    "homecareobservation-message",
}
SUPPORTED_EVENTS = {"care-communication-message"}
ACCEPTED_ACTIVITIES = {"new-message", "reply-message", "forward-message"}


class NotAMessage(ValueError):
    """The body is FHIR but not a message this LPS can acknowledge (no MessageHeader)."""


@dataclass
class Problem:
    code: str  # MedCom error code, or "" when none fits
    text: str
    expression: str
    issue_type: str = "invalid"


@dataclass
class Received:
    bundle: dict[str, Any]
    header: dict[str, Any]
    by_ref: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolve(self, ref: Any) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        target = ref.get("reference")
        return self.by_ref.get(target) if isinstance(target, str) else None

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return [
            e["resource"]
            for e in self.bundle.get("entry", [])
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == resource_type
        ]


def open_message(bundle: Any) -> Received:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise NotAMessage(f"expected a Bundle of type message, got {kind}")
    if bundle.get("type") != "message":
        raise NotAMessage(f"Bundle.type is {bundle.get('type')!r}, expected 'message'")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise NotAMessage("the message Bundle has no entries")
    first = entries[0].get("resource") if isinstance(entries[0], dict) else None
    if not isinstance(first, dict) or first.get("resourceType") != "MessageHeader":
        raise NotAMessage("the first entry of a message Bundle must be a MessageHeader")
    if not isinstance(first.get("id"), str) or not first["id"]:
        raise NotAMessage("the MessageHeader has no id")
    received = Received(bundle, first)
    for entry in entries:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and isinstance(res.get("id"), str):
            received.by_ref[f"{res.get('resourceType')}/{res['id']}"] = res
            if isinstance(entry.get("fullUrl"), str):
                received.by_ref[entry["fullUrl"]] = res
    return received


def _identifier(resource: dict[str, Any] | None, system: str) -> str:
    for ident in (resource or {}).get("identifier", []) or []:
        if isinstance(ident, dict) and ident.get("system") == system:
            return str(ident.get("value", ""))
    return ""


def find_problems(
    msg: Received, me: ClinicIdentity, handlers: dict[str, Handler] | None = None
) -> list[Problem]:
    """The LPS's own message rules, in the order a receiving system checks them; `handlers`:
    the standards received in their own modules, by event (harness/reflps/standards.py)."""
    problems: list[Problem] = []
    handlers = handlers or {}
    event = msg.header.get("eventCoding") or {}
    code, system = event.get("code"), event.get("system")
    if system != EVENT_SYSTEM or code not in KNOWN_EVENTS:
        problems.append(
            Problem(
                "MSG_CodeSystem_VALUE_UNKNOWN",
                f"unknown message event {system}#{code}",
                "Bundle.entry[0].resource.eventCoding",
                "code-invalid",
            )
        )
    elif code not in SUPPORTED_EVENTS and code not in handlers:
        problems.append(
            Problem(
                "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE",
                f"this system does not receive {code}",
                "Bundle.entry[0].resource.eventCoding",
                "not-supported",
            )
        )
    destinations = msg.header.get("destination") or []
    receiver = msg.resolve(destinations[0].get("receiver")) if destinations else None
    if receiver is None:
        problems.append(
            Problem(
                "MSG_Receiver_Identifier_MISSING",
                "MessageHeader.destination.receiver does not resolve to an Organization",
                "Bundle.entry[0].resource.destination.receiver",
                "required",
            )
        )
    elif me.sor != _identifier(receiver, SOR_SYSTEM) and me.gln != _identifier(
        receiver, GLN_SYSTEM
    ):
        problems.append(
            Problem(
                "MSG_Receiver_Identifier_UNKNOWN",
                "the receiver is not this clinic (SOR/GLN do not match)",
                "Bundle.entry[0].resource.destination.receiver",
                "not-found",
            )
        )
    patients = msg.of_type("Patient")
    if len(patients) != 1:
        problems.append(
            Problem(
                "",
                f"the message must contain exactly one Patient, found {len(patients)}",
                "Bundle.entry.resource.ofType(Patient)",
                "required",
            )
        )
    elif not _identifier(patients[0], CPR_SYSTEM):
        problems.append(
            Problem("", "the Patient has no CPR identifier", "Patient.identifier", "required")
        )
    if code == "care-communication-message" and len(msg.of_type("Communication")) != 1:
        problems.append(
            Problem(
                "",
                "a CareCommunication message must contain exactly one Communication",
                "Bundle.entry.resource.ofType(Communication)",
                "required",
            )
        )
    received = by_event().get(str(code)) if code in handlers else None
    accepted = received.activities if received is not None else ACCEPTED_ACTIVITIES
    if _activity(msg) not in accepted:
        problems.append(
            Problem(
                "MSG_VALUESET_VALUE_UNKNOWN",
                f"Provenance activity {_activity(msg) or '(none)'} is not accepted",
                "Bundle.entry.resource.ofType(Provenance).activity",
                "code-invalid",
            )
        )
    handler = handlers.get(str(code))
    if handler is not None and not problems:
        problems.extend(handler.problems(msg))
    return problems


def _activity(msg: Received) -> str:
    header_ref = f"MessageHeader/{msg.header['id']}"
    for prov in msg.of_type("Provenance"):
        targets = [t.get("reference") for t in prov.get("target", []) if isinstance(t, dict)]
        if header_ref in targets:
            for coding in (prov.get("activity") or {}).get("coding", []):
                if coding.get("system") == ACTIVITY_SYSTEM:
                    return str(coding.get("code", ""))
    return ""


class MessageReceiver:
    """Receives messages, keeps them once, answers each with an acknowledgement Bundle."""

    def __init__(
        self,
        storage: Storage,
        me: ClinicIdentity,
        defects: frozenset[str],
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        self.storage = storage
        self.me = me
        self.defects = defects
        self.handlers = handlers or {}  # by event: the standards received in their own modules

    def receive(self, bundle: Any, fmt: str) -> dict[str, Any]:
        msg = open_message(bundle)
        header_id = msg.header["id"]
        previous = self.storage.find_ack(header_id)
        if previous is not None and "duplicate-processed-twice" not in self.defects:
            return previous  # a duplicate gets the same answer and is not processed again
        problems = find_problems(msg, self.me, self.handlers)
        if "no-negative-ack" in self.defects:
            problems = []
        code = "fatal-error" if problems else "ok"
        handler = self.handlers.get(str((msg.header.get("eventCoding") or {}).get("code", "")))
        if code == "ok" and (handler is None or handler.accept(msg)):
            patients = msg.of_type("Patient")
            patient = patients[0] if patients else None
            sender = msg.resolve(msg.header.get("sender"))
            self.storage.store_message(
                StoredMessage(
                    header_id=header_id,
                    bundle_id=str(bundle.get("id", "")),
                    event=str((msg.header.get("eventCoding") or {}).get("code", "")),
                    activity=_activity(msg),
                    patient_cpr=_identifier(patient, CPR_SYSTEM),
                    sender_sor=_identifier(sender, SOR_SYSTEM),
                    received_at=utc_now(),
                    fmt=fmt,
                )
            )
        ack = self.build_ack(msg, code, problems)
        self.storage.store_ack(header_id, code, ack)
        return ack

    def build_ack(self, msg: Received, code: str, problems: list[Problem]) -> dict[str, Any]:
        now = utc_now()
        original_sender = msg.resolve(msg.header.get("sender")) or {}
        destinations = msg.header.get("destination") or [{}]
        original_receiver = msg.resolve(destinations[0].get("receiver")) or {}
        own_org_id = str(uuid.uuid4())
        their_org_id = str(uuid.uuid4())
        own_org = _organisation(own_org_id, self.me.name, self.me.sor, self.me.gln)
        their_org = _organisation(
            their_org_id,
            str(original_sender.get("name", "")),
            _identifier(original_sender, SOR_SYSTEM),
            _identifier(original_sender, GLN_SYSTEM),
        )
        sender_ref, receiver_ref = f"Organization/{own_org_id}", f"Organization/{their_org_id}"
        receiver_endpoint = str((msg.header.get("source") or {}).get("endpoint", ""))
        if "ack-sender-not-swapped" in self.defects:
            own_org = _organisation(
                own_org_id,
                str(original_receiver.get("name", "")),
                _identifier(original_receiver, SOR_SYSTEM),
                _identifier(original_receiver, GLN_SYSTEM),
            )
            sender_ref, receiver_ref = receiver_ref, sender_ref
        reference = msg.header["id"]
        if "ack-wrong-reference" in self.defects:
            reference = str(msg.bundle.get("id", ""))
        header_id = str(uuid.uuid4())
        response: dict[str, Any] = {"identifier": reference, "code": code}
        entries: list[dict[str, Any]] = []
        outcome_id = str(uuid.uuid4())
        with_outcome = code != "ok" and "ack-missing-operationoutcome" not in self.defects
        if with_outcome:
            response["details"] = {"reference": f"OperationOutcome/{outcome_id}"}
        header: dict[str, Any] = {
            "resourceType": "MessageHeader",
            "id": header_id,
            "meta": {"profile": [ACK_HEADER_PROFILE]},
            "eventCoding": {"system": EVENT_SYSTEM, "code": "acknowledgement-message"},
            "destination": [
                {
                    "endpoint": receiver_endpoint or "urn:unknown",
                    "receiver": {"reference": receiver_ref},
                }
            ],
            "sender": {"reference": sender_ref},
            "source": {"endpoint": self.me.endpoint},
            "response": response,
        }
        if "ack-missing-destination-use" not in self.defects:
            # the ack goes to one primary receiver: the sender of the message it answers
            use = "cc" if "ack-destination-cc" in self.defects else "primary"
            header["destination"][0]["extension"] = [
                {
                    "url": DESTINATION_USE_EXTENSION,
                    "valueCoding": {"system": DESTINATION_USE, "code": use},
                }
            ]
        entries.append(_entry(header))
        if "ack-without-provenance" not in self.defects:
            entries.append(_entry(_provenance(header_id, own_org_id, msg.header["id"], now)))
        entries.append(_entry(own_org))
        entries.append(_entry(their_org))
        if with_outcome:
            entries.append(_entry(_outcome(outcome_id, problems)))
        ack: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"profile": [ACK_PROFILE]},
            "type": "message",
            "timestamp": now,
            "entry": entries,
        }
        if "ack-missing-timestamp" in self.defects:
            del ack["timestamp"]
        return ack


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{FULL_URL_BASE}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


def _provenance(ack_header_id: str, own_org_id: str, original_id: str, now: str) -> dict[str, Any]:
    """The acknowledgement's own Provenance, pointing back at the message it answers."""
    return {
        "resourceType": "Provenance",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [PROVENANCE_PROFILE]},
        "target": [{"reference": f"MessageHeader/{ack_header_id}"}],
        "occurredDateTime": now,
        "recorded": now,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "acknowledgement"}]},
        "agent": [{"who": {"reference": f"Organization/{own_org_id}"}}],
        "entity": [{"role": "revision", "what": {"reference": f"MessageHeader/{original_id}"}}],
    }


def _organisation(org_id: str, name: str, sor: str, gln: str) -> dict[str, Any]:
    identifiers = []
    if gln:
        identifiers.append({"system": GLN_SYSTEM, "value": gln})
    if sor:
        identifiers.append({"system": SOR_SYSTEM, "value": sor})
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": org_id,
        "meta": {"profile": [ORG_PROFILE]},
        "identifier": identifiers,
    }
    if name:
        org["name"] = name
    return org


def _outcome(outcome_id: str, problems: list[Problem]) -> dict[str, Any]:
    issues = []
    for problem in problems or [Problem("", "message rejected", "Bundle", "processing")]:
        details: dict[str, Any] = {"text": problem.text}
        if problem.code:
            details["coding"] = [{"system": ERROR_SYSTEM, "code": problem.code}]
        issues.append(
            {
                "severity": "error",
                "code": problem.issue_type,
                "details": details,
                "expression": [problem.expression],
            }
        )
    return {
        "resourceType": "OperationOutcome",
        "id": outcome_id,
        "meta": {"profile": [ACK_OO_PROFILE]},
        "issue": issues,
    }


def operation_outcome(text: str, issue_type: str = "structure") -> dict[str, Any]:
    """A bare OperationOutcome for HTTP-level rejections (not a message answer)."""
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "issue": [{"severity": "error", "code": issue_type, "diagnostics": text}],
    }
