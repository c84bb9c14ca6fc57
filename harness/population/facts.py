"""A clinic extract as facts: one row per resource, raw values kept, the reader's faults noted.

The strict reader (`reader.py`) and the lenient extract reader (`extract.py`) both get these
rows from the one parser (`parse.py`); the strict one refuses any noted fault, the lenient one
keeps the row so the quality checks can score it. Every row names its patient by CPR (both the
JSON and the CSV form reach the same rows) and where it came from (`at`: a JSON pointer or
`file:line`, left out of equality so a JSON and a CSV extract compare equal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

Coding = tuple[str, str]  # (system, code)

# Faults the reader itself notes on a row (the strict reader refuses each of them).
DIAGNOSIS_FREE_TEXT = "diagnosis-free-text"  # a Condition without any coding
DIAGNOSIS_WRONG_SYSTEM = "diagnosis-wrong-system"  # codings, but none ICPC-2 or SKS-D
CONDITION_WITHOUT_STATUS = "condition-without-status"
LAB_LOCAL_CODE = "lab-local-code"  # an Observation without an NPU/DNK, MCS or event coding
OBSERVATION_WITHOUT_VALUE = "observation-without-value"
MEDICATION_UNCODED = "medication-uncoded"  # a MedicationStatement without an ATC coding
MISSING_GP = "missing-gp"
BIRTHDATE_MISMATCH = "birthdate-mismatch"  # birthDate is not the date the CPR encodes
READER_FAULTS = (
    DIAGNOSIS_FREE_TEXT,
    DIAGNOSIS_WRONG_SYSTEM,
    CONDITION_WITHOUT_STATUS,
    LAB_LOCAL_CODE,
    OBSERVATION_WITHOUT_VALUE,
    MEDICATION_UNCODED,
    MISSING_GP,
    BIRTHDATE_MISMATCH,
)


@dataclass(slots=True)
class PatientFact:
    id: str
    cpr: str
    given: str
    family: str
    birth: dt.date | None  # birthDate as written (None when missing or not a date)
    gender: str
    active: bool
    deceased: bool  # deceasedBoolean as written (a deceasedDateTime alone leaves it false)
    deceased_date: dt.date | None
    gp_sor: str  # the generalPractitioner Organization's SOR; "" = none
    insurance_group: int | None
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)


@dataclass(slots=True)
class ConditionFact:
    id: str
    cpr: str
    system: str  # the first ICPC-2/SKS-D coding, else the first coding of any system, else ""
    code: str
    text: str  # code.text (free text)
    codings: tuple[Coding, ...]  # every coding as written, in order
    status: str  # clinicalStatus code, "" when missing
    recorded: dt.date | None
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)


@dataclass(slots=True)
class ObservationFact:
    id: str
    cpr: str
    system: str  # the first NPU/DNK, MCS or event coding, else the first coding, else ""
    code: str
    text: str
    codings: tuple[Coding, ...]
    date: dt.date | None
    value_kind: str  # "quantity", "integer", "string" or "" (no value: events)
    number: float | None
    value_text: str  # valueString as written (eGFR ">90")
    unit: str  # valueQuantity.unit (else .code) as written, "" when none
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)


@dataclass(slots=True)
class MedicationFact:
    id: str
    cpr: str
    system: str  # the first ATC coding, else the first coding, else ""
    code: str
    text: str
    codings: tuple[Coding, ...]
    status: str  # MedicationStatement.status (active, completed, stopped, …)
    start: dt.date | None  # effectivePeriod.start or effectiveDateTime
    end: dt.date | None  # effectivePeriod.end
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)


@dataclass(slots=True)
class ServiceFact:
    id: str
    cpr: str
    code: str  # the ydelse code (0120, 0130…0132, …)
    date: dt.date | None
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)


@dataclass(slots=True)
class EncounterFact:
    id: str
    cpr: str
    reasons: tuple[Coding, ...]
    date: dt.date | None
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)


@dataclass(slots=True)
class StartBackFact:
    id: str
    cpr: str
    status: str
    date: dt.date | None
    answers: str  # nine characters, item 1 first: "1" agree, "0" disagree, "-" not answered
    faults: tuple[str, ...] = ()
    at: str = field(default="", compare=False)

    @property
    def complete(self) -> bool:
        return self.status == "completed" and "-" not in self.answers


FACT_TABLES: dict[str, type] = {
    "patients": PatientFact,
    "conditions": ConditionFact,
    "observations": ObservationFact,
    "medications": MedicationFact,
    "services": ServiceFact,
    "encounters": EncounterFact,
    "startbacks": StartBackFact,
}


@dataclass
class Extract:
    """One clinic's extract; `as_of` is Bundle.timestamp (the extraction date) when given."""

    source: str
    clinic_sor: str
    clinic_name: str
    as_of: dt.date | None = None
    register_updated: dt.date | None = None  # the patient register's last load
    patients: list[PatientFact] = field(default_factory=list)
    conditions: list[ConditionFact] = field(default_factory=list)
    observations: list[ObservationFact] = field(default_factory=list)
    medications: list[MedicationFact] = field(default_factory=list)
    services: list[ServiceFact] = field(default_factory=list)
    encounters: list[EncounterFact] = field(default_factory=list)
    startbacks: list[StartBackFact] = field(default_factory=list)

    def table(self, name: str) -> list[Any]:
        if name not in FACT_TABLES:
            raise KeyError(f"no fact table {name!r} (known: {', '.join(FACT_TABLES)})")
        rows: list[Any] = getattr(self, name)
        return rows

    def columns(self, name: str) -> dict[str, list[Any]]:
        """A table as columns (for polars.DataFrame / DuckDB); `faults` joined by ','."""
        names = [f.name for f in fields(FACT_TABLES[name])]
        rows = self.table(name)
        out: dict[str, list[Any]] = {n: [] for n in names}
        for row in rows:
            for n in names:
                value = getattr(row, n)
                if n == "faults":
                    value = ",".join(value)
                elif n in ("codings", "reasons"):
                    value = " ".join(f"{s}|{c}" for s, c in value)
                out[n].append(value)
        return out

    def noted(self) -> dict[str, set[str]]:
        """CPRs per fault the reader noted (diagnosis-free-text → {cpr, …})."""
        found: dict[str, set[str]] = {}
        for name in FACT_TABLES:
            for row in self.table(name):
                for fault in row.faults:
                    found.setdefault(fault, set()).add(row.cpr)
        return found
