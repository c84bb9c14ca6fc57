"""Each fault kind as a plain predicate on an extract's facts: who carries it (tests only).

Not the check catalogue: the simplest statement of each kind, so the tests can prove at the
data level that a planted fault is on exactly the recorded patients and nowhere else. The
parameters are the ones harness/population/faults.py documents its margins against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from harness.dates import age_at, shift_months
from harness.population.facts import Extract, ObservationFact, PatientFact
from harness.population.faults import COPD, LBP, T2D, UNITS
from harness.population.model import ATC, EVENT, ICPC2, MCS, NPU, SKS

Codes = tuple[tuple[str, str], ...]


class Facts:
    def __init__(self, extract: Extract, as_of: dt.date) -> None:
        self.x = extract
        self.as_of = as_of
        self.patients = {p.cpr: p for p in extract.patients}

    def of(self, table: str, cpr: str) -> list:  # type: ignore[type-arg]
        return [r for r in self.x.table(table) if r.cpr == cpr]

    def has(self, cpr: str, codes: Codes, active_only: bool = True) -> bool:
        return any(
            c.system == s
            and c.code.startswith(prefix)
            and (c.status == "active" or not active_only)
            for c in self.of("conditions", cpr)
            for s, prefix in codes
        )

    def alive(self, p: PatientFact) -> bool:
        return not p.deceased and (p.deceased_date is None or p.deceased_date > self.as_of)

    def package(self, p: PatientFact, codes: Codes) -> bool:
        return (
            self.alive(p)
            and p.active
            and p.gp_sor == self.x.clinic_sor
            and p.birth is not None
            and age_at(p.birth, self.as_of) >= 18
            and self.has(p.cpr, codes)
        )

    def within(self, day: dt.date | None, months: int) -> bool:
        return day is not None and shift_months(self.as_of, -months) <= day <= self.as_of


def _medication_without(atc: str, codes: Codes) -> Callable[[Facts, PatientFact], bool]:
    def carries(f: Facts, p: PatientFact) -> bool:
        on = any(
            m.system == ATC and m.code.startswith(atc) and m.status == "active"
            for m in f.of("medications", p.cpr)
        )
        return on and not f.has(p.cpr, codes)

    return carries


def _quantity(o: ObservationFact, code: str) -> bool:
    return o.system == NPU and o.code == code and o.value_kind == "quantity"


def _implausible(code: str, low: float, high: float) -> Callable[[Facts, PatientFact], bool]:
    def carries(f: Facts, p: PatientFact) -> bool:
        return any(
            _quantity(o, code) and o.number is not None and not low <= o.number <= high
            for o in f.of("observations", p.cpr)
        )

    return carries


def _dated(f: Facts, cpr: str) -> list[dt.date | None]:
    days: list[dt.date | None] = [o.date for o in f.of("observations", cpr)]
    days += [c.recorded for c in f.of("conditions", cpr)]
    days += [s.date for s in f.of("services", cpr)]
    days += [e.date for e in f.of("encounters", cpr)]
    days += [q.date for q in f.of("startbacks", cpr)]
    days += [m.start for m in f.of("medications", cpr)]
    return days


def _future(f: Facts, p: PatientFact) -> bool:
    return any(d is not None and d > f.as_of for d in _dated(f, p.cpr))


def _after_death(f: Facts, p: PatientFact) -> bool:
    died = p.deceased_date
    return died is not None and any(
        o.date is not None and o.date > died for o in f.of("observations", p.cpr)
    )


def _duplicate(f: Facts, p: PatientFact) -> bool:
    keys = [
        (o.system, o.code, o.date, o.value_kind, o.number, o.value_text, o.unit)
        for o in f.of("observations", p.cpr)
    ]
    return len(keys) != len(set(keys))


def _no_service(codes: tuple[str, ...], group1: bool) -> Callable[[Facts, PatientFact], bool]:
    def carries(f: Facts, p: PatientFact) -> bool:
        if not f.package(p, (*COPD, *T2D)) or (group1 and p.insurance_group != 1):
            return False
        return not any(s.code in codes and f.within(s.date, 12) for s in f.of("services", p.cpr))

    return carries


def _copd_without_mrc_cat(f: Facts, p: PatientFact) -> bool:
    return f.package(p, COPD) and not any(
        o.system == MCS and o.code in ("MCS88021", "MCS88137") and f.within(o.date, 24)
        for o in f.of("observations", p.cpr)
    )


def _lbp_without_startback(f: Facts, p: PatientFact) -> bool:
    return f.package(p, LBP) and not any(
        q.complete and f.within(q.date, 24) for q in f.of("startbacks", p.cpr)
    )


def _old_data(f: Facts, p: PatientFact) -> bool:
    days = [o.date for o in f.of("observations", p.cpr) if o.date is not None]
    old = [d for d in days if d < shift_months(f.as_of, -24)]
    return bool(days) and len(old) / len(days) > 0.5


PATIENT_KINDS: dict[str, Callable[[Facts, PatientFact], bool]] = {
    "inhaler-without-copd": _medication_without("R03", COPD),
    "antidiabetic-without-t2d": _medication_without("A10", T2D),
    "diagnosis-free-text": lambda f, p: any(not c.codings for c in f.of("conditions", p.cpr)),
    "diagnosis-wrong-system": lambda f, p: any(
        c.codings and not any(s in (ICPC2, SKS) for s, _ in c.codings)
        for c in f.of("conditions", p.cpr)
    ),
    "lab-local-code": lambda f, p: any(
        o.system not in (NPU, MCS, EVENT) for o in f.of("observations", p.cpr)
    ),
    "unit-mismatch": lambda f, p: any(
        o.system == NPU and o.value_kind == "quantity" and o.unit != UNITS.get(o.code, o.unit)
        for o in f.of("observations", p.cpr)
    ),
    "implausible-bp": _implausible("DNK05472", 40, 300),
    "implausible-egfr": _implausible("DNK35302", 1, 200),
    "future-date": _future,
    "observation-after-death": _after_death,
    "duplicate-observation": _duplicate,
    "missing-annual-control": _no_service(("0120",), group1=False),
    "missing-chronic-care-fee": _no_service(("0130", "0131", "0132"), group1=True),
    "copd-without-mrc-cat": _copd_without_mrc_cat,
    "lbp-without-startback": _lbp_without_startback,
    "missing-gp": lambda f, p: p.gp_sor == "",
    "deceased-still-active": lambda f, p: p.active and not f.alive(p),
    "moved-still-active": lambda f, p: (
        p.active and f.alive(p) and p.gp_sor not in ("", f.x.clinic_sor)
    ),
    "birthdate-mismatch": lambda f, p: "birthdate-mismatch" in p.faults,
    "old-data": _old_data,
}


def carriers(extract: Extract, as_of: dt.date) -> dict[str, set[str]]:
    """Fault kind → the CPRs carrying it; "register-stale" → {clinic SOR} when stale."""
    facts = Facts(extract, as_of)
    found = {
        kind: {p.cpr for p in extract.patients if carries(facts, p)}
        for kind, carries in PATIENT_KINDS.items()
    }
    stale = extract.register_updated is None or extract.register_updated < shift_months(as_of, -2)
    found["register-stale"] = {extract.clinic_sor} if stale else set()
    return found
