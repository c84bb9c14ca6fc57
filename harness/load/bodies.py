"""The data of a load run: synthetic patients, clinics and the DK-CPD request bodies.

Shared by the preflight (kcert's own process) and the virtual users (Locust's processes), so
both send the same kind of documents. Patients come from kcert's synthetic CPR range only
(`harness.synthetic`): index n maps to one birth date and one serial of 9900-9999, so distinct
indexes are distinct CPR numbers. Indexes below `PREFLIGHT_BLOCK` belong to the preflight; the
virtual users' blocks follow, laid out by seed, worker index and user number (`user_patient`).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from harness.suitefiles import FIXTURES, guess_folder
from harness.synthetic import SYNTHETIC_SERIALS, synthetic_cpr_problem

TEMPLATE = "documents/dk-cpd.xml.j2"
_FIRST_BIRTH = dt.date(1937, 1, 1)  # the 7th digit 9 reads 1937-2036: adults born 1937-2005
_LAST_BIRTH = dt.date(2005, 12, 31)
_SERIALS = len(SYNTHETIC_SERIALS)
PATIENT_SPACE = ((_LAST_BIRTH - _FIRST_BIRTH).days + 1) * _SERIALS
PREFLIGHT_BLOCK = 1000
PACKAGE_NAMES = {"kol": "KOL (kronisk obstruktiv lungesygdom)", "lbp": "Lænderygsmerter"}
_GIVEN = ("Karen", "Bent", "Mads", "Inge", "Ole", "Hanne", "Jens", "Birthe")
_FAMILY = ("Testesen", "Prøvesen", "Kcertsen", "Eksempelsen")
_GOALS = (
    "Gå en tur på 20 minutter hver dag",
    "Færre indlæggelser med forværring",
    "Røgfri inden næste kontrol",
    "Kunne løfte barnebarnet uden smerter",
    "Træne ryggen tre gange om ugen",
)


def synthetic_cpr(index: int) -> str:
    """The synthetic CPR number of patient `index` (0 <= index < PATIENT_SPACE)."""
    if not 0 <= index < PATIENT_SPACE:
        raise ValueError(f"patient index {index} outside 0..{PATIENT_SPACE - 1}")
    day = _FIRST_BIRTH + dt.timedelta(days=index // _SERIALS)
    serial = SYNTHETIC_SERIALS.start + index % _SERIALS
    cpr = f"{day:%d%m%y}{serial}"
    problem = synthetic_cpr_problem(cpr)
    if problem:  # a guard: this module must never produce anything else
        raise ValueError(problem)
    return cpr


def user_patient(
    seed: int, worker: int, user: int, slot: int, max_users: int, per_user: int
) -> int:
    """The patient index of `slot` of virtual user `user` on worker `worker`.

    Unique per (worker, user, slot) while worker * max_users * per_user stays below the space
    (millions); the seed shifts the whole layout so runs with different seeds use other people."""
    span = PATIENT_SPACE - PREFLIGHT_BLOCK
    local = ((worker * max_users + user % max_users) * per_user + slot % per_user) % span
    return PREFLIGHT_BLOCK + (seed * 1_000_003 + local) % span


@dataclass(frozen=True)
class Patient:
    index: int
    cpr: str
    given: str
    family: str
    gender: str
    birth: str  # YYYYMMDD


def patient(index: int) -> Patient:
    cpr = synthetic_cpr(index)
    day = _FIRST_BIRTH + dt.timedelta(days=index // _SERIALS)
    return Patient(
        index=index,
        cpr=cpr,
        given=_GIVEN[index % len(_GIVEN)],
        family=_FAMILY[(index // len(_GIVEN)) % len(_FAMILY)],
        gender="F" if index % 2 else "M",
        birth=f"{day:%Y%m%d}",
    )


@dataclass(frozen=True)
class Clinic:
    sor: str
    name: str


def clinic(index: int) -> Clinic:
    """Clinic `index`: a made-up SOR code in a 9999… block no real unit uses; the same scheme
    as the reference FLP service's seeding (`9999` + index in 7 digits + `0016`), so the
    virtual users' cockpit queries list the seeded plans of their clinic too."""
    return Clinic(sor=f"9999{index:07d}0016", name=f"Kcert testklinik {index}")


class CpdRenderer:
    """kcert's DK-CPD template, compiled once, rendered once per request body."""

    def __init__(self, root: Path | None = None, rng: random.Random | None = None) -> None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(root or guess_folder(FIXTURES))),
            undefined=jinja2.StrictUndefined,
            autoescape=True,  # XML output: every value escaped
            keep_trailing_newline=True,
        )
        self.template = env.get_template(TEMPLATE)
        self.rng = rng or random.Random()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def render(
        self,
        who: Patient,
        where: Clinic,
        package: str,
        *,
        version: int = 1,
        set_id: str = "",
        now: dt.datetime | None = None,
        goals: int = 2,
    ) -> bytes:
        when = now or dt.datetime.now(dt.UTC)
        start = when - dt.timedelta(days=30)
        context: dict[str, Any] = {
            "doc": {
                "id": self._uuid(),
                "set_id": set_id or self._uuid(),
                "version": version,
                "time": f"{when:%Y%m%d%H%M%S}+0000",
                "period_start": f"{start:%Y%m%d}",
            },
            "patient": who,
            "clinic": where,
            "package": package,
            "package_name": PACKAGE_NAMES[package],
            "goals": [
                {"id": self._uuid(), "text": _GOALS[(who.index + version + i) % len(_GOALS)]}
                for i in range(max(1, goals))
            ],
        }
        return self.template.render(context).encode("utf-8")
