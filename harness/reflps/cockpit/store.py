"""The LPS's clinical store: tables filled from a loaded FHIR population Bundle."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
INSURANCE_URL = "urn:kcert:insurance-group"
OWN_CLINIC_TAG = ("urn:kcert:population", "own-clinic")

SCHEMA = """
DROP TABLE IF EXISTS cp_clinic; DROP TABLE IF EXISTS cp_patient; DROP TABLE IF EXISTS cp_condition;
DROP TABLE IF EXISTS cp_measurement; DROP TABLE IF EXISTS cp_service;
DROP TABLE IF EXISTS cp_encounter; DROP TABLE IF EXISTS cp_startback;
CREATE TABLE cp_clinic (sor TEXT NOT NULL, name TEXT);
CREATE TABLE cp_patient (
    cpr TEXT PRIMARY KEY, given TEXT, family TEXT, birth TEXT NOT NULL, gender TEXT,
    active INTEGER NOT NULL, deceased INTEGER NOT NULL, deceased_date TEXT, gp_sor TEXT,
    insurance INTEGER
);
CREATE TABLE cp_condition (cpr TEXT, system TEXT, code TEXT, status TEXT, recorded TEXT);
CREATE TABLE cp_measurement (
    seq INTEGER PRIMARY KEY, cpr TEXT, system TEXT, code TEXT, date TEXT, num REAL, txt TEXT
);
CREATE TABLE cp_service (cpr TEXT, code TEXT, date TEXT);
CREATE TABLE cp_encounter (cpr TEXT, system TEXT, code TEXT, date TEXT);
CREATE TABLE cp_startback (seq INTEGER PRIMARY KEY, cpr TEXT, date TEXT, answers TEXT);
CREATE INDEX cp_m_code ON cp_measurement(code, cpr);
"""


class BadPopulation(ValueError):
    """The loaded Bundle is not a population this LPS can import."""


def _ident(resource: dict[str, Any], system: str) -> str:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system:
            return str(ident.get("value", ""))
    return ""


def _first_coding(concept: Any) -> tuple[str, str]:
    codings = (concept or {}).get("coding") or [{}] if isinstance(concept, dict) else [{}]
    first = codings[0] if isinstance(codings[0], dict) else {}
    return str(first.get("system", "")), str(first.get("code", ""))


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


class ClinicStore:
    """One SQLite connection (shared with the messaging storage), guarded by a lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock
        with self.lock:
            self.db.executescript(SCHEMA)

    def reset(self) -> None:
        with self.lock:
            self.db.executescript(SCHEMA)

    def load(self, bundle: Any) -> int:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise BadPopulation("body is not a FHIR Bundle")
        if bundle.get("type") != "transaction":
            raise BadPopulation("the population must be a transaction Bundle")
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            raise BadPopulation("the Bundle has no entries")
        resources = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                raise BadPopulation("every entry needs a resource")
            resources.append((str(entry.get("fullUrl", "")), entry["resource"]))
        orgs = {url: r for url, r in resources if r.get("resourceType") == "Organization"}
        own = [
            r
            for r in orgs.values()
            if any(
                (t.get("system"), t.get("code")) == OWN_CLINIC_TAG
                for t in (r.get("meta") or {}).get("tag", [])
                if isinstance(t, dict)
            )
        ]
        if len(own) != 1:
            raise BadPopulation("exactly one Organization must be tagged own-clinic")
        patients: dict[str, str] = {}
        rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in ("p", "c", "m", "s", "e", "q")}
        for url, r in resources:
            if r.get("resourceType") != "Patient":
                continue
            cpr = _ident(r, CPR_SYSTEM)
            birth = _day(r.get("birthDate"))
            if not cpr or birth is None:
                raise BadPopulation("every Patient needs a CPR identifier and a birthDate")
            name = (r.get("name") or [{}])[0]
            gp_ref = ((r.get("generalPractitioner") or [{}])[0] or {}).get("reference")
            insurance = next(
                (
                    e.get("valueInteger")
                    for e in r.get("extension") or []
                    if isinstance(e, dict) and e.get("url") == INSURANCE_URL
                ),
                None,
            )
            patients[url] = cpr
            rows["p"].append(
                (
                    cpr,
                    (name.get("given") or [""])[0],
                    name.get("family", ""),
                    birth,
                    r.get("gender", ""),
                    0 if r.get("active") is False else 1,
                    1 if r.get("deceasedBoolean") is True else 0,
                    _day(r.get("deceasedDateTime")),
                    _ident(orgs.get(str(gp_ref), {}), SOR_SYSTEM),
                    insurance,
                )
            )
        for _, r in resources:
            kind = r.get("resourceType")
            if kind in ("Patient", "Organization"):
                continue
            subject = r.get("subject")
            ref = subject.get("reference") if isinstance(subject, dict) else None
            owner = patients.get(str(ref))
            if owner is None:
                raise BadPopulation(f"a {kind} refers to no Patient of the Bundle")
            if kind == "Condition":
                system, code = _first_coding(r.get("code"))
                rows["c"].append(
                    (
                        owner,
                        system,
                        code,
                        _first_coding(r.get("clinicalStatus"))[1],
                        _day(r.get("recordedDate")),
                    )
                )
            elif kind == "Observation":
                system, code = _first_coding(r.get("code"))
                num = (r.get("valueQuantity") or {}).get("value", r.get("valueInteger"))
                rows["m"].append(
                    (
                        owner,
                        system,
                        code,
                        _day(r.get("effectiveDateTime")),
                        num if isinstance(num, (int, float)) else None,
                        r.get("valueString"),
                    )
                )
            elif kind == "ChargeItem":
                rows["s"].append(
                    (owner, _first_coding(r.get("code"))[1], _day(r.get("occurrenceDateTime")))
                )
            elif kind == "Encounter":
                system, code = _first_coding((r.get("reasonCode") or [{}])[0])
                rows["e"].append((owner, system, code, _day((r.get("period") or {}).get("start"))))
            elif kind == "QuestionnaireResponse":
                rows["q"].append((owner, _day(r.get("authored")), _answers(r)))
        with self.lock:
            self.db.executescript(SCHEMA)
            self.db.execute(
                "INSERT INTO cp_clinic VALUES (?, ?)",
                (_ident(own[0], SOR_SYSTEM), own[0].get("name", "")),
            )
            self.db.executemany("INSERT INTO cp_patient VALUES (?,?,?,?,?,?,?,?,?,?)", rows["p"])
            self.db.executemany("INSERT INTO cp_condition VALUES (?,?,?,?,?)", rows["c"])
            self.db.executemany(
                "INSERT INTO cp_measurement(cpr, system, code, date, num, txt)"
                " VALUES (?,?,?,?,?,?)",
                rows["m"],
            )
            self.db.executemany("INSERT INTO cp_service VALUES (?,?,?)", rows["s"])
            self.db.executemany("INSERT INTO cp_encounter VALUES (?,?,?,?)", rows["e"])
            self.db.executemany(
                "INSERT INTO cp_startback(cpr, date, answers) VALUES (?,?,?)", rows["q"]
            )
        return len(rows["p"])

    def query(
        self, sql: str, params: dict[str, Any] | tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()


def _answers(r: dict[str, Any]) -> str | None:
    """'1'/'0' for the nine STarT Back items, or None when the form is not complete."""
    if r.get("status") != "completed":
        return None
    found: dict[str, bool] = {}
    for item in r.get("item") or []:
        answer = ((item or {}).get("answer") or [{}])[0]
        if isinstance(answer, dict) and isinstance(answer.get("valueBoolean"), bool):
            found[str(item.get("linkId"))] = answer["valueBoolean"]
    if len(found) != 9 or set(found) != {str(n) for n in range(1, 10)}:
        return None
    return "".join("1" if found[str(n)] else "0" for n in range(1, 10))
