"""What kcert, as the receiving peer, answers: MedCom acknowledgements and OIOXML CTL receipts.

kcert's own builders (the reference LPS has independent ones for the other direction).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from lxml import etree

from harness.safeparse import PayloadError, parse_json, parse_xml

EVENT_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
ACK_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
)
ACK_HEADER_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
    "medcom-messaging-acknowledgementHeader"
)
ORG_PROFILE = "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
MESSAGING = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
TERMINOLOGY = "http://medcomfhir.dk/ig/terminology/CodeSystem/"
BASE = "https://kcert.example/fhir"
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="
OIOXML_NS = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"


def message_header(bundle: Any) -> dict[str, Any]:
    """The first entry's MessageHeader of a message Bundle, or {}."""
    if not isinstance(bundle, dict):
        return {}
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return {}
    header = entries[0].get("resource")
    if isinstance(header, dict) and header.get("resourceType") == "MessageHeader":
        return header
    return {}


def read_message(body: bytes) -> dict[str, Any] | None:
    try:
        value = parse_json(body)
    except PayloadError:
        return None
    return value if isinstance(value, dict) else None


def fhir_ack(original: dict[str, Any], code: str, peer: dict[str, Any]) -> bytes:
    """An acknowledgement (ok or fatal-error) of `original`, from `peer` back to its sender."""
    header = message_header(original)
    sender_endpoint = str((header.get("source") or {}).get("endpoint", ""))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    ids = {k: str(uuid.uuid4()) for k in ("bundle", "header", "me", "them", "outcome", "prov")}
    response: dict[str, Any] = {"identifier": str(header.get("id", "")), "code": code}
    # MedCom's acknowledgement profile: the destination says its use (primary), and the
    # message carries a Provenance of its own that points back at the message it answers.
    use = {
        "url": MESSAGING + "medcom-messaging-destinationUseExtension",
        "valueCoding": {
            "system": TERMINOLOGY + "medcom-messaging-destinationUse",
            "code": "primary",
        },
    }
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{BASE}/MessageHeader/{ids['header']}",
            "resource": {
                "resourceType": "MessageHeader",
                "id": ids["header"],
                "meta": {"profile": [ACK_HEADER_PROFILE]},
                "eventCoding": {"system": EVENT_SYSTEM, "code": "acknowledgement-message"},
                "destination": [
                    {
                        "extension": [use],
                        "endpoint": sender_endpoint,
                        "receiver": {"reference": f"Organization/{ids['them']}"},
                    }
                ],
                "sender": {"reference": f"Organization/{ids['me']}"},
                "source": {"endpoint": f"{SOR_ENDPOINT}{peer['sor']}"},
                "response": response,
            },
        },
        _org(ids["me"], peer["name"], str(peer["sor"]), str(peer["gln"])),
        _org(ids["them"], "Afsender", sender_endpoint.rsplit("=", 1)[-1], ""),
        _provenance(ids, str(header.get("id", "")), now),
    ]
    if code != "ok":
        response["details"] = {"reference": f"OperationOutcome/{ids['outcome']}"}
        entries.append(
            {
                "fullUrl": f"{BASE}/OperationOutcome/{ids['outcome']}",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "id": ids["outcome"],
                    "issue": [
                        {
                            "severity": "error",
                            "code": "processing",
                            "diagnostics": "kcert test peer refuses this message on purpose",
                        }
                    ],
                },
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "id": ids["bundle"],
        "meta": {"profile": [ACK_PROFILE]},
        "type": "message",
        "timestamp": now,
        "entry": entries,
    }
    return json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")


def _provenance(ids: dict[str, str], answered: str, now: str) -> dict[str, Any]:
    """The acknowledgement's Provenance: kcert's peer acknowledged the message `answered`."""
    return {
        "fullUrl": f"{BASE}/Provenance/{ids['prov']}",
        "resource": {
            "resourceType": "Provenance",
            "id": ids["prov"],
            "meta": {"profile": [MESSAGING + "medcom-messaging-provenance"]},
            "target": [{"reference": f"MessageHeader/{ids['header']}"}],
            "occurredDateTime": now,
            "recorded": now,
            "activity": {
                "coding": [
                    {
                        "system": TERMINOLOGY + "medcom-messaging-activityCodes",
                        "code": "acknowledgement",
                    }
                ]
            },
            "agent": [{"who": {"reference": f"Organization/{ids['me']}"}}],
            "entity": [{"role": "revision", "what": {"reference": f"MessageHeader/{answered}"}}],
        },
    }


def _org(org_id: str, name: str, sor: str, gln: str) -> dict[str, Any]:
    identifiers = [{"system": "urn:oid:1.2.208.176.1.1", "value": sor}]
    if gln:
        identifiers.insert(0, {"system": "https://www.gs1.org/gln", "value": gln})
    return {
        "fullUrl": f"{BASE}/Organization/{org_id}",
        "resource": {
            "resourceType": "Organization",
            "id": org_id,
            "meta": {"profile": [ORG_PROFILE]},
            "identifier": identifiers,
            "name": name,
        },
    }


def _text(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces={"m": OIOXML_NS})
    if isinstance(found, list) and found:
        first = found[0]
        return str(first.text or "") if isinstance(first, etree._Element) else str(first)
    return ""


def ctl_receipt(original: bytes, positive: bool, peer: dict[str, Any], reason: str = "") -> bytes:
    """CTL03 (positive) or CTL02 (negative) receipt for an OIOXML letter, from `peer`."""
    try:
        root = parse_xml(original)
    except PayloadError:
        root = etree.Element(f"{{{OIOXML_NS}}}Emessage")
    envelope_id = _text(root, "m:Envelope/m:Identifier")
    letter_id = _text(root, "*/m:Letter/m:Identifier")
    version = _text(root, "*/m:Letter/m:VersionCode")
    their_ean = _text(root, "*/m:Sender/m:EANIdentifier")
    my_ean = str(peer["gln"])
    now = dt.datetime.now(dt.UTC)
    m = f"{{{OIOXML_NS}}}"

    def add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        child = etree.SubElement(parent, m + name)
        if text is not None:
            child.text = text
        return child

    doc = etree.Element(m + "Emessage", nsmap={None: OIOXML_NS})
    env = add(doc, "Envelope")
    sent = add(env, "Sent")
    add(sent, "Date", now.strftime("%Y-%m-%d"))
    add(sent, "Time", now.strftime("%H:%M"))
    add(env, "Identifier", f"KCERT{uuid.uuid4().hex[:9].upper()}")
    add(env, "AcknowledgementCode", "minuspositivkvitt")
    receipt = add(doc, "PositiveReceipt" if positive else "NegativeReceipt")
    letter = add(receipt, "Letter")
    add(letter, "Identifier", f"KCERTL{uuid.uuid4().hex[:8].upper()}")
    add(letter, "VersionCode", "XC0330Q" if positive else "XC0230Q")
    add(letter, "StatisticalCode", "XCTL03" if positive else "XCTL02")
    add(add(receipt, "Sender"), "EANIdentifier", my_ean)
    add(add(receipt, "Receiver"), "EANIdentifier", their_ean or "0000000000000")
    orig = add(receipt, "OriginalEmessage")
    add(orig, "OriginalEnvelopeIdentifier", envelope_id or "ukendt")
    add(add(orig, "OriginalSender"), "EANIdentifier", their_ean or "0000000000000")
    add(add(orig, "OriginalReceiver"), "EANIdentifier", my_ean)
    olet = add(orig, "OriginalLetter")
    add(olet, "OriginalLetterIdentifier", letter_id or "ukendt")
    add(olet, "OriginalVersionCode", version or "XH0130R")
    if not positive:
        add(olet, "RefuseCode", "ikke_specificeret")
        add(olet, "RefuseText", reason or "kcert test peer refuses this letter on purpose")
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"))
