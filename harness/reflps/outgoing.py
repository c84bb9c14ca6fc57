"""What the reference LPS sends on its own: a CareCommunication (FHIR) and a REF01 referral
(OIOXML) to the municipality. Its own builders, independent of kcert's templates."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

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


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _full(kind: str, rid: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"https://reflps.kcert.invalid/fhir/{kind}/{rid}", "resource": resource}


def care_communication(
    me: ClinicIdentity,
    to: Party,
    patient: Patient,
    text: str,
    defects: frozenset[str],
) -> tuple[str, bytes]:
    """(MessageHeader.id, JSON body) of a new CareCommunication from the clinic."""
    i = {
        k: str(uuid.uuid4())
        for k in ("b", "h", "p", "c", "s", "r", "role", "pr", "prov", "t", "seg")
    }
    now = _now()
    header_profile = CC + (
        "medcom-careCommunication-messageheader"  # wrong case: not the published URL
        if "send-wrong-profile" in defects
        else "medcom-careCommunication-messageHeader"
    )
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "id": i["c"],
        "meta": {"profile": [CC + "medcom-careCommunication-communication"]},
        "identifier": [{"value": f"urn:uuid:{i['t']}"}],
        "status": "unknown",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "other"}]}],
        "subject": {"reference": f"Patient/{i['p']}"},
        "payload": [
            {
                "extension": [
                    {"url": CORE + "medcom-core-datetime-extension", "valueDateTime": now},
                    {
                        "url": CORE + "medcom-core-identifier-extension",
                        "valueIdentifier": {
                            "value": f"urn:uuid:{i['seg']}",
                            "assigner": {"reference": f"Organization/{i['s']}"},
                        },
                    },
                    {
                        "url": CORE + "medcom-core-practitioner-extension",
                        "valueReference": {"reference": f"PractitionerRole/{i['role']}"},
                    },
                    {
                        "url": CORE + "medcom-core-contact-extension",
                        "valueContactPoint": {"system": "phone", "value": "70000001"},
                    },
                ],
                "contentString": text,
            }
        ],
    }
    if "send-missing-topic" not in defects:
        communication["topic"] = {"text": "Forløbsplan - opfølgning fra lægen"}
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
        _full(
            "Patient",
            i["p"],
            {
                "resourceType": "Patient",
                "id": i["p"],
                "meta": {"profile": [CORE + "medcom-core-patient"]},
                "identifier": [{"system": CPR_SYSTEM, "value": patient.cpr}],
                "name": [{"use": "official", "family": patient.family, "given": [patient.given]}],
            },
        ),
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
        _full(
            "Provenance",
            i["prov"],
            {
                "resourceType": "Provenance",
                "id": i["prov"],
                "meta": {"profile": [CC + "medcom-careCommunication-provenance"]},
                "target": [{"reference": f"MessageHeader/{i['h']}"}],
                "occurredDateTime": now,
                "recorded": now,
                "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "new-message"}]},
                "agent": [{"who": {"reference": f"Organization/{i['s']}"}}],
                "entity": [
                    {"role": "source", "what": {"identifier": {"value": f"urn:uuid:{i['seg']}"}}}
                ],
            },
        ),
    ]
    bundle = {
        "resourceType": "Bundle",
        "id": i["b"],
        "meta": {"profile": [CC + "medcom-careCommunication-message"]},
        "type": "message",
        "timestamp": now,
        "entry": entries,
    }
    return i["h"], json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")


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
