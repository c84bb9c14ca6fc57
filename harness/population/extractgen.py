"""A clean, deterministic clinic extract: the base the fault plans plant on (see faults.py).

Unlike the cockpit population (`generator.generate`, which carries the rule pack's boundary
cases, some of them data-quality faults on purpose), this one is fault-free by construction,
with every margin a quality check needs on the clean side:

- the patient register was loaded 3-25 days before the as-of date (Bundle.timestamp);
- deceased patients (died 30-300 days ago) and moved ones (generalPractitioner another clinic)
  are inactive; everyone else has the clinic as general practitioner and is active;
- every diagnosis is coded (ICPC-2, some SKS-D) and active; every measurement is coded
  NPU/DNK or MCS in the unit its code expects, with a plausible value, dated within the last
  700 days, before death, never two of one code on one day;
- every package patient (adult, alive, active, own clinic, with COPD or type 2 diabetes) had an
  annual control (0120) and, in insurance group 1, a chronic-care fee (0130-0132) in the last
  330 days; every COPD package patient an MRC or CAT in the last 330 days; every low-back-pain
  package patient a complete STarT Back answer in the last 330 days;
- inhalers (ATC R03) only for COPD patients, antidiabetics (A10) only for type 2 diabetes ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from harness.population.generator import OTHER_CLINIC_SOR, Generated, GeneratorError, _Generator
from harness.population.model import REGISTER_UPDATED

MIN_EXTRACT_SIZE = 20
INHALERS = ("R03AC02", "R03AK06", "R03BB04", "R03AL03")
ANTIDIABETICS = ("A10BA02", "A10BJ06", "A10BK01", "A10AE04")
HEART = ("K74", "K75", "K76", "K86", "K87", "T93")
LBP = ("L03", "L84", "L86")
CLEAN_DAYS = 700  # every clean measurement lies within this many days of the as-of date
RECENT_DAYS = 330  # services, MRC/CAT and STarT Back of package patients: within this


class _ExtractGenerator(_Generator):
    def __init__(self, seed: int, as_of: dt.date, clinic_sor: str, clinic_name: str) -> None:
        super().__init__(seed, as_of, clinic_sor, clinic_name)
        own = self.builder.entries[0]["resource"]
        updated = as_of - dt.timedelta(days=self.rng.randint(3, 25))
        own["extension"] = [{"url": REGISTER_UPDATED, "valueDate": updated.isoformat()}]

    def dates(self, count: int, low: int, high: int) -> list[dt.date]:
        """`count` distinct days between `low` and `high` days before the as-of date."""
        span = range(low, high + 1)
        return [self.as_of - dt.timedelta(days=d) for d in self.rng.sample(span, count)]

    def patient(self) -> None:
        rng, b = self.rng, self.builder
        age = rng.randint(0, 17) if rng.random() < 0.15 else rng.randint(18, 92)
        roll = rng.random()
        kwargs: dict[str, Any] = {"group": 2 if rng.random() < 0.02 else 1}
        died: dt.date | None = None
        if roll < 0.03:
            died = self.days_ago(30, 300)
            kwargs.update(deceased=died, active=False)
        elif roll < 0.07:
            kwargs.update(gp=self.other, active=False)
        p = self.person(self.birth_for_age(age), **kwargs)
        # measurements: within CLEAN_DAYS, and before death
        latest = (self.as_of - died).days + 1 if died else 1
        window = (latest, CLEAN_DAYS)
        package = died is None and "gp" not in kwargs and age >= 18
        adult = age >= 18
        kol = adult and rng.random() < 0.06 * (2 if age > 60 else 1)
        t2d = adult and rng.random() < 0.08
        heart = adult and rng.random() < 0.06
        lbp = adult and rng.random() < 0.08
        if rng.random() < 0.3:
            day = self.dates(1, *window)[0]
            b.observation(p, "bp", day, float(rng.randint(105, 175)))
        if kol:
            code, system = ("R95", "icpc2") if rng.random() < 0.8 else ("DJ449", "sks")
            b.condition(p, code, system, "active", self.days_ago(200, 3000))
            low = latest if died else 1
            high = min(RECENT_DAYS, CLEAN_DAYS) if package else CLEAN_DAYS
            kinds = ["mrc", "cat"] if rng.random() < 0.4 else [rng.choice(["mrc", "cat"])]
            for kind in kinds:
                for day in self.dates(rng.randint(1, 2), low, max(low + 1, high)):
                    b.observation(
                        p, kind, day, rng.randint(1, 5) if kind == "mrc" else rng.randint(0, 35)
                    )
            for day in self.dates(rng.choice([0, 0, 1, 2]), *window):
                b.observation(p, "exacerbation", day)
            if died is None and rng.random() < 0.7:
                b.medication(p, rng.choice(INHALERS), self.days_ago(30, 700))
        if t2d:
            code, system = ("T90", "icpc2") if rng.random() < 0.8 else ("DE119", "sks")
            b.condition(p, code, system, "active", self.days_ago(200, 3000))
            for day in self.dates(rng.randint(1, 3), *window):
                value: float | str = ">90" if rng.random() < 0.1 else float(rng.randint(25, 90))
                b.observation(p, "egfr", day, value)
            if died is None and rng.random() < 0.6:
                b.medication(p, rng.choice(ANTIDIABETICS), self.days_ago(30, 700))
        if package and (kol or t2d):
            b.service(p, "0120", self.days_ago(1, RECENT_DAYS))
            if kwargs["group"] == 1:
                b.service(p, rng.choice(["0130", "0131", "0132"]), self.days_ago(1, RECENT_DAYS))
            else:
                b.service(p, "0133", self.days_ago(1, RECENT_DAYS))
            if rng.random() < 0.4:
                b.encounter(p, "R95" if kol else "T90", self.days_ago(1, RECENT_DAYS))
        if heart:
            b.condition(p, rng.choice(HEART), "icpc2", "active", self.days_ago(100, 3000))
        if lbp:
            b.condition(p, rng.choice(LBP), "icpc2", "active", self.days_ago(20, 900))
            if package:
                yes = {n for n in range(1, 10) if rng.random() < 0.4}
                b.startback(p, yes, self.days_ago(1, RECENT_DAYS))


def generate_extract(
    seed: int, size: int, as_of: dt.date, clinic_sor: str, clinic_name: str = "Lægehuset (kcert)"
) -> Generated:
    """A fault-free clinic extract of `size` patients (Bundle.timestamp = the as-of date)."""
    if size < MIN_EXTRACT_SIZE:
        raise GeneratorError(f"--size must be at least {MIN_EXTRACT_SIZE} for an extract")
    if clinic_sor == OTHER_CLINIC_SOR:
        raise GeneratorError(f"SOR {OTHER_CLINIC_SOR} is the generator's other clinic")
    gen = _ExtractGenerator(seed, as_of, clinic_sor, clinic_name)
    while gen.count < size:
        gen.patient()
    return Generated(gen.builder.bundle(timestamp=as_of), gen.count, 0)
