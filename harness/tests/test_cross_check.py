"""Two independent implementations agree: kcert's oracle and the reference LPS's own SQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from starlette.testclient import TestClient

from harness.oracle.engine import evaluate
from harness.oracle.rulepack import load_rulepack
from harness.population.generator import generate
from harness.population.reader import read_population
from harness.reflps.app import create_app

SOR = "999991000016008"
PACK = load_rulepack()


@pytest.mark.parametrize(
    ("seed", "as_of"),
    [(11, dt.date(2027, 3, 1)), (12, dt.date(2028, 2, 29)), (13, dt.date(2027, 5, 31))],
)
def test_reference_lps_and_oracle_agree(seed: int, as_of: dt.date) -> None:
    bundle = generate(seed, 600, as_of, SOR).bundle
    client = TestClient(create_app())
    assert client.post("/kcert-agent/v1/population", content=json.dumps(bundle)).status_code == 200
    population, problems = read_population(bundle)
    assert problems == []
    for day in (as_of, as_of + dt.timedelta(days=1), as_of - dt.timedelta(days=365)):
        result = evaluate(PACK, population, day)
        for profile in PACK.profiles:
            answer = client.get(f"/kcert-agent/v1/profiles/{profile.id}/members?asOf={day}")
            got = {row["cpr"] for row in answer.json()["members"]}
            assert got == result.member_cprs(profile.id), (profile.id, day)


def test_codings_are_read_the_same_way() -> None:
    """Several codings, case and reasons: the shapes where readers most easily part ways."""
    from harness.population.builder import BundleBuilder

    counter = iter(range(1000))
    b = BundleBuilder(lambda: f"00000000-0000-4000-8000-{next(counter):012d}")
    clinic = b.organization(SOR, "K", own=True)
    born = dt.date(1950, 5, 5)
    p1 = b.patient("0505509902", "A", "B", "female", born, clinic)
    b.condition(p1, "T90")
    b.entries[-1]["resource"]["code"]["coding"].insert(
        0, {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11"}
    )
    p2 = b.patient("0505509913", "C", "D", "male", born, clinic)
    b.condition(p2, "dj449", system="sks")
    p3 = b.patient("0505509924", "E", "F", "female", born, clinic)
    b.condition(p3, "R95")
    b.encounter(p3, "A97", dt.date(2027, 1, 1))
    b.entries[-1]["resource"]["reasonCode"].append(
        {"coding": [{"system": "urn:oid:1.2.208.176.2.31", "code": "R95"}]}
    )
    bundle = b.bundle()
    client = TestClient(create_app())
    assert client.post("/kcert-agent/v1/population", content=json.dumps(bundle)).status_code == 200
    population, problems = read_population(bundle)
    assert problems == []
    result = evaluate(PACK, population, dt.date(2027, 3, 1))
    for profile in ("t2d-inkluderet", "kol-inkluderet", "kol-opfoelgning-overskredet"):
        answer = client.get(f"/kcert-agent/v1/profiles/{profile}/members?asOf=2027-03-01")
        assert {r["cpr"] for r in answer.json()["members"]} == result.member_cprs(profile), profile
    assert "0505509902" in result.member_cprs("t2d-inkluderet")
    assert "0505509913" not in result.member_cprs("kol-inkluderet")  # SKS codes are upper case
