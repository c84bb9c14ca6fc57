"""The DK-CPD care-plan documents the service accepts, reads and writes.

The shape (harness/contract/flp-api.yaml describes it): a CDA `ClinicalDocument` with the DK-CPD
templateId and LOINC code, the patient's CPR in `recordTarget/patientRole/id`, the package
(`kol` | `lbp`) as the code of `documentationOf/serviceEvent` (kcert's package code system) or,
failing that, named in the title, the plan's `effectiveTime`, an optional author SOR code and a
goals section whose list items are the plan's goals.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from harness.refflp.synthetic import is_synthetic
from harness.safeparse import Limits, PayloadError, parse_xml

V3 = "urn:hl7-org:v3"
NS = {"v3": V3}
CPR_ROOT = "1.2.208.176.1.2"
SOR_ROOT = "1.2.208.176.1.1"
LOINC = "2.16.840.1.113883.6.1"
CPD_TEMPLATE = "1.2.208.184.15.1"
CPD_CODE = "81215-6"
GOALS_SECTION = "1.2.208.184.15.1.10.20.2"
# kcert's own code system (a UUID OID) for the chronic-care packages.
PACKAGE_SYSTEM = "2.25.307626247188809187100151675520798087832"
PACKAGES = ("kol", "lbp")
MAX_GOALS = 50
MAX_GOAL_CHARS = 500
_TITLE_PACKAGE = re.compile(r"\b(kol|lbp)\b", re.IGNORECASE)
_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(?:\.\d+)?([+-]\d{4})?$")


class DocumentProblem(ValueError):
    """The document is not a DK-CPD care plan the service can take: `field` names where."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class CarePlan:
    patient: str  # CPR
    package: str  # kol | lbp
    effective: dt.datetime  # UTC
    goals: tuple[str, ...]
    title: str
    author_sor: str  # "" when the document names none


def parse_time(value: str) -> dt.datetime:
    """An HL7 TS (YYYYMMDD[HHMM[SS]][.f][+ZZZZ]) as an aware UTC datetime."""
    match = _TS.match(value)
    if not match:
        raise ValueError(f"{value!r} is not an HL7 time stamp")
    year, month, day, hour, minute, second, zone = match.groups()
    offset = dt.timedelta(0)
    if zone:
        sign = -1 if zone[0] == "-" else 1
        offset = sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    moment = dt.datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=dt.timezone(offset),
    )
    return moment.astimezone(dt.UTC)


def _one(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    return str(found[0]).strip() if found else ""


def read_plan(data: bytes, max_bytes: int) -> CarePlan:
    """The care plan in a DK-CPD document; DocumentProblem for anything the service refuses."""
    try:
        root = parse_xml(data, Limits(max_bytes=max_bytes, max_depth=64))
    except PayloadError as exc:
        raise DocumentProblem("body", str(exc)) from exc
    if root.tag != f"{{{V3}}}ClinicalDocument":
        raise DocumentProblem("ClinicalDocument", f"the root element is {root.tag!r}")
    if not root.xpath(f"v3:templateId[@root='{CPD_TEMPLATE}']", namespaces=NS):
        raise DocumentProblem("templateId", f"no DK-CPD templateId {CPD_TEMPLATE}")
    if _one(root, "v3:code/@code") != CPD_CODE or _one(root, "v3:code/@codeSystem") != LOINC:
        raise DocumentProblem("code", f"a care plan is LOINC {CPD_CODE}")
    cpr = _one(root, f"v3:recordTarget/v3:patientRole/v3:id[@root='{CPR_ROOT}']/@extension")
    if not cpr:
        raise DocumentProblem("recordTarget", f"no patient id with root {CPR_ROOT} (CPR)")
    if not is_synthetic(cpr):
        raise DocumentProblem(
            "recordTarget",
            "the CPR is not a synthetic test CPR (a real date, serial 9900-9999); "
            "this reference service takes synthetic test persons only",
        )
    title = _one(root, "v3:title/text()")
    package = _one(
        root, f"v3:documentationOf/v3:serviceEvent/v3:code[@codeSystem='{PACKAGE_SYSTEM}']/@code"
    )
    if not package:
        named = _TITLE_PACKAGE.search(title)
        package = named.group(1) if named else ""
    package = package.lower()
    if package not in PACKAGES:
        raise DocumentProblem(
            "documentationOf", "no package: serviceEvent code or title must name kol or lbp"
        )
    stamp = _one(root, "v3:effectiveTime/@value")
    try:
        effective = parse_time(stamp)
    except ValueError as exc:
        raise DocumentProblem("effectiveTime", str(exc) if stamp else "missing") from exc
    sections = root.xpath(f".//v3:section[v3:templateId/@root='{GOALS_SECTION}']", namespaces=NS)
    if not sections:
        raise DocumentProblem("section", f"no goals section (templateId {GOALS_SECTION})")
    goals = tuple(
        " ".join(item.xpath("string()").split())[:MAX_GOAL_CHARS]
        for item in sections[0].xpath(".//v3:text//v3:item", namespaces=NS)
    )
    if len(goals) > MAX_GOALS:
        raise DocumentProblem("section", f"{len(goals)} goals; at most {MAX_GOALS}")
    author = _one(
        root,
        f"v3:author/v3:assignedAuthor/v3:representedOrganization/v3:id[@root='{SOR_ROOT}']/@extension"
        f" | v3:author/v3:assignedAuthor/v3:id[@root='{SOR_ROOT}']/@extension",
    )
    return CarePlan(cpr, package, effective, goals, title, author)


_TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" classCode="DOCCLIN" moodCode="EVN">
  <realmCode code="DK"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.208.184.15.1"/>
  <id root="{doc_id}"/>
  <code code="81215-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"
        displayName="Care plan"/>
  <title>Forl\u00f8bsplan ({name})</title>
  <effectiveTime value="{stamp}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="da-DK"/>
  <recordTarget>
    <patientRole>
      <id root="1.2.208.176.1.2" extension="{cpr}"/>
    </patientRole>
  </recordTarget>
  <author>
    <time value="{stamp}"/>
    <assignedAuthor>
      <id root="1.2.208.176.1.1" extension="{clinic}"/>
    </assignedAuthor>
  </author>
  <documentationOf>
    <serviceEvent classCode="PCPR" moodCode="EVN">
      <code code="{package}" codeSystem="{package_system}" displayName="{name}"/>
    </serviceEvent>
  </documentationOf>
  <component>
    <structuredBody>
      <component>
        <section>
          <templateId root="1.2.208.184.15.1.10.20.2" extension="2018-09-28"/>
          <code code="61146-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"
                displayName="Goals"/>
          <title>M\u00e5l</title>
          <text>
            <list>{items}
            </list>
          </text>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"""


def render_plan(
    *, doc_id: str, cpr: str, package: str, clinic: str, effective: dt.datetime, goals: list[str]
) -> bytes:
    """A DK-CPD document of the accepted shape (the seed's rows and the contract's example)."""
    return _TEMPLATE.format(
        doc_id=doc_id,
        name={"kol": "KOL", "lbp": "LBP"}[package],
        stamp=effective.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000"),
        cpr=cpr,
        clinic=clinic,
        package=package,
        package_system=PACKAGE_SYSTEM,
        items="".join(f"\n              <item>{escape(goal)}</item>" for goal in goals),
    ).encode()
