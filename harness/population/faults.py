"""Planted data-quality faults: the catalogue of fault kinds and how each is planted.

A fault plan (`faultplan.py`) names kinds and rates; `plant` applies it to a clean generated
extract (`extractgen.py`) and returns the ground truth: for each kind the exact CPRs it was
planted on. Each patient carries at most one planted kind and each kind is planted so that it
brings no other kind along (a moved observation never lands after a death, a free-text
diagnosis only on a patient without medication, …): a check that tests one kind finds exactly
its patients. Every planted value lies far outside the clean generation's margins (see
extractgen.py), so any reasonable threshold separates them; the margins are in `planted`.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.dates import age_at, shift_months
from harness.population import facts as f
from harness.population.extract import read_extract_data
from harness.population.model import ATC, ICPC2, MCS, NPU, REGISTER_UPDATED, SKS

LOCAL_LAB = "urn:kcert:local-lab"  # a lab's own code system, as a wrong lab card holds it
ICD10 = "http://hl7.org/fhir/sid/icd-10"  # WHO ICD-10: not a Danish diagnosis code system
COPD = (ICPC2, "R95"), (SKS, "DJ44")  # (system, code prefix)
T2D = (ICPC2, "T90"), (SKS, "DE11")
LBP = (ICPC2, "L03"), (ICPC2, "L84"), (ICPC2, "L86")
UNITS = {"DNK05472": "mmHg", "DNK35302": "mL/min/1.73m2"}  # the unit each code expects
WRONG_UNITS = {"DNK05472": ("kPa", "mmol/L"), "DNK35302": ("mmol/L", "%")}
OLD_YEARS = 2  # data older than this is not shown in the plans


@dataclass(frozen=True)
class FaultKind:
    id: str
    level: str  # "patient" or "clinic"
    title_da: str
    title_en: str
    planted: str  # what planting does, and the margin to the clean generation


KINDS = (
    FaultKind("inhaler-without-copd", "patient", "Inhalator (ATC R03) uden KOL-diagnose",
              "Inhaler (ATC R03) without a COPD diagnosis",
              "an active R03 MedicationStatement on a patient without any COPD Condition"),
    FaultKind("antidiabetic-without-t2d", "patient", "Antidiabetika (ATC A10) uden type 2-diabetes",
              "Antidiabetic (ATC A10) without type 2 diabetes",
              "an active A10 MedicationStatement on a patient without any T2D Condition"),
    FaultKind("diagnosis-free-text", "patient", "Diagnose i fritekst", "Diagnosis in free text",
              "one chronic Condition's coding replaced by code.text (patients without medication)"),
    FaultKind("diagnosis-wrong-system", "patient", "Diagnose i forkert kodesystem",
              "Diagnosis in the wrong code system",
              f"one chronic Condition coded in WHO ICD-10 ({ICD10}) only"),
    FaultKind("lab-local-code", "patient", "Laboratoriesvar med lokal kode",
              "Lab result under a local code",
              f"one NPU/DNK result recoded to {LOCAL_LAB} (value and unit kept)"),
    FaultKind("unit-mismatch", "patient", "Enhed passer ikke til koden",
              "Unit does not fit the code",
              "one BP or eGFR quantity in kPa, mmol/L or % (value kept)"),
    FaultKind("implausible-bp", "patient", "Usandsynligt blodtryk", "Implausible blood pressure",
              "one systolic BP set to 0, 14.5, 420 or 1450 mmHg (clean: 105-175)"),
    FaultKind("implausible-egfr", "patient", "Usandsynlig eGFR", "Implausible eGFR",
              "one eGFR set to 0, 350 or 900 (clean: 25-90 or '>90')"),
    FaultKind("future-date", "patient", "Dato i fremtiden", "Date in the future",
              "one BP or eGFR moved 30-400 days after the as-of date (living patients)"),
    FaultKind("observation-after-death", "patient", "Måling efter dødsdato",
              "Observation after death",
              "a BP observation dated after deceasedDateTime, not after the as-of date"),
    FaultKind("duplicate-observation", "patient", "Dobbeltregistreret måling",
              "Duplicate observation",
              "one observation copied (same code, day, value, unit; a new fullUrl)"),
    FaultKind("missing-annual-control", "patient", "Manglende årskontrol (0120)",
              "Missing annual control (0120)",
              "a package patient's 0120 moved 13-20 months back (clean: within 330 days)"),
    FaultKind("missing-chronic-care-fee", "patient", "Manglende kronikerhonorar (0130-0132)",
              "Missing chronic-care fee (0130-0132)",
              "a group-1 package patient's fee moved 13-20 months back (clean: within 330 days)"),
    FaultKind("copd-without-mrc-cat", "patient", "KOL-patient uden MRC/CAT",
              "COPD patient without MRC/CAT",
              "every MRC and CAT of a COPD package patient removed (clean: one within 330 days)"),
    FaultKind("lbp-without-startback", "patient", "Lænderygpatient uden STarT Back",
              "Low-back-pain patient without STarT Back",
              "every STarT Back answer of an LBP package patient removed (clean: within 330 days)"),
    FaultKind("missing-gp", "patient", "Ingen alment praktiserende læge", "No general practitioner",
              "generalPractitioner removed from a living, active patient"),
    FaultKind("deceased-still-active", "patient", "Død, men stadig aktiv",
              "Deceased but still active", "a deceased (inactive) patient set active"),
    FaultKind("moved-still-active", "patient", "Fraflyttet, men stadig aktiv",
              "Moved away but still active",
              "a patient whose generalPractitioner is another clinic set active"),
    FaultKind("birthdate-mismatch", "patient", "Fødselsdato passer ikke til CPR",
              "Birth date does not match the CPR",
              "birthDate moved 1-20 days (adults of 20 or more: no age limit crossed)"),
    FaultKind("old-data", "patient", "Data ældre end to år", "Data older than two years",
              "BP observations 800-2000 days old added until more than half of the patient's"
              " observations are older than two years (clean: none older than 700 days)"),
    FaultKind("register-stale", "clinic", "Patientfortegnelsen ikke indlæst",
              "Patient register not loaded",
              "the register's last-update date set 100-400 days back (clean: 3-25 days)"),
)  # fmt: skip
KIND_IDS = tuple(k.id for k in KINDS)
BY_ID = {k.id: k for k in KINDS}


class FaultPlantError(ValueError):
    """The plan cannot be planted on this population (too few patients can carry a kind)."""


def has_condition(view: _View, cpr: str, prefixes: tuple[tuple[str, str], ...]) -> bool:
    return any(
        c.system == system and c.code.startswith(prefix)
        for c in view.conditions.get(cpr, [])
        for system, prefix in prefixes
    )


@dataclass
class _View:
    """The clean extract as facts, by CPR, for choosing who can carry a kind."""

    extract: f.Extract
    as_of: dt.date
    conditions: dict[str, list[f.ConditionFact]] = field(default_factory=dict)
    observations: dict[str, list[f.ObservationFact]] = field(default_factory=dict)
    medications: dict[str, list[f.MedicationFact]] = field(default_factory=dict)
    services: dict[str, list[f.ServiceFact]] = field(default_factory=dict)
    startbacks: dict[str, list[f.StartBackFact]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("conditions", "observations", "medications", "services", "startbacks"):
            index: dict[str, list[Any]] = getattr(self, name)
            for row in self.extract.table(name):
                index.setdefault(row.cpr, []).append(row)

    def package(self, p: f.PatientFact, kinds: tuple[tuple[str, str], ...]) -> bool:
        """Alive, active, listed with the clinic, adult, with one of the diagnoses."""
        return (
            not p.deceased
            and p.deceased_date is None
            and p.active
            and p.gp_sor == self.extract.clinic_sor
            and p.birth is not None
            and age_at(p.birth, self.as_of) >= 18
            and has_condition(self, p.cpr, kinds)
        )

    def quantities(self, p: f.PatientFact, codes: tuple[str, ...]) -> list[f.ObservationFact]:
        return [
            o
            for o in self.observations.get(p.cpr, [])
            if o.system == NPU and o.code in codes and o.value_kind == "quantity"
        ]


class _Planter:
    """Edits the Bundle's entries in place; every edit goes through here."""

    def __init__(self, bundle: dict[str, Any], view: _View, rng: random.Random) -> None:
        self.bundle = bundle
        self.view = view
        self.rng = rng
        self.by_url = {e["fullUrl"]: e for e in bundle["entry"]}
        self.removed: set[str] = set()

    def resource(self, full_url: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.by_url[full_url]["resource"]
        return resource

    def new_url(self) -> str:
        return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def add(self, resource: dict[str, Any]) -> str:
        url = self.new_url()
        entry = {
            "fullUrl": url,
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }
        self.bundle["entry"].append(entry)
        self.by_url[url] = entry
        return url

    def remove(self, urls: set[str]) -> None:
        # marked now, dropped once at the end (`finish`): one pass over the entries, not one each
        self.removed |= urls

    def finish(self) -> None:
        if self.removed:
            self.bundle["entry"] = [
                e for e in self.bundle["entry"] if e["fullUrl"] not in self.removed
            ]
            for url in self.removed:
                self.by_url.pop(url, None)
            self.removed = set()

    def observation(self, patient: str, code: str, day: dt.date, value: float) -> str:
        return self.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": NPU, "code": code}]},
                "subject": {"reference": patient},
                "effectiveDateTime": day.isoformat(),
                "valueQuantity": {"value": value, "unit": UNITS[code]},
            }
        )

    def days_back(self, low: int, high: int) -> dt.date:
        return self.view.as_of - dt.timedelta(days=self.rng.randint(low, high))


Eligible = Callable[[_View, f.PatientFact], bool]
Plant = Callable[[_Planter, f.PatientFact], list[str]]


def _alive(p: f.PatientFact) -> bool:
    return not p.deceased and p.deceased_date is None


def _medication(codes: tuple[str, ...]) -> Plant:
    def plant(pl: _Planter, p: f.PatientFact) -> list[str]:
        start = pl.days_back(30, 600)
        return [
            pl.add(
                {
                    "resourceType": "MedicationStatement",
                    "status": "active",
                    "medicationCodeableConcept": {
                        "coding": [{"system": ATC, "code": pl.rng.choice(codes)}]
                    },
                    "subject": {"reference": p.id},
                    "effectivePeriod": {"start": start.isoformat()},
                }
            )
        ]

    return plant


def _without(prefixes: tuple[tuple[str, str], ...], atc: str) -> Eligible:
    def eligible(v: _View, p: f.PatientFact) -> bool:
        return (
            _alive(p)
            and not has_condition(v, p.cpr, prefixes)
            and not any(m.code.startswith(atc) for m in v.medications.get(p.cpr, []))
        )

    return eligible


CHRONIC = (
    *COPD,
    *T2D,
    *LBP,
    *((ICPC2, code) for code in ("K74", "K75", "K76", "K86", "K87", "T93")),
)
FREE_TEXT = {"R95": "KOL", "DJ449": "KOL", "T90": "Type 2-diabetes", "DE119": "Type 2-diabetes"}
ICD10_OF = {"R95": "J44.9", "DJ449": "J44.9", "T90": "E11.9", "DE119": "E11.9", "L03": "M54.5"}


def _recodable(v: _View, p: f.PatientFact) -> bool:
    return not v.medications.get(p.cpr) and has_condition(v, p.cpr, CHRONIC)


def _recode(wrong_system: bool) -> Plant:
    def plant(pl: _Planter, p: f.PatientFact) -> list[str]:
        target = next(
            c
            for c in pl.view.conditions[p.cpr]
            if any(c.system == s and c.code.startswith(x) for s, x in CHRONIC)
        )
        resource = pl.resource(target.id)
        if wrong_system:
            code = ICD10_OF.get(target.code, "I25.9")
            resource["code"] = {"coding": [{"system": ICD10, "code": code}]}
        else:
            resource["code"] = {"text": FREE_TEXT.get(target.code, "Kronisk sygdom")}
        return [target.id]

    return plant


def _has_npu(v: _View, p: f.PatientFact) -> bool:
    return bool(v.quantities(p, tuple(UNITS)))


def _local_code(pl: _Planter, p: f.PatientFact) -> list[str]:
    target = pl.rng.choice(pl.view.quantities(p, tuple(UNITS)))
    local = {"DNK05472": "BT-SYS", "DNK35302": "EGFR"}[target.code]
    pl.resource(target.id)["code"] = {"coding": [{"system": LOCAL_LAB, "code": local}]}
    return [target.id]


def _wrong_unit(pl: _Planter, p: f.PatientFact) -> list[str]:
    target = pl.rng.choice(pl.view.quantities(p, tuple(UNITS)))
    pl.resource(target.id)["valueQuantity"]["unit"] = pl.rng.choice(WRONG_UNITS[target.code])
    return [target.id]


def _implausible(code: str, values: tuple[float, ...]) -> tuple[Eligible, Plant]:
    def eligible(v: _View, p: f.PatientFact) -> bool:
        return bool(v.quantities(p, (code,)))

    def plant(pl: _Planter, p: f.PatientFact) -> list[str]:
        target = pl.rng.choice(pl.view.quantities(p, (code,)))
        pl.resource(target.id)["valueQuantity"]["value"] = pl.rng.choice(values)
        return [target.id]

    return eligible, plant


def _future(pl: _Planter, p: f.PatientFact) -> list[str]:
    target = pl.rng.choice(pl.view.quantities(p, tuple(UNITS)))
    day = pl.view.as_of + dt.timedelta(days=pl.rng.randint(30, 400))
    pl.resource(target.id)["effectiveDateTime"] = day.isoformat()
    return [target.id]


def _after_death(pl: _Planter, p: f.PatientFact) -> list[str]:
    assert p.deceased_date is not None  # eligibility
    span = (pl.view.as_of - p.deceased_date).days
    day = p.deceased_date + dt.timedelta(days=pl.rng.randint(1, span))
    return [pl.observation(p.id, "DNK05472", day, float(pl.rng.randint(110, 170)))]


def _duplicate(pl: _Planter, p: f.PatientFact) -> list[str]:
    target = pl.rng.choice(pl.view.observations[p.cpr])
    return [pl.add(copy.deepcopy(pl.resource(target.id)))]


def _service_back(codes: tuple[str, ...]) -> Plant:
    def plant(pl: _Planter, p: f.PatientFact) -> list[str]:
        moved = []
        for s in pl.view.services.get(p.cpr, []):
            if s.code in codes:
                day = shift_months(pl.view.as_of, -13) - dt.timedelta(days=pl.rng.randint(0, 200))
                pl.resource(s.id)["occurrenceDateTime"] = day.isoformat()
                moved.append(s.id)
        return moved

    return plant


def _remove(pick: Callable[[_View, f.PatientFact], list[str]]) -> Plant:
    def plant(pl: _Planter, p: f.PatientFact) -> list[str]:
        urls = pick(pl.view, p)
        pl.remove(set(urls))
        return urls

    return plant


def _mrc_cat(v: _View, p: f.PatientFact) -> list[str]:
    return [o.id for o in v.observations.get(p.cpr, []) if o.system == MCS]


def _startbacks(v: _View, p: f.PatientFact) -> list[str]:
    return [q.id for q in v.startbacks.get(p.cpr, [])]


def _patient_edit(edit: Callable[[_Planter, dict[str, Any], f.PatientFact], None]) -> Plant:
    def plant(pl: _Planter, p: f.PatientFact) -> list[str]:
        edit(pl, pl.resource(p.id), p)
        return [p.id]

    return plant


def _no_gp(pl: _Planter, r: dict[str, Any], p: f.PatientFact) -> None:
    del r["generalPractitioner"]


def _set_active(pl: _Planter, r: dict[str, Any], p: f.PatientFact) -> None:
    r["active"] = True


def _shift_birth(pl: _Planter, r: dict[str, Any], p: f.PatientFact) -> None:
    assert p.birth is not None  # eligibility
    r["birthDate"] = (p.birth + dt.timedelta(days=pl.rng.randint(1, 20))).isoformat()


def _old_data(pl: _Planter, p: f.PatientFact) -> list[str]:
    count = len(pl.view.observations.get(p.cpr, [])) + 1
    days = pl.rng.sample(range(800, 2001), count)
    return [
        pl.observation(
            p.id, "DNK05472", pl.view.as_of - dt.timedelta(days=d), float(pl.rng.randint(110, 170))
        )
        for d in days
    ]


_BP_ELIGIBLE, _BP_PLANT = _implausible("DNK05472", (0.0, 14.5, 420.0, 1450.0))
_EGFR_ELIGIBLE, _EGFR_PLANT = _implausible("DNK35302", (0.0, 350.0, 900.0))


def _own_alive(v: _View, p: f.PatientFact) -> bool:
    return _alive(p) and p.active and p.gp_sor == v.extract.clinic_sor


def _can_be_old(v: _View, p: f.PatientFact) -> bool:
    # the old observations go back up to 2000 days: never before birth
    return p.birth is not None and (v.as_of - p.birth).days > 2100


PLANTERS: dict[str, tuple[Eligible, Plant]] = {
    "inhaler-without-copd": (_without(COPD, "R03"), _medication(("R03AC02", "R03BB04"))),
    "antidiabetic-without-t2d": (_without(T2D, "A10"), _medication(("A10BA02", "A10BJ06"))),
    "diagnosis-free-text": (_recodable, _recode(wrong_system=False)),
    "diagnosis-wrong-system": (_recodable, _recode(wrong_system=True)),
    "lab-local-code": (_has_npu, _local_code),
    "unit-mismatch": (_has_npu, _wrong_unit),
    "implausible-bp": (_BP_ELIGIBLE, _BP_PLANT),
    "implausible-egfr": (_EGFR_ELIGIBLE, _EGFR_PLANT),
    # NPU results only: a future MRC/CAT would also leave its COPD patient without a recent one
    "future-date": (lambda v, p: _alive(p) and _has_npu(v, p), _future),
    "observation-after-death": (
        lambda v, p: p.deceased_date is not None and p.deceased_date < v.as_of,
        _after_death,
    ),
    "duplicate-observation": (lambda v, p: bool(v.observations.get(p.cpr)), _duplicate),
    "missing-annual-control": (
        lambda v, p: v.package(p, (*COPD, *T2D)),
        _service_back(("0120",)),
    ),
    "missing-chronic-care-fee": (
        lambda v, p: v.package(p, (*COPD, *T2D)) and p.insurance_group == 1,
        _service_back(("0130", "0131", "0132")),
    ),
    "copd-without-mrc-cat": (lambda v, p: v.package(p, COPD), _remove(_mrc_cat)),
    "lbp-without-startback": (lambda v, p: v.package(p, LBP), _remove(_startbacks)),
    "missing-gp": (_own_alive, _patient_edit(_no_gp)),
    "deceased-still-active": (
        lambda v, p: not _alive(p) and not p.active,
        _patient_edit(_set_active),
    ),
    "moved-still-active": (
        lambda v, p: _alive(p) and not p.active and p.gp_sor not in ("", v.extract.clinic_sor),
        _patient_edit(_set_active),
    ),
    "birthdate-mismatch": (
        lambda v, p: p.birth is not None and age_at(p.birth, v.as_of) >= 20,
        _patient_edit(_shift_birth),
    ),
    "old-data": (_can_be_old, _old_data),
}


@dataclass(frozen=True)
class Rate:
    """How many patients: a share of those who can carry the kind, or an exact count."""

    rate: float | None = None
    count: int | None = None

    def of(self, eligible: int) -> int:
        if self.count is not None:
            return self.count
        assert self.rate is not None
        return min(eligible, max(1, round(self.rate * eligible))) if eligible else 1


@dataclass
class Truth:
    """The ground truth of one planting: kind → the CPRs (patient level) it was planted on."""

    as_of: dt.date
    clinic_sor: str
    cprs: dict[str, list[str]]  # every catalogue kind; [] where nothing was planted
    resources: dict[str, list[str]]  # kind → the fullUrls planted, changed or removed
    clinics: dict[str, list[str]]  # clinic-level kind → the SORs it was planted on
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        faults: dict[str, Any] = {}
        for kind in KINDS:
            entry: dict[str, Any] = {"level": kind.level, "title_en": kind.title_en}
            entry["cprs"] = self.cprs.get(kind.id, [])
            if kind.level == "clinic":
                entry["clinics"] = self.clinics.get(kind.id, [])
            entry["resources"] = self.resources.get(kind.id, [])
            faults[kind.id] = entry
        return {
            "format": "kcert-fault-truth",
            "version": 1,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "clinic_sor": self.clinic_sor,
            "faults": faults,
        }


def plant(
    bundle: dict[str, Any], plan: dict[str, Rate], seed: int, as_of: dt.date | None = None
) -> Truth:
    """Plant `plan` on the clean `bundle` (edited in place); the truth of what went where."""
    unknown = sorted(set(plan) - set(BY_ID))
    if unknown:
        raise FaultPlantError(f"unknown fault kind(s) {unknown}; known: {', '.join(KIND_IDS)}")
    extract = read_extract_data(bundle, "generated")
    day = as_of or extract.as_of
    if day is None:
        raise FaultPlantError("the population says no as-of date (Bundle.timestamp)")
    view = _View(extract, day)
    rng = random.Random(f"kcert-faults-{seed}")
    planter = _Planter(bundle, view, rng)
    used: set[str] = set()
    truth = Truth(day, extract.clinic_sor, {}, {}, {}, seed)
    for kind in KINDS:  # catalogue order, so the same plan plants the same way
        if kind.id not in plan:
            continue
        if kind.level == "clinic":
            own = next(e["resource"] for e in bundle["entry"] if _is_own(e["resource"]))
            stale = day - dt.timedelta(days=rng.randint(100, 400))
            own["extension"] = [
                x for x in own.get("extension") or [] if x.get("url") != REGISTER_UPDATED
            ] + [{"url": REGISTER_UPDATED, "valueDate": stale.isoformat()}]
            truth.clinics[kind.id] = [extract.clinic_sor]
            continue
        eligible_of, plant_one = PLANTERS[kind.id]
        pool = [p for p in extract.patients if p.cpr not in used and eligible_of(view, p)]
        wanted = plan[kind.id].of(len(pool))
        if wanted > len(pool):
            raise FaultPlantError(
                f"{kind.id}: the plan asks for {wanted} patient(s), only {len(pool)} of this"
                " population can carry it (a larger --size helps)"
            )
        chosen = rng.sample(pool, wanted)
        resources: list[str] = []
        for p in chosen:
            resources += plant_one(planter, p)
            used.add(p.cpr)
        truth.cprs[kind.id] = sorted(p.cpr for p in chosen)
        truth.resources[kind.id] = sorted(resources)
    planter.finish()
    return truth


def _is_own(resource: dict[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    return resource.get("resourceType") == "Organization" and any(
        t.get("code") == "own-clinic" for t in tags
    )
