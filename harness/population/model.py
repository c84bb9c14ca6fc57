"""A population as the oracle sees it: one record per patient, indexed for fast rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

ICPC2 = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
NPU = "urn:oid:1.2.208.176.2.1"
MCS = "urn:oid:1.2.208.184.100.8"
EVENT = "urn:kcert:observation"
SERVICE = "urn:kcert:ydelse"
STARTBACK = "urn:kcert:startback"
INSURANCE = "urn:kcert:insurance-group"
REGISTER_UPDATED = "urn:kcert:register-updated"
ATC = "http://www.whocc.no/atc"
CLINIC_TAG = "urn:kcert:population"
CPR = "urn:oid:1.2.208.176.1.2"
SOR = "urn:oid:1.2.208.176.1.1"
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})


@dataclass(frozen=True)
class Condition:
    system: str
    code: str
    status: str
    recorded: dt.date | None


@dataclass(frozen=True)
class Measurement:
    date: dt.date
    number: float | None  # None when the value is a text such as ">90"
    text: str


@dataclass(frozen=True)
class Medication:
    code: str  # ATC
    status: str
    start: dt.date
    end: dt.date | None


@dataclass(frozen=True)
class StartBack:
    date: dt.date
    answers: tuple[bool, ...]  # nine answers when complete

    @property
    def complete(self) -> bool:
        return len(self.answers) == 9

    @property
    def total(self) -> int:
        return sum(self.answers)

    @property
    def psychosocial(self) -> int:
        return sum(self.answers[4:9])


@dataclass
class PatientRecord:
    ref: str
    cpr: str
    given: str
    family: str
    birth: dt.date
    gender: str
    active: bool = True
    deceased: bool = False
    deceased_date: dt.date | None = None
    gp_sor: str = ""
    insurance_group: int | None = None
    conditions: list[Condition] = field(default_factory=list)
    measurements: dict[tuple[str, str], list[Measurement]] = field(default_factory=dict)
    services: list[tuple[str, dt.date]] = field(default_factory=list)
    encounters: list[tuple[frozenset[tuple[str, str]], dt.date]] = field(default_factory=list)
    startbacks: list[StartBack] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}".strip()


@dataclass
class Population:
    clinic_sor: str
    clinic_name: str
    patients: list[PatientRecord]
    source: str = ""
    as_of: dt.date | None = None  # Bundle.timestamp, when the file says when it was made
    register_updated: dt.date | None = None  # the patient register's last load (own clinic)

    def by_cpr(self) -> dict[str, PatientRecord]:
        return {p.cpr: p for p in self.patients}
