"""PRO answers into the LPS: read a QRD document (STarT Back, CAT/MRC) and file its answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from harness.reflps.careplan.codes import CPR_ROOT, KCERT_CODES, QRD_CODE, QRD_TEMPLATE
from harness.reflps.cockpit.store import ClinicStore
from harness.safeparse import Limits, parse_xml

V3 = "urn:hl7-org:v3"
NS = {"v3": V3}
QRD_LIMITS = Limits(max_bytes=2 * 1024 * 1024, max_depth=64)
MCS = "urn:oid:1.2.208.184.100.8"


class NotAQrd(ValueError):
    """The body is not a QRD document this LPS can file."""


@dataclass(frozen=True)
class Answers:
    document_id: str
    cpr: str
    day: dt.date
    questionnaire: str  # "startback" | "kol-cat-mrc"
    items: dict[str, str]  # question code -> answer code


def _one(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    return str(found[0]) if isinstance(found, list) and found else ""


def read_qrd(body: bytes) -> Answers:
    root = parse_xml(body, QRD_LIMITS)  # no DTD, no entities, bounded size and depth
    if root.tag != f"{{{V3}}}ClinicalDocument":
        raise NotAQrd("not a CDA ClinicalDocument")
    if QRD_TEMPLATE not in root.xpath("v3:templateId/@root", namespaces=NS):
        raise NotAQrd(f"not a DK-QRD document (templateId {QRD_TEMPLATE} missing)")
    if _one(root, "v3:code/@code") != QRD_CODE:
        raise NotAQrd(f"document code is not {QRD_CODE}")
    cpr = _one(root, f"v3:recordTarget/v3:patientRole/v3:id[@root='{CPR_ROOT}']/@extension")
    if len(cpr) != 10 or not cpr.isdigit():
        raise NotAQrd("no patient CPR (recordTarget/patientRole/id) in the document")
    stamp = _one(root, "v3:effectiveTime/@value")
    try:
        day = dt.date(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]))
    except ValueError:
        raise NotAQrd("effectiveTime is not a date") from None
    doc_id = _one(root, "v3:id/@root") + "^" + _one(root, "v3:id/@extension")
    items: dict[str, str] = {}
    for obs in root.iter(f"{{{V3}}}observation"):
        code = obs.find(f"{{{V3}}}code")
        value = obs.find(f"{{{V3}}}value")
        if code is None or value is None or code.get("codeSystem") != KCERT_CODES:
            continue
        items[str(code.get("code", ""))] = str(value.get("code", ""))
    if all(f"SB{n}" in items for n in range(1, 10)):
        kind = "startback"
    elif all(f"CAT{n}" in items for n in range(1, 9)) and "MRC" in items:
        kind = "kol-cat-mrc"
    else:
        raise NotAQrd("the answers are neither a complete STarT Back nor CAT and MRC")
    return Answers(doc_id, cpr, day, kind, items)


def _score(answers: Answers, code: str, low: int, high: int) -> int:
    try:
        value = int(answers.items[code])
    except ValueError:
        raise NotAQrd(f"answer to {code} is not a number") from None
    if not low <= value <= high:
        raise NotAQrd(f"answer to {code} is outside {low}-{high}")
    return value


class ProInbox:
    """Files QRD answers where the LPS's own rules read them: STarT Back, CAT and MRC."""

    def __init__(self, store: ClinicStore, defects: frozenset[str]) -> None:
        self.store = store
        self.defects = defects

    def known_patient(self, cpr: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM cp_patient WHERE cpr = ?", (cpr,)))

    def attach(self, answers: Answers) -> bool:
        """File the answers; False when the same document was attached before."""
        if answers.questionnaire == "startback":
            flags = [_score(answers, f"SB{n}", 0, 1) for n in range(1, 9)]
            flags.append(1 if _score(answers, "SB9", 1, 5) >= 4 else 0)  # very much, extremely
            rows: list[tuple[str, ...]] = []
            startback = "".join(str(f) for f in flags)
        else:
            cat = sum(_score(answers, f"CAT{n}", 0, 5) for n in range(1, 9))
            mrc = _score(answers, "MRC", 1, 5)
            startback = ""
            rows = [("MCS88137", str(cat)), ("MCS88021", str(mrc))]
        day = answers.day.isoformat()
        with self.store.lock:
            db = self.store.db
            seen = db.execute(
                "SELECT 1 FROM rp_document WHERE doc_id = ?", (answers.document_id,)
            ).fetchall()
            if seen:
                return False
            db.execute(
                "INSERT INTO rp_document VALUES (?, ?, ?)",
                (answers.document_id, answers.cpr, answers.questionnaire),
            )
            if "qrd-ignored" in self.defects:
                return True  # stored as a document, never read into the plan
            if startback:
                db.execute(
                    "INSERT INTO cp_startback(cpr, date, answers) VALUES (?,?,?)",
                    (answers.cpr, day, startback),
                )
            for code, value in rows:
                db.execute(
                    "INSERT INTO cp_measurement(cpr, system, code, date, num, txt) "
                    "VALUES (?,?,?,?,?,NULL)",
                    (answers.cpr, MCS, code, day, float(value)),
                )
        return True
