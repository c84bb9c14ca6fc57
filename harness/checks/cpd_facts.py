"""DK-CPD facts kcert judges by: the repository submission and what a care plan document says.

Facts marked [V] are read in MedCom's public material (the DK-CPD examples and the ART-DECOR
CarePlanDocument schematron, scenario 1.2.208.184.4.2); [D] are kcert's definitions, stated
in the LPS test agent API, until an official value is published.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from harness.safeparse import Limits, PayloadError, parse_json, parse_xml

V3 = "urn:hl7-org:v3"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
NS = {"v3": V3}
LOINC = "2.16.840.1.113883.6.1"
CPR_ROOT = "1.2.208.176.1.2"  # [V]
SOR_ROOT = "1.2.208.176.1.1"  # [V]
CPD_TEMPLATE = "1.2.208.184.15.1"  # [V] MedCom DK-CPD document templateId
CPD_CODE = "81215-6"  # [V] LOINC care plan document
# [V] the top-level sections of a DK-CPD: templateId root -> (LOINC code, what it holds)
SECTIONS: dict[str, tuple[str, str]] = {
    "1.2.208.184.15.1.10.20.1": ("75310-3", "health concerns"),
    "1.2.208.184.15.1.10.20.2": ("61146-7", "goals"),
    "1.2.208.184.15.1.10.20.3": ("62387-6", "interventions"),
    "1.2.208.184.15.1.10.20.4": ("11383-7", "outcomes"),
}
GOALS_SECTION = "1.2.208.184.15.1.10.20.2"
OUTCOMES_SECTION = "1.2.208.184.15.1.10.20.4"
GOAL_OBSERVATION = "1.2.208.184.15.1.10.20.2.20"
OUTCOME_OBSERVATION = "1.2.208.184.15.1.10.20.4.20"
# [D] kcert's code system (UUID OID) for stratification and questionnaire items
KCERT_CODES = "2.25.307626247188809187100151675520798087832"
STRATIFICATION_CODES = {"kol-stratificering": "kol", "lrs-stratificering": "lrs"}
# [D] XDS metadata of a shared care plan (DK XDS metadata profile style)
FORMAT_CODE = ("urn:ad:dk:medcom:cpd:full", "1.2.208.184.100.10")
CLASS_CODE = ("001", "1.2.208.184.100.9")
CONFIDENTIALITY_SYSTEM = "2.16.840.1.113883.5.25"
SUBMISSION_LIMITS = Limits(max_bytes=20 * 1024 * 1024, max_depth=32)
DOCUMENT_LIMITS = Limits(max_bytes=10 * 1024 * 1024, max_depth=128)

SUBMISSION_NOTE = "submission"  # the share step's notes: the raw body the repository got


class SubmissionError(ValueError):
    """A repository submission does not follow the contract (JSON metadata + base64 CDA)."""


@dataclass(frozen=True)
class Submission:
    metadata: dict[str, Any]
    document: bytes

    def get(self, *path: str) -> str:
        node: Any = self.metadata
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return "" if node is None or isinstance(node, (dict, list)) else str(node)


REQUIRED_METADATA = (
    "uniqueId",
    "patientId",
    "authorInstitution",
    "classCode",
    "typeCode",
    "formatCode",
    "creationTime",
    "confidentialityCode",
)


def read_submission(body: bytes) -> Submission:
    """The provide-and-register body: {"metadata": {...}, "document": base64}."""
    try:
        data = parse_json(body, SUBMISSION_LIMITS)
    except PayloadError as exc:
        raise SubmissionError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise SubmissionError("the body needs a metadata object")
    if not isinstance(data.get("document"), str):
        raise SubmissionError("the body needs the document as a base64 string")
    missing = [k for k in REQUIRED_METADATA if k not in data["metadata"]]
    if missing:
        raise SubmissionError(f"metadata lacks {', '.join(missing)}")
    try:
        document = base64.b64decode(data["document"], validate=True)
    except (binascii.Error, ValueError):
        raise SubmissionError("document is not valid base64") from None
    if not document:
        raise SubmissionError("document is empty")
    return Submission(data["metadata"], document)


def parse_ts(value: str) -> dt.datetime | None:
    """An HL7 TS (YYYYMMDD[HHMM[SS]][+ZZzz]) as an aware datetime (UTC without a zone)."""
    text = value.strip()
    zone = dt.UTC
    for sign in ("+", "-"):
        if sign in text[8:]:
            at = text.rindex(sign)
            text, offset = text[:at], text[at:]
            if len(offset) != 5 or not offset[1:].isdecimal():
                return None
            minutes = int(offset[1:3]) * 60 + int(offset[3:5])
            zone = dt.timezone(dt.timedelta(minutes=minutes if sign == "+" else -minutes))
            break
    text = text.split(".")[0]
    if len(text) not in (8, 10, 12, 14) or not text.isdecimal():
        return None
    nums = [int(text[:4])] + [int(text[i : i + 2]) for i in range(4, len(text), 2)]
    nums += [0] * (6 - len(nums))
    try:
        year, month, day, hour, minute, second = nums[:6]
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


@dataclass
class Result:
    """One outcome observation: a measurement or a stratification."""

    code: str
    system: str
    day: str
    number: float | None
    text: str
    path: str


@dataclass
class CpdFacts:
    root: etree._Element
    sections: dict[str, etree._Element] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)

    def one(self, xpath: str, at: etree._Element | None = None) -> str:
        found = (at if at is not None else self.root).xpath(xpath, namespaces=NS)
        return str(found[0]).strip() if isinstance(found, list) and found else ""

    def path(self, element: etree._Element) -> str:
        return str(self.root.getroottree().getpath(element)).replace("{urn:hl7-org:v3}", "")

    @property
    def patient_ids(self) -> list[tuple[str, str]]:
        return [
            (str(e.get("root", "")), str(e.get("extension", "")))
            for e in self.root.xpath("v3:recordTarget/v3:patientRole/v3:id", namespaces=NS)
        ]

    @property
    def colours(self) -> dict[str, str]:
        return {
            STRATIFICATION_CODES[r.code]: r.text
            for r in self.results
            if r.system == KCERT_CODES and r.code in STRATIFICATION_CODES
        }


def read_cpd(document: bytes) -> CpdFacts:
    """Parse (safely) and index a care plan document; PayloadError when it is not XML."""
    root = parse_xml(document, DOCUMENT_LIMITS)
    facts = CpdFacts(root)
    for section in root.xpath(
        "v3:component/v3:structuredBody/v3:component/v3:section", namespaces=NS
    ):
        for template in section.xpath("v3:templateId/@root", namespaces=NS):
            facts.sections.setdefault(str(template), section)
    outcomes = facts.sections.get(OUTCOMES_SECTION)
    if outcomes is not None:
        for obs in outcomes.iter(f"{{{V3}}}observation"):
            code = obs.find(f"{{{V3}}}code")
            value = obs.find(f"{{{V3}}}value")
            if code is None or value is None:
                continue
            kind = str(value.get(XSI_TYPE, ""))
            number: float | None = None
            if kind.endswith("PQ") or kind.endswith("INT") or kind.endswith("REAL"):
                try:
                    number = float(str(value.get("value", "")))
                except ValueError:
                    number = None
                text = str(value.get("value", ""))
            elif kind.endswith(("CD", "CE", "CV", "CO")):
                text = str(value.get("code", ""))
            else:
                text = "".join(value.itertext()).strip()
            stamp = facts.one("v3:effectiveTime/@value", obs) or facts.one(
                "v3:effectiveTime/v3:low/@value", obs
            )
            when = parse_ts(stamp) if stamp else None
            facts.results.append(
                Result(
                    str(code.get("code", "")),
                    str(code.get("codeSystem", "")),
                    when.date().isoformat() if when else "",
                    number,
                    text,
                    facts.path(obs),
                )
            )
    return facts
