"""The cockpit part of the LPS test agent API: population, profiles, members, plans."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from typing import Any

from fastapi import APIRouter, Request, Response

from harness.reflps.cockpit.evaluation import (
    PROFILE_VERSION,
    PROFILES,
    Cockpit,
    evaluate,
    months_back,
)
from harness.reflps.cockpit.store import BadPopulation, ClinicStore
from harness.safeparse import Limits, PayloadError, parse_json

POPULATION_LIMITS = Limits(max_bytes=512 * 1024 * 1024, max_depth=64)
GOALS = {
    "kol": "Bevare lungefunktion og fysisk aktivitet; færre eksacerbationer",
    "lrs": "Mindre smerte og bedre funktion i hverdagen",
    "t2d": "HbA1c og nyrefunktion i mål",
    "hjerte": "Blodtryk og kolesterol i mål",
}


def problem(status: int, title: str, detail: str = "") -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json")


def _as_of(value: str | None) -> dt.date | Response:
    if not value:
        return problem(400, "asOf is required", "give the as-of date as asOf=YYYY-MM-DD")
    try:
        if len(value) != 10 or value[4] != "-" or value[7] != "-":
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        return problem(400, "bad asOf", f"{value!r} is not a date YYYY-MM-DD")
    if not 1900 <= day.year <= 2200:
        return problem(400, "bad asOf", f"{value!r} is outside the years 1900-2200")
    return day


class CockpitService:
    """Caches one evaluation per as-of date; a new population or a reset drops the cache."""

    def __init__(self, store: ClinicStore, defects: frozenset[str]) -> None:
        self.store = store
        self.defects = defects
        self._cache: dict[dt.date, Cockpit] = {}
        self._lock = threading.Lock()

    def at(self, as_of: dt.date) -> Cockpit:
        with self._lock:
            if as_of not in self._cache:
                self._cache[as_of] = evaluate(self.store, as_of, self.defects)
            return self._cache[as_of]

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def build_router(service: CockpitService, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["agent"])

    @router.post("/population")
    async def load_population(request: Request) -> Response:
        """Load a test population into a clean clinic (replaces all earlier data)."""
        body = await request.body()
        digest = hashlib.sha256(body).hexdigest()
        try:
            loaded = service.store.load_known(digest)  # the same population once more
            if loaded is None:
                bundle = parse_json(body, POPULATION_LIMITS)
                loaded = service.store.load(bundle, digest)  # all or nothing
        except (PayloadError, BadPopulation) as exc:
            return problem(400, "not a population", str(exc))
        finally:
            service.forget()
        return Response(
            json.dumps({"status": "loaded", "patients": loaded}), media_type="application/json"
        )

    @router.get("/profiles")
    def profiles() -> dict[str, Any]:
        """The cockpit profiles this LPS offers."""
        return {
            "profiles": [
                {"id": pid, "version": PROFILE_VERSION, "title": title}
                for pid, title in PROFILES.items()
            ]
        }

    @router.get("/profiles/{profileId}/members")
    def members(profileId: str, asOf: str | None = None) -> Response:
        """The patients of one profile at an as-of date, each with a link to the plan."""
        profile_id = profileId
        if profile_id not in PROFILES:
            return problem(404, "unknown profile", f"no profile {profile_id!r}")
        as_of = _as_of(asOf)
        if isinstance(as_of, Response):
            return as_of
        cockpit = service.at(as_of)
        cprs = cockpit.members[profile_id]
        names = _names(service.store, cprs)
        links = list(cprs)
        if "deep-link-wrong-patient" in service.defects and len(links) > 1:
            links = links[1:] + links[:1]  # an off-by-one row index in the link
        rows = [
            {
                "cpr": cpr,
                "name": names.get(cpr, ""),
                "values": cockpit.values.get(profile_id, {}).get(cpr, {}),
                "planLink": f"patients/{target}/plan?asOf={as_of.isoformat()}",
            }
            for cpr, target in zip(cprs, links, strict=True)
        ]
        body = {"profile": profile_id, "asOf": as_of.isoformat(), "members": rows}
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    @router.get("/patients/{cpr}/plan")
    def plan(cpr: str, asOf: str | None = None) -> Response:
        """A patient's care plan: goals, latest measurements, stratification."""
        as_of = _as_of(asOf)
        if isinstance(as_of, Response):
            return as_of
        body = plan_body(service, cpr, as_of)
        if body is None:
            return problem(404, "unknown patient", "no patient with that CPR in this clinic")
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    return router


def plan_body(service: CockpitService, cpr: str, as_of: dt.date) -> dict[str, Any] | None:
    """A patient's care plan as the agent API shows it (None: no such patient)."""
    names = _names(service.store, [cpr])
    if cpr not in names:
        return None
    cockpit = service.at(as_of)
    stratification: dict[str, str | None] = {}
    packages = []
    if cpr in cockpit.kol_colour:
        stratification["kol"] = cockpit.kol_colour[cpr]
        packages.append("kol")
    if cpr in cockpit.lrs_colour:
        stratification["lrs"] = cockpit.lrs_colour[cpr]
        packages.append("lrs")
    for pid, key in (("t2d-inkluderet", "t2d"), ("hjerte-inkluderet", "hjerte")):
        if cpr in cockpit.members[pid]:
            packages.append(key)
    return {
        "cpr": cpr,
        "name": names[cpr],
        "asOf": as_of.isoformat(),
        "stratification": stratification,
        "goals": [{"text": GOALS[p], "package": p} for p in packages],
        "measurements": _latest_measurements(service.store, cpr, as_of),
    }


def _names(store: ClinicStore, cprs: list[str]) -> dict[str, str]:
    if not cprs:
        return {}
    marks = ",".join("?" * len(cprs))
    rows = store.query(
        f"SELECT cpr, given, family FROM cp_patient WHERE cpr IN ({marks})", tuple(cprs)
    )
    return {str(r[0]): f"{r[1]} {r[2]}".strip() for r in rows}


def _latest_measurements(store: ClinicStore, cpr: str, as_of: dt.date) -> list[dict[str, Any]]:
    # what the plan shows: the newest value per code, never older than two years
    rows = store.query(
        "SELECT system, code, date, num, txt FROM (SELECT system, code, date, num, txt, "
        "ROW_NUMBER() OVER (PARTITION BY code ORDER BY date DESC, seq DESC) AS n "
        "FROM cp_measurement WHERE cpr = ? AND date >= ? AND date <= ? "
        "AND (num IS NOT NULL OR txt IS NOT NULL)) WHERE n = 1 ORDER BY code",
        (cpr, months_back(as_of, 24).isoformat(), as_of.isoformat()),
    )
    return [
        {"system": r[0], "code": r[1], "date": r[2], "value": r[3] if r[3] is not None else r[4]}
        for r in rows
    ]
