"""A synthetic test patient of its own for every connectathon test instance.

Today's named persons (fixtures/persons.yaml) are shared by every run; at a connectathon two
instances testing the same system at once would write about the same person. Each instance
gets a person derived from its id alone (the same id, the same person, on every machine):
a birth date between 1940 and 1989, a gender, and a CPR number in kcert's synthetic range
(harness.synthetic: a real calendar date, serial 9900-9999 — the 7th digit 9 with a year of
birth 37-99 gives the 1900s, so the number encodes the stated birth date), its last digit
odd for a man and even for a woman as in a real CPR number.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from harness.synthetic import SYNTHETIC_SERIALS, birth_date, synthetic_cpr_problem

FIRST_BIRTH = dt.date(1940, 1, 1)
BIRTH_DAYS = (dt.date(1989, 12, 31) - FIRST_BIRTH).days + 1
GIVEN_F = (
    "Anna",
    "Birgit",
    "Dorte",
    "Grethe",
    "Hanne",
    "Inge",
    "Jytte",
    "Lone",
    "Mette",
    "Susanne",
)
GIVEN_M = ("Bent", "Erik", "Finn", "Henrik", "Jens", "Kurt", "Niels", "Ole", "Poul", "Søren")
FAMILY = ("Testesen", "Prøvesen", "Syntetisk", "Eksempelsen", "Kcertsen", "Dummysen", "Afprøvning")


def patient_for(instance_id: str) -> dict[str, str]:
    """The instance's own synthetic person: cpr, given, family, birth_date, gender."""
    digest = hashlib.sha256(f"kcert-connectathon-patient\0{instance_id}".encode()).digest()
    number = int.from_bytes(digest[:16], "big")
    born = FIRST_BIRTH + dt.timedelta(days=number % BIRTH_DAYS)
    number //= BIRTH_DAYS
    gender = "male" if number % 2 else "female"
    number //= 2
    # serials 9900-9999: fifty of each parity; odd for a man, even for a woman
    serial = SYNTHETIC_SERIALS.start + 2 * (number % 50) + (1 if gender == "male" else 0)
    number //= 50
    cpr = f"{born:%d%m%y}{serial:04d}"
    problem = synthetic_cpr_problem(cpr)
    if problem or birth_date(cpr) != born:  # a guard on the arithmetic above, never expected
        raise AssertionError(f"patient_for({instance_id!r}) made {cpr[:6]}-xxxx: {problem}")
    names = GIVEN_M if gender == "male" else GIVEN_F
    given = names[number % len(names)]
    number //= len(names)
    return {
        "cpr": cpr,
        "given": given,
        "family": FAMILY[number % len(FAMILY)],
        "birth_date": born.isoformat(),
        "gender": gender,
    }


def as_fixture_person(patient: dict[str, str], key: str) -> dict[str, str]:
    """The patient in the shape of a fixtures/persons.yaml entry (what actions read)."""
    return {
        "key": key,
        "cpr": patient["cpr"],
        "given": patient["given"],
        "family": patient["family"],
        "gender": patient["gender"],
        "birthDate": patient["birth_date"],
    }
