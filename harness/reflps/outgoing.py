"""What the reference LPS sends on its own: a CareCommunication (FHIR) and a REF01 referral
(OIOXML) to the municipality. Its own builders, independent of kcert's templates."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from harness.reflps import carry
from harness.reflps.identity import ClinicIdentity
from harness.reflps.messaging import (
    ACTIVITY_SYSTEM,
    CPR_SYSTEM,
    EVENT_SYSTEM,
    GLN_SYSTEM,
    ORG_PROFILE,
    SOR_SYSTEM,
)

CC = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
CATEGORY_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
)
MESSAGING = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
DESTINATION_USE = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse"
ROLE_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRoles"
DEFINITION = (
    "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/"
    "MedComCareCommunicationMessageDefinition|5.0"
)
OIOXML_NS = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
X_ECPR_SYSTEM = "urn:oid:1.2.208.176.1.6.1.1"  # dk-core x-ecpr identifier
# The packages' diagnoses in SKS: COPD and low back pain.
PACKAGE_DIAGNOSIS = {
    "kol": ("DJ449", "Kronisk obstruktiv lungesygdom"),
    "lrs": ("DM545", "Lændesmerter"),
}


@dataclass(frozen=True)
class Party:
    name: str
    sor: str
    gln: str


@dataclass(frozen=True)
class Patient:
    cpr: str
    given: str
    family: str
    x_ecpr: str = ""  # a national replacement number (X-eCPR) instead of a CPR number


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _full(kind: str, rid: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"https://reflps.kcert.invalid/fhir/{kind}/{rid}", "resource": resource}


@dataclass(frozen=True)
class Attachment:
    """One attachment to send: content (bytes) or a link (url)."""

    content_type: str
    title: str
    data: bytes | None = None
    url: str = ""


@dataclass(frozen=True)
class Compose:
    """What the GP writes: the message text and what the agent asked to go with it.

    `earlier` is the message (a received or sent Bundle) a reply or forward refers to;
    `activity` is new-message, reply-message or forward-message."""

    text: str
    activity: str = "new-message"
    earlier: dict[str, Any] | None = None
    include: str = "all"  # forward: the earlier payloads carried, all or text only
    category: str = ""
    topic: str = ""
    priority: str = ""
    attachments: tuple[Attachment, ...] = ()
    episode_of_care: tuple[str, str] | None = None  # (system, value)
    sender_team: str = ""
    recipient_team: str = ""


def care_communication(
    me: ClinicIdentity,
    to: Party,
    patient: Patient,
    text: str,
    defects: frozenset[str],
    compose: Compose | None = None,
) -> tuple[str, bytes]:
    """(MessageHeader.id, JSON body) of a CareCommunication from the clinic: a new message,
    or a reply to / forward of `compose.earlier`."""
    job = compose or Compose(text)
    i = {
        k: str(uuid.uuid4())
        for k in ("b", "h", "p", "c", "s", "r", "role", "pr", "prov", "t", "seg", "enc", "st", "rt")
    }
    now = _now()
    earlier = carry.Earlier(job.earlier) if job.earlier is not None else None
    header_profile = CC + (
        "medcom-careCommunication-messageheader"  # wrong case: not the published URL
        if "send-wrong-profile" in defects
        else "medcom-careCommunication-messageHeader"
    )
    # A reply stays in the thread (same Communication.identifier); new messages and forwards
    # start one of their own.
    thread = f"urn:uuid:{i['t']}"
    replying = job.activity == "reply-message" and "reply-new-thread" not in defects
    if earlier is not None and replying:
        thread = earlier.thread or thread
    category = job.category or (earlier.category if earlier else "") or "other"
    topic = job.topic or (earlier.topic if earlier and not job.category else "")
    if not topic and category == "other":
        topic = "Forløbsplan - opfølgning fra lægen"
    patient_ref = f"Patient/{i['p']}"
    carried: list[dict[str, Any]] = []
    if earlier is not None:
        patient_ref = earlier.patient_ref or patient_ref
        carried = earlier.payloads(text_only=job.include == "text")
    own_segment = _segment(i["seg"], i["s"], i["role"], now)
    own_segment["contentString"] = text
    payloads = [*carried, own_segment]
    for attachment in job.attachments:
        payloads.append(_attachment(attachment, i["s"], i["role"], now, defects))
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "id": i["c"],
        "meta": {"profile": [CC + "medcom-careCommunication-communication"]},
        "identifier": [{"value": thread}],
        "status": "unknown",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "subject": {"reference": patient_ref},
        "payload": payloads,
    }
    if job.priority and category == "regarding-referral":
        communication["priority"] = job.priority
    if topic and "send-missing-topic" not in defects:
        communication["topic"] = {"text": topic}
    extra: list[dict[str, Any]] = []
    if job.sender_team:
        communication["extension"] = [
            {
                "url": CORE + "medcom-core-sender-extension",
                "valueReference": {"reference": f"CareTeam/{i['st']}"},
            }
        ]
        extra.append(_full("CareTeam", i["st"], _team(i["st"], job.sender_team, i["s"])))
    if job.recipient_team:
        communication["recipient"] = [{"reference": f"CareTeam/{i['rt']}"}]
        extra.append(_full("CareTeam", i["rt"], _team(i["rt"], job.recipient_team, i["r"])))
    encounter = None
    if job.episode_of_care is not None:
        system, value = job.episode_of_care
        encounter = _full("Encounter", i["enc"], _encounter(i["enc"], patient_ref, system, value))
    elif earlier is not None and earlier.encounter is not None:
        # MedCom: an episode-of-care identifier of an earlier message goes with the answer.
        encounter = earlier.encounter
    if encounter is not None:
        communication["encounter"] = {"reference": carry.reference_to(encounter)}
    patient_entry = (
        earlier.patient_entry
        if earlier is not None and earlier.patient_entry is not None
        else _full("Patient", i["p"], _patient(i["p"], patient))
    )
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": i["prov"],
        "meta": {"profile": [CC + "medcom-careCommunication-provenance"]},
        "target": [{"reference": f"MessageHeader/{i['h']}"}],
        "occurredDateTime": now,
        "recorded": now,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": job.activity}]},
        "agent": [{"who": {"reference": f"Organization/{i['s']}"}}],
        "entity": [{"role": "source", "what": {"identifier": {"value": f"urn:uuid:{i['seg']}"}}}],
    }
    if earlier is not None:
        provenance["entity"].append(
            {"role": "revision", "what": {"reference": f"MessageHeader/{earlier.header_id}"}}
        )
    entries = [
        _full(
            "MessageHeader",
            i["h"],
            {
                "resourceType": "MessageHeader",
                "id": i["h"],
                "meta": {"profile": [header_profile]},
                "eventCoding": {"system": EVENT_SYSTEM, "code": "care-communication-message"},
                "destination": [
                    {
                        "extension": [
                            {
                                "url": MESSAGING + "medcom-messaging-destinationUseExtension",
                                "valueCoding": {"system": DESTINATION_USE, "code": "primary"},
                            }
                        ],
                        "endpoint": f"https://sor2.sum.dsdn.dk/#id={to.sor}",
                        "receiver": {"reference": f"Organization/{i['r']}"},
                    }
                ],
                "sender": {"reference": f"Organization/{i['s']}"},
                "source": {"endpoint": me.endpoint},
                "focus": [{"reference": f"Communication/{i['c']}"}],
                "definition": DEFINITION,
            },
        ),
        patient_entry,
        _full("Communication", i["c"], communication),
        _full(
            "PractitionerRole",
            i["role"],
            {
                "resourceType": "PractitionerRole",
                "id": i["role"],
                "meta": {"profile": [CORE + "medcom-core-practitionerrole"]},
                "practitioner": {"reference": f"Practitioner/{i['pr']}"},
                "code": [{"coding": [{"system": ROLE_SYSTEM, "code": "laege"}]}],
            },
        ),
        _full(
            "Practitioner",
            i["pr"],
            {
                "resourceType": "Practitioner",
                "id": i["pr"],
                "meta": {"profile": [CORE + "medcom-core-practitioner"]},
                "name": [{"family": "Referencelæge", "given": ["Rikke"]}],
            },
        ),
        _full("Organization", i["s"], _org(i["s"], me.name, me.sor, me.gln)),
        _full("Organization", i["r"], _org(i["r"], to.name, to.sor, to.gln)),
        *extra,
        *([encounter] if encounter is not None else []),
        *(earlier.provenances() if earlier is not None else []),
        _full("Provenance", i["prov"], provenance),
    ]
    if earlier is not None:
        entries[-1:-1] = earlier.referenced_by(carried, entries)
    bundle = {
        "resourceType": "Bundle",
        "id": i["b"],
        "meta": {"profile": [CC + "medcom-careCommunication-message"]},
        "type": "message",
        "timestamp": now,
        "entry": entries,
    }
    return i["h"], json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")


def _segment(seg: str, org: str, role: str, now: str) -> dict[str, Any]:
    """A message segment's extensions: when, its identifier, who wrote it, how to reach them."""
    return {
        "extension": [
            {"url": CORE + "medcom-core-datetime-extension", "valueDateTime": now},
            {
                "url": CORE + "medcom-core-identifier-extension",
                "valueIdentifier": {
                    "value": f"urn:uuid:{seg}",
                    "assigner": {"reference": f"Organization/{org}"},
                },
            },
            {
                "url": CORE + "medcom-core-practitioner-extension",
                "valueReference": {"reference": f"PractitionerRole/{role}"},
            },
            {
                "url": CORE + "medcom-core-contact-extension",
                "valueContactPoint": {"system": "phone", "value": "70000001"},
            },
        ]
    }


def _attachment(
    item: Attachment, org: str, role: str, now: str, defects: frozenset[str]
) -> dict[str, Any]:
    segment = _segment(str(uuid.uuid4()), org, role, now)
    content: dict[str, Any] = {"title": item.title, "creation": now}
    if item.content_type:
        content["contentType"] = item.content_type
    if item.data is not None:
        content["data"] = base64.b64encode(item.data).decode("ascii")
        size = len(item.data) + (1 if "attachment-wrong-size" in defects else 0)
        content["size"] = size
        # FHIR R4: Attachment.hash is the base64 SHA-1 of the data
        digest = hashlib.sha1(item.data).digest()
        if "attachment-sha256-hash" in defects:
            digest = hashlib.sha256(item.data).digest()
        content["hash"] = base64.b64encode(digest).decode("ascii")
    if item.url:
        content["url"] = item.url
    segment["contentAttachment"] = content
    return segment


def _patient(rid: str, patient: Patient) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": rid,
        "meta": {"profile": [CORE + "medcom-core-patient"]},
        "identifier": [
            {"system": CPR_SYSTEM, "value": patient.cpr}
            if patient.cpr
            else {"system": X_ECPR_SYSTEM, "value": patient.x_ecpr}
        ],
        "name": [{"use": "official", "family": patient.family, "given": [patient.given]}],
    }


def _team(rid: str, name: str, org: str) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": rid,
        "meta": {"profile": [CORE + "medcom-core-careteam"]},
        "name": name,
        "managingOrganization": [{"reference": f"Organization/{org}"}],
    }


def _encounter(rid: str, patient_ref: str, system: str, value: str) -> dict[str, Any]:
    episode: dict[str, Any] = {"value": value}
    if system:
        episode = {"system": system, "value": value}
    return {
        "resourceType": "Encounter",
        "id": rid,
        "meta": {"profile": [CORE + "medcom-core-encounter"]},
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": patient_ref},
        "episodeOfCare": [{"identifier": episode}],
    }


def _org(org_id: str, name: str, sor: str, gln: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": org_id,
        "meta": {"profile": [ORG_PROFILE]},
        "identifier": [{"system": GLN_SYSTEM, "value": gln}, {"system": SOR_SYSTEM, "value": sor}],
        "name": name,
    }


def _bad_check_digit(gln: str) -> str:
    return gln[:-1] + str((int(gln[-1]) + 1) % 10) if gln[-1:].isdigit() else gln


def referral(
    me: ClinicIdentity, to: Party, patient: Patient, package: str, defects: frozenset[str]
) -> tuple[str, bytes]:
    """(letter id, XML) of a REF01 referral of a package patient to the municipality."""
    code, text = PACKAGE_DIAGNOSIS.get(package, ("DZ000", "Ukendt"))
    letter = "RL" + uuid.uuid4().hex[:10].upper()
    envelope = "RE" + uuid.uuid4().hex[:10].upper()
    now = dt.datetime.now(dt.UTC)
    sender_ean = _bad_check_digit(me.gln) if "referral-bad-gln" in defects else me.gln
    reason = {
        "kol": "Henvises til KOL-rehabilitering i kommunen efter forløbsplan.",
        "lrs": "Henvises til genoptræning for lænderygsmerter efter forløbsplan.",
    }.get(package, "Henvisning efter forløbsplan.")
    e = escape
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Emessage xmlns="{OIOXML_NS}">
 <Envelope><Sent><Date>{now:%Y-%m-%d}</Date><Time>{now:%H:%M}</Time></Sent>
  <Identifier>{envelope}</Identifier><AcknowledgementCode>pluspositivkvitt</AcknowledgementCode></Envelope>
 <HospitalReferral>
  <Letter><Identifier>{letter}</Identifier><VersionCode>XH0130R</VersionCode>
   <StatisticalCode>XREF01</StatisticalCode>
   <Authorisation><Date>{now:%Y-%m-%d}</Date><Time>{now:%H:%M}</Time></Authorisation>
   <TypeCode>XREF01</TypeCode><StatusCode>nytbrev</StatusCode></Letter>
  <Sender><EANIdentifier>{sender_ean}</EANIdentifier><Identifier>{e(me.sor)}</Identifier>
   <IdentifierCode>sorkode</IdentifierCode><OrganisationName>{e(me.name)}</OrganisationName>
   <MedicalSpecialityCode>almenlaege_laegevagt</MedicalSpecialityCode>
   <Referrer><PersonName>Rikke Referencelæge</PersonName></Referrer></Sender>
  <Receiver><EANIdentifier>{e(to.gln)}</EANIdentifier><Identifier>{e(to.sor)}</Identifier>
   <IdentifierCode>sorkode</IdentifierCode><OrganisationName>{e(to.name)}</OrganisationName></Receiver>
  <Patient><CivilRegistrationNumber>{e(patient.cpr)}</CivilRegistrationNumber>
   <PersonSurnameName>{e(patient.family)}</PersonSurnameName>
   <PersonGivenName>{e(patient.given)}</PersonGivenName></Patient>
  <AdditionalInformation><Priority>elektiv</Priority>
   <ClinicalReason>{e(reason)}</ClinicalReason></AdditionalInformation>
  <Referral><Refer><DiagnoseCode>{code}</DiagnoseCode><DiagnoseTypeCode>SKSdiagnosekode</DiagnoseTypeCode>
   <DiagnoseText>{e(text)}</DiagnoseText></Refer></Referral>
 </HospitalReferral>
</Emessage>
"""
    return letter, xml.encode("utf-8")
