"""The LPS's clinical store: tables filled from a loaded FHIR population Bundle."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from typing import Any

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
INSURANCE_URL = "urn:kcert:insurance-group"
OWN_CLINIC_TAG = ("urn:kcert:population", "own-clinic")
# The code systems this LPS files diagnoses, results and services under.
CONDITION_SYSTEMS = ("urn:oid:1.2.208.176.2.31", "urn:oid:1.2.208.176.2.4.12")
RESULT_SYSTEMS = ("urn:oid:1.2.208.176.2.1", "urn:oid:1.2.208.184.100.8", "urn:kcert:observation")
SERVICE_SYSTEM = "urn:kcert:ydelse"
TABLES = (
    "cp_clinic",
    "cp_patient",
    "cp_condition",
    "cp_measurement",
    "cp_service",
    "cp_encounter",
    "cp_startback",
    "rp_shared",
    "rp_document",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS cp_clinic (sor TEXT NOT NULL, name TEXT);
CREATE TABLE IF NOT EXISTS cp_patient (
    cpr TEXT PRIMARY KEY, given TEXT, family TEXT, birth TEXT NOT NULL, gender TEXT,
    active INTEGER NOT NULL, deceased INTEGER NOT NULL, deceased_date TEXT, gp_sor TEXT,
    insurance INTEGER
);
CREATE TABLE IF NOT EXISTS cp_condition (cpr TEXT, system TEXT, code TEXT, status TEXT,
                                         recorded TEXT);
CREATE TABLE IF NOT EXISTS cp_measurement (
    seq INTEGER PRIMARY KEY, cpr TEXT, system TEXT, code TEXT, date TEXT, num REAL, txt TEXT
);
CREATE TABLE IF NOT EXISTS cp_service (cpr TEXT, code TEXT, date TEXT);
CREATE TABLE IF NOT EXISTS cp_encounter (cpr TEXT, system TEXT, code TEXT, date TEXT);
CREATE TABLE IF NOT EXISTS cp_startback (seq INTEGER PRIMARY KEY, cpr TEXT, date TEXT,
                                         answers TEXT);
CREATE INDEX IF NOT EXISTS cp_m_code ON cp_measurement(code, cpr);
CREATE TABLE IF NOT EXISTS rp_shared (cpr TEXT PRIMARY KEY, doc_id TEXT NOT NULL,
                                      set_id TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rp_document (doc_id TEXT PRIMARY KEY, cpr TEXT, kind TEXT);
"""


class BadPopulation(ValueError):
    """The loaded Bundle is not a population this LPS can import."""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ident(resource: dict[str, Any], system: str) -> str:
    for ident in _list(resource.get("identifier")):
        if isinstance(ident, dict) and ident.get("system") == system:
            return str(ident.get("value", ""))
    return ""


def _codings(concept: Any, systems: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every coding of a concept in one of the systems this LPS knows, in order."""
    found = []
    for coding in _list(_obj(concept).get("coding")):
        if isinstance(coding, dict) and coding.get("system") in systems:
            found.append((str(coding["system"]), str(coding.get("code", ""))))
    return found


def _day(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day.isoformat() if 1800 <= day.year <= 2200 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value) if abs(value) < 1e15 else None
    except OverflowError:
        return None


class ClinicStore:
    """One SQLite connection (shared with the messaging storage), guarded by a lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock
        self._last: tuple[str, dict[str, list[tuple[Any, ...]]]] | None = None
        with self.lock:
            self.db.executescript(SCHEMA)

    def reset(self) -> None:
        with self.lock:
            for table in TABLES:
                self.db.execute(f"DELETE FROM {table}")

    def load(self, bundle: Any, digest: str = "") -> int:
        """Replace the clinic's data with the Bundle's, all or nothing.

        `digest` (the body's SHA-256) lets the same body loaded again skip reading: a test
        suite loads one population before many of its cases (load_known).
        """
        rows = _rows(bundle)
        loaded = self._insert(rows)
        if digest:
            self._last = (digest, rows)
        return loaded

    def load_known(self, digest: str) -> int | None:
        """Load the body last loaded again, if `digest` is its SHA-256; else None."""
        last = self._last
        if last is None or last[0] != digest:
            return None
        return self._insert(last[1])

    def _insert(self, rows: dict[str, list[tuple[Any, ...]]]) -> int:
        with self.lock:
            self.db.execute("BEGIN")
            try:
                for table in TABLES:
                    self.db.execute(f"DELETE FROM {table}")
                self.db.execute("INSERT INTO cp_clinic VALUES (?, ?)", rows["clinic"][0])
                self.db.executemany(
                    "INSERT INTO cp_patient VALUES (?,?,?,?,?,?,?,?,?,?)", rows["p"]
                )
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
            except sqlite3.Error as exc:
                self.db.execute("ROLLBACK")
                raise BadPopulation(f"the population could not be stored: {exc}") from None
            self.db.execute("COMMIT")
        return len(rows["p"])

    def query(
        self, sql: str, params: dict[str, Any] | tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()


def _rows(bundle: Any) -> dict[str, list[tuple[Any, ...]]]:
    """The Bundle as table rows; anything this LPS cannot file is a BadPopulation."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadPopulation("body is not a FHIR Bundle")
    if bundle.get("type") != "transaction":
        raise BadPopulation("the population must be a transaction Bundle")
    resources = []
    for entry in _list(bundle.get("entry")):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            raise BadPopulation("every entry needs a resource")
        resources.append((str(entry.get("fullUrl", "")), entry["resource"]))
    if not resources:
        raise BadPopulation("the Bundle has no entries")
    orgs = {url: r for url, r in resources if r.get("resourceType") == "Organization"}
    own = [
        r
        for r in orgs.values()
        if any(
            isinstance(t, dict) and (t.get("system"), t.get("code")) == OWN_CLINIC_TAG
            for t in _list(_obj(r.get("meta")).get("tag"))
        )
    ]
    if len(own) != 1:
        raise BadPopulation("exactly one Organization must be tagged own-clinic")
    rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in ("p", "c", "m", "s", "e", "q")}
    rows["clinic"] = [(_ident(own[0], SOR_SYSTEM), str(own[0].get("name", "")))]
    patients: dict[str, str] = {}
    for url, r in resources:
        if r.get("resourceType") != "Patient":
            continue
        cpr, birth = _ident(r, CPR_SYSTEM), _day(r.get("birthDate"))
        if not cpr or birth is None:
            raise BadPopulation("every Patient needs a CPR identifier and a birthDate")
        if cpr in patients.values():
            raise BadPopulation(f"CPR {cpr[:6]}-xxxx is used by two patients")
        name = _obj((_list(r.get("name")) or [{}])[0])
        given = _list(name.get("given"))
        gp = _obj((_list(r.get("generalPractitioner")) or [{}])[0]).get("reference")
        insurance = next(
            (
                e.get("valueInteger")
                for e in _list(r.get("extension"))
                if isinstance(e, dict) and e.get("url") == INSURANCE_URL
            ),
            None,
        )
        patients[url] = cpr
        rows["p"].append(
            (
                cpr,
                str(given[0]) if given else "",
                str(name.get("family", "")),
                birth,
                str(r.get("gender", "")),
                0 if r.get("active") is False else 1,
                1 if r.get("deceasedBoolean") is True else 0,
                _day(r.get("deceasedDateTime")),
                _ident(_obj(orgs.get(str(gp))), SOR_SYSTEM),
                insurance
                if isinstance(insurance, int) and not isinstance(insurance, bool)
                else None,
            )
        )
    for _, r in resources:
        kind = r.get("resourceType")
        if kind in ("Patient", "Organization"):
            continue
        owner = patients.get(str(_obj(r.get("subject")).get("reference")))
        if owner is None:
            raise BadPopulation(f"a {kind} refers to no Patient of the Bundle")
        _file(rows, owner, kind, r)
    return rows


def _file(rows: dict[str, list[tuple[Any, ...]]], owner: str, kind: Any, r: dict[str, Any]) -> None:
    if kind == "Condition":
        status = next(
            (
                c
                for _, c in _codings(
                    r.get("clinicalStatus"),
                    ("http://terminology.hl7.org/CodeSystem/condition-clinical",),
                )
            ),
            "",
        )
        for system, code in _codings(r.get("code"), CONDITION_SYSTEMS):
            rows["c"].append((owner, system, code, status, _day(r.get("recordedDate"))))
    elif kind == "Observation":
        codes = _codings(r.get("code"), RESULT_SYSTEMS)
        day = _day(r.get("effectiveDateTime"))
        if codes and day:
            quantity = _obj(r.get("valueQuantity")).get("value")
            number = _number(quantity if quantity is not None else r.get("valueInteger"))
            text = r.get("valueString")
            rows["m"].append(
                (owner, *codes[0], day, number, text if isinstance(text, str) else None)
            )
    elif kind == "ChargeItem":
        day = _day(r.get("occurrenceDateTime"))
        for _, code in _codings(r.get("code"), (SERVICE_SYSTEM,)):
            rows["s"].append((owner, code, day))
    elif kind == "Encounter":
        day = _day(_obj(r.get("period")).get("start"))
        for reason in _list(r.get("reasonCode")):
            for system, code in _codings(reason, CONDITION_SYSTEMS):
                rows["e"].append((owner, system, code, day))
    elif kind == "QuestionnaireResponse" and r.get("questionnaire") == "urn:kcert:startback":
        rows["q"].append((owner, _day(r.get("authored")), _answers(r)))


def _answers(r: dict[str, Any]) -> str | None:
    """'1'/'0' for the nine STarT Back items, or None when the form is not complete."""
    if r.get("status") != "completed":
        return None
    found: dict[str, bool] = {}
    for item in _list(r.get("item")):
        answers = _list(_obj(item).get("answer"))
        answer = _obj(answers[0]) if answers else {}
        if isinstance(answer.get("valueBoolean"), bool):
            found[str(_obj(item).get("linkId"))] = answer["valueBoolean"]
    if set(found) != {str(n) for n in range(1, 10)}:
        return None
    return "".join("1" if found[str(n)] else "0" for n in range(1, 10))
