"""Deterministic synthetic populations: realistic prevalence plus every boundary of rule pack v1.

The same seed, size, as-of date and clinic give byte-identical output. CPR numbers are
synthetic (kcert's serial range 9900-9999, valid date and century digit); no real person.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.dates import shift_months
from harness.population.builder import BundleBuilder

GIVEN_F = [
    "Anne",
    "Birthe",
    "Camilla",
    "Dorte",
    "Else",
    "Frida",
    "Gitte",
    "Hanne",
    "Ida",
    "Jette",
    "Karen",
    "Lene",
    "Mette",
    "Nina",
    "Pia",
    "Rikke",
    "Susanne",
    "Tina",
]
GIVEN_M = [
    "Anders",
    "Bent",
    "Carsten",
    "Dennis",
    "Erik",
    "Frank",
    "Gert",
    "Henrik",
    "Jens",
    "Kim",
    "Lars",
    "Morten",
    "Niels",
    "Ole",
    "Peter",
    "Rasmus",
    "Søren",
    "Torben",
]
FAMILY = [
    "Testesen",
    "Prøvesen",
    "Syntetisk",
    "Eksempelsen",
    "Fiktivsen",
    "Modelsen",
    "Simulsen",
    "Dummysen",
    "Attrapsen",
    "Øvelsesen",
    "Skabelonsen",
    "Forsøgsen",
]

OTHER_CLINIC_SOR = "999961000016009"
MIN_SIZE = 50


class GeneratorError(ValueError):
    """The generator was asked for something it cannot make; the text says what."""


@dataclass
class Generated:
    bundle: dict[str, Any]
    patients: int
    edge_cases: int


class _Generator:
    def __init__(self, seed: int, as_of: dt.date, clinic_sor: str, clinic_name: str) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.builder = BundleBuilder(self._uuid)
        self.clinic = self.builder.organization(clinic_sor, clinic_name, own=True)
        self.other = self.builder.organization(OTHER_CLINIC_SOR, "Anden Lægepraksis (kcert)", False)
        self.used: set[str] = set()
        self.count = 0

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def days_ago(self, low: int, high: int) -> dt.date:
        return self.as_of - dt.timedelta(days=self.rng.randint(low, high))

    def cpr_for(self, birth: dt.date, gender: str) -> str:
        if not 1937 <= birth.year <= 2036:
            raise GeneratorError(f"birth year {birth.year} cannot carry a serial in 9900-9999")
        stem = birth.strftime("%d%m%y")
        parity = 1 if gender == "male" else 0
        start = self.rng.randrange(0, 50)
        for step in range(50):
            cpr = f"{stem}99{2 * ((start + step) % 50) + parity:02d}"
            if cpr not in self.used:
                self.used.add(cpr)
                return cpr
        raise GeneratorError(f"no free synthetic CPR left for {birth}")

    def person(
        self,
        birth: dt.date,
        *,
        gender: str | None = None,
        family: str | None = None,
        gp: str | None = None,
        group: int = 1,
        active: bool = True,
        deceased: dt.date | None = None,
    ) -> str:
        gender = gender or self.rng.choice(["male", "female"])
        given = self.rng.choice(GIVEN_M if gender == "male" else GIVEN_F)
        self.count += 1
        return self.builder.patient(
            self.cpr_for(birth, gender),
            given,
            family or self.rng.choice(FAMILY),
            gender,
            birth,
            gp or self.clinic,
            group,
            active,
            deceased,
        )

    def birth_for_age(self, age: int) -> dt.date:
        birthday = shift_months(self.as_of, -12 * age)
        birth = birthday - dt.timedelta(days=self.rng.randint(1, 360))
        # serials 9900-9999 exist only for births 1937-2036: older people are born in 1937
        if birth.year < 1937:
            birth = dt.date(1937, self.rng.randint(1, 12), self.rng.randint(1, 28))
        return birth

    # -- deliberate boundaries (each patient probes one edge of rule pack v1) -----------------

    def edge_cases(self) -> None:
        d, b = self.as_of, self.builder
        one_year, two_years = shift_months(d, -12), shift_months(d, -24)
        day = dt.timedelta(days=1)
        recent = d - dt.timedelta(days=30)

        def kol(family: str, **kw: Any) -> str:
            p = self.person(self.birth_for_age(self.rng.randint(45, 85)), family=family, **kw)
            b.condition(p, "R95", recorded=d - dt.timedelta(days=900))
            return p

        p = kol("Grænseblodtryk")
        b.observation(p, "bp", recent, 150.0)
        p = kol("Overgrænse")
        b.observation(p, "bp", recent, 151.0)
        p = kol("Toårig")
        b.observation(p, "mrc", two_years, 3)
        b.observation(p, "bp", two_years, 170.0)
        p = kol("Toårigplusendag")
        b.observation(p, "mrc", two_years - day, 4)
        b.observation(p, "bp", two_years - day, 170.0)
        p = self.person(shift_months(d, -12 * 18), family="Attenidag")
        b.condition(p, "R95", recorded=d - dt.timedelta(days=10))
        p = self.person(shift_months(d, -12 * 18) + day, family="Attenimorgen")
        b.condition(p, "R95", recorded=d - dt.timedelta(days=10))
        p = kol("Årskontrolgrænse")
        b.service(p, "0120", one_year)
        b.service(p, "0130", one_year - day)
        p = kol("Årskontrolplusendag")
        b.service(p, "0120", one_year - day)
        b.service(p, "0131", one_year)
        p = kol("Indlagtgrænse")
        b.observation(p, "hospitalisation", one_year)
        p = kol("Indlagtforgammel")
        b.observation(p, "hospitalisation", one_year - day)
        p = kol("Toeksacerbationer")
        b.observation(p, "exacerbation", d - dt.timedelta(days=40))
        b.observation(p, "exacerbation", d - dt.timedelta(days=200))
        p = kol("Eneksacerbation")
        b.observation(p, "exacerbation", d - dt.timedelta(days=40))
        b.observation(p, "cat", d - dt.timedelta(days=40), 9)
        due_on_d, overdue = _follow_up_edges(d, 6)
        p = kol("Opfølgningforfalder")  # yellow, follow-up + 6 months = D: not overdue
        b.observation(p, "mrc", d - dt.timedelta(days=60), 3)
        b.service(p, "0120", due_on_d)
        p = kol("Opfølgningoverskredet")  # yellow, follow-up + 6 months just before D: overdue
        b.observation(p, "mrc", d - dt.timedelta(days=60), 3)
        b.encounter(p, "R95", overdue)
        p = kol("Catti")  # CAT exactly 10: yellow
        b.observation(p, "cat", recent, 10)
        p = kol("Mrcto")  # MRC 2 and CAT 9: green
        b.observation(p, "mrc", recent, 2)
        b.observation(p, "cat", recent, 9)
        p = kol("Eksacerbationgrænse")  # two exacerbations, the older exactly 12 months old: red
        b.observation(p, "exacerbation", one_year)
        b.observation(p, "exacerbation", recent)
        p = kol("Eksacerbationforgammel")  # the older one day too old: not red
        b.observation(p, "exacerbation", one_year - day)
        b.observation(p, "exacerbation", recent)
        red_due, red_overdue = _follow_up_edges(d, 3)
        p = kol("Rødopfølgning")  # red: the last day that is not overdue, and the first that is
        b.observation(p, "hospitalisation", recent)
        b.service(p, "0120", red_due)
        p = kol("Rødoverskredet")
        b.observation(p, "hospitalisation", recent)
        b.service(p, "0120", red_overdue)
        green_due, green_overdue = _follow_up_edges(d, 12)
        p = kol("Grønopfølgning")  # green: the same with 12 months
        b.observation(p, "cat", recent, 5)
        b.service(p, "0120", green_due)
        p = kol("Grønoverskredet")
        b.observation(p, "cat", recent, 5)
        b.encounter(p, "R95", green_overdue)
        p = kol("Gruppeto", group=2)
        p = kol("Fremtidsmåling")
        b.observation(p, "bp", d + day, 180.0)
        b.observation(p, "bp", recent, 140.0)
        p = self.person(self.birth_for_age(60), family="Fremtidsdiagnose")
        b.condition(p, "R95", recorded=d + day)
        p = kol("Død", deceased=d - dt.timedelta(days=20))
        p = kol("Dørsenere", deceased=d + dt.timedelta(days=20))
        p = kol("Fraflyttet", active=False)
        p = kol("Andenklinik", gp=self.other)
        p = self.person(self.birth_for_age(70), family="Raskmeldt")
        b.condition(p, "R95", status="resolved", recorded=d - dt.timedelta(days=900))
        p = self.person(self.birth_for_age(70), family="Sksdiagnose")
        b.condition(p, "DJ449", system="sks", recorded=d - dt.timedelta(days=900))

        def t2d(family: str) -> str:
            p = self.person(self.birth_for_age(self.rng.randint(40, 85)), family=family)
            b.condition(p, "T90", recorded=d - dt.timedelta(days=900))
            return p

        p = t2d("Egfrtres")
        b.observation(p, "egfr", recent, 60.0)
        p = t2d("Egfrnioghalvtreds")
        b.observation(p, "egfr", recent, 59.0)
        p = t2d("Egfrhalvfems")
        b.observation(p, "egfr", d - dt.timedelta(days=300), 45.0)
        b.observation(p, "egfr", recent, ">90")
        p = t2d("Egfrgammel")
        b.observation(p, "egfr", two_years - day, 40.0)
        p = t2d("Egfrtoår")  # exactly two years old still counts
        b.observation(p, "egfr", two_years, 40.0)
        p = self.person(self.birth_for_age(10), family="Barn")
        b.condition(p, "T90")

        def lrs(family: str) -> str:
            p = self.person(self.birth_for_age(self.rng.randint(25, 70)), family=family)
            b.condition(
                p, self.rng.choice(["L03", "L84", "L86"]), recorded=d - dt.timedelta(days=100)
            )
            return p

        p = lrs("Startbacktre")
        b.startback(p, {1, 2, 3}, recent)
        p = lrs("Startbackfirepsykotre")
        b.startback(p, {1, 5, 6, 7}, recent)
        p = lrs("Startbackfirepsykofire")
        b.startback(p, {5, 6, 7, 8}, recent)
        p = lrs("Startbacktolvmåneder")
        b.startback(p, {1}, one_year)
        p = lrs("Startbacktoår")  # red, exactly two years old: still coloured
        b.startback(p, {5, 6, 7, 8}, two_years)
        p = lrs("Startbacktoårplusendag")  # one day older: no colour
        b.startback(p, {5, 6, 7, 8}, two_years - day)
        p = lrs("Startbackforgammel")
        b.startback(p, {1, 2, 3, 4, 5, 6}, one_year - day)
        p = lrs("Startbackufuldstændig")
        b.startback(p, {1, 2, 3, 4, 5}, recent, items=8)
        p = self.person(self.birth_for_age(66), family="Komorbid")
        b.condition(p, "R95")
        b.condition(p, "K86")
        b.condition(p, "T90")
        p = self.person(self.birth_for_age(71), family="Hjertealene")
        b.condition(p, "T93")

    # -- the rest of the clinic: realistic prevalence ------------------------------------------

    def ordinary(self) -> None:
        rng, b = self.rng, self.builder
        age = rng.choice(range(0, 90)) if rng.random() < 0.2 else rng.randint(18, 89)
        roll = rng.random()
        kwargs: dict[str, Any] = {"group": 2 if rng.random() < 0.015 else 1}
        if roll < 0.01:
            kwargs["deceased"] = self.days_ago(1, 700)
        elif roll < 0.03:
            kwargs["active"] = False
        elif roll < 0.04:
            kwargs["gp"] = self.other
        p = self.person(self.birth_for_age(age), **kwargs)
        adult = age >= 18
        has_kol = adult and rng.random() < 0.05 * (2 if age > 60 else 1)
        has_t2d = adult and rng.random() < 0.07
        has_heart = adult and rng.random() < 0.06 * (2 if age > 65 else 1)
        has_lrs = adult and rng.random() < 0.08
        if rng.random() < 0.3:
            b.observation(p, "bp", self.days_ago(1, 1000), float(rng.randint(105, 175)))
        if has_kol:
            b.condition(
                p,
                *(("R95", "icpc2") if rng.random() < 0.8 else ("DJ449", "sks")),
                "active" if rng.random() < 0.95 else "inactive",
                self.days_ago(200, 3000),
            )
            for _ in range(rng.randint(0, 2)):
                b.observation(p, "mrc", self.days_ago(1, 900), rng.randint(1, 5))
            for _ in range(rng.randint(0, 2)):
                b.observation(p, "cat", self.days_ago(1, 900), rng.randint(0, 35))
            for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
                b.observation(p, "exacerbation", self.days_ago(1, 500))
            if rng.random() < 0.1:
                b.observation(p, "hospitalisation", self.days_ago(1, 500))
            if rng.random() < 0.75:
                b.service(p, "0120", self.days_ago(1, 500))
            if rng.random() < 0.8:
                b.service(p, rng.choice(["0130", "0131", "0132"]), self.days_ago(1, 450))
            if rng.random() < 0.4:
                b.encounter(p, "R95", self.days_ago(1, 300))
            b.observation(p, "bp", self.days_ago(1, 800), float(rng.randint(110, 175)))
        if has_t2d:
            b.condition(
                p,
                *(("T90", "icpc2") if rng.random() < 0.8 else ("DE119", "sks")),
                "active",
                self.days_ago(200, 3000),
            )
            for _ in range(rng.randint(1, 3)):
                value: float | str = ">90" if rng.random() < 0.1 else float(rng.randint(25, 90))
                b.observation(p, "egfr", self.days_ago(1, 900), value)
        if has_heart:
            b.condition(p, rng.choice(["K74", "K75", "K76", "K86", "K87", "T93"]))
        if has_lrs:
            b.condition(p, rng.choice(["L03", "L84", "L86"]), recorded=self.days_ago(20, 900))
            if rng.random() < 0.6:
                yes = {n for n in range(1, 10) if rng.random() < 0.4}
                b.startback(p, yes, self.days_ago(1, 800))


def _follow_up_edges(as_of: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """(earliest follow-up not overdue at D, latest one that is): month ends clamp, so search."""
    day = dt.timedelta(days=1)
    due = shift_months(as_of, -months)
    for _ in range(40):  # bounded: a month-end clamp moves the edge by at most three days
        if shift_months(due, months) >= as_of and shift_months(due - day, months) < as_of:
            break
        due += day if shift_months(due, months) < as_of else -day
    return due, due - day


def generate(
    seed: int, size: int, as_of: dt.date, clinic_sor: str, clinic_name: str = "Lægehuset (kcert)"
) -> Generated:
    if size < MIN_SIZE:
        raise GeneratorError(
            f"--size must be at least {MIN_SIZE} (the boundary cases alone need that)"
        )
    gen = _Generator(seed, as_of, clinic_sor, clinic_name)
    gen.edge_cases()
    edge = gen.count
    while gen.count < size:
        gen.ordinary()
    return Generated(gen.builder.bundle(), gen.count, edge)


def write_json(bundle: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        json.dump(bundle, handle, ensure_ascii=False, separators=(",", ":"))
        handle.write("\n")


CSV_COLUMNS = ["cpr", "kind", "system", "code", "date", "value", "detail"]


def to_csv(bundle: dict[str, Any]) -> str:
    """Long format for manual import: one row per patient fact, in Bundle order."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cpr_of: dict[str, str] = {}
    orgs: dict[str, str] = {}
    for entry in bundle["entry"]:
        r = entry["resource"]
        kind = r["resourceType"]
        if kind == "Organization":
            orgs[entry["fullUrl"]] = r["identifier"][0]["value"]
        elif kind == "Patient":
            cpr = r["identifier"][0]["value"]
            cpr_of[entry["fullUrl"]] = cpr
            name = r["name"][0]
            detail = ";".join(
                f"{k}={v}"
                for k, v in (
                    ("name", f"{name['given'][0]} {name['family']}"),
                    ("gender", r["gender"]),
                    ("active", str(r.get("active", True)).lower()),
                    ("deceased", r.get("deceasedDateTime", "")),
                    ("gp_sor", orgs.get(r["generalPractitioner"][0]["reference"], "")),
                    ("insurance_group", r["extension"][0]["valueInteger"]),
                )
            )
            writer.writerow([cpr, "patient", "", "", r["birthDate"], "", detail])
        else:
            cpr = cpr_of.get(r["subject"]["reference"], "")
            writer.writerow([cpr, *_fact(r)])
    return out.getvalue()


def _fact(r: dict[str, Any]) -> list[str]:
    kind = r["resourceType"]
    if kind == "Condition":
        c = r["code"]["coding"][0]
        return [
            "condition",
            c["system"],
            c["code"],
            r.get("recordedDate", ""),
            "",
            r["clinicalStatus"]["coding"][0]["code"],
        ]
    if kind == "Observation":
        c = r["code"]["coding"][0]
        value = r.get(
            "valueString", r.get("valueInteger", (r.get("valueQuantity") or {}).get("value", ""))
        )
        return ["observation", c["system"], c["code"], r["effectiveDateTime"], str(value), ""]
    if kind == "ChargeItem":
        c = r["code"]["coding"][0]
        return ["service", c["system"], c["code"], r["occurrenceDateTime"], "", ""]
    if kind == "Encounter":
        c = r["reasonCode"][0]["coding"][0]
        return ["encounter", c["system"], c["code"], r["period"]["start"], "", ""]
    answers = "".join("1" if i["answer"][0]["valueBoolean"] else "0" for i in r["item"])
    return ["startback", r["questionnaire"], "", r["authored"], answers, r["status"]]
