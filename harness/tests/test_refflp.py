"""The reference FLP service in-process (FastAPI's TestClient): every route's happy path and
its errors, the two-year rule, If-Match, the bounds, the admin switch, the three defects and
the contract's paths (harness/contract/flp-api.yaml)."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from harness.refflp import cpd, synthetic
from harness.refflp.app import create_app, two_year_cutoff
from harness.refflp.defects import CATALOGUE, UnknownDefect, checked
from harness.refflp.settings import MAX_BODY_BYTES, Settings
from harness.refflp.store import Store
from harness.synthetic import is_synthetic_cpr

CONTRACT = Path(__file__).resolve().parents[1] / "contract" / "flp-api.yaml"
CLINIC = "999991000016008"
OTHER_CLINIC = "999992000016005"
CPR = "0101409905"  # synthetic: 1 January 1940, serial 9905
OTHER_CPR = "0202419911"
XML = {"Content-Type": "application/xml"}
# A copy of the contract's example DK-CPD body (test_example_is_the_contracts checks they agree).
EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" classCode="DOCCLIN" moodCode="EVN">
  <realmCode code="DK"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.208.184.15.1"/>
  <id root="2.25.1234567890"/>
  <code code="81215-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"
        displayName="Care plan"/>
  <title>Forløbsplan (KOL)</title>
  <effectiveTime value="20261102093000+0000"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="da-DK"/>
  <recordTarget>
    <patientRole>
      <id root="1.2.208.176.1.2" extension="0101409905"/>
    </patientRole>
  </recordTarget>
  <author>
    <time value="20261102093000+0000"/>
    <assignedAuthor>
      <id root="1.2.208.176.1.1" extension="999991000016008"/>
    </assignedAuthor>
  </author>
  <documentationOf>
    <serviceEvent classCode="PCPR" moodCode="EVN">
      <code code="kol" codeSystem="2.25.307626247188809187100151675520798087832" displayName="KOL"/>
    </serviceEvent>
  </documentationOf>
  <component>
    <structuredBody>
      <component>
        <section>
          <templateId root="1.2.208.184.15.1.10.20.2" extension="2018-09-28"/>
          <code code="61146-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"
                displayName="Goals"/>
          <title>Mål</title>
          <text>
            <list>
              <item>Gå en tur på 20 minutter hver dag</item>
              <item>Stop rygning inden sommer</item>
            </list>
          </text>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"""


def document(
    cpr: str = CPR,
    package: str = "kol",
    clinic: str = CLINIC,
    effective: dt.datetime | None = None,
    goals: tuple[str, ...] = ("Gå en tur",),
) -> bytes:
    return cpd.render_plan(
        doc_id="2.25.1",
        cpr=cpr,
        package=package,
        clinic=clinic,
        effective=effective or dt.datetime.now(dt.UTC),
        goals=list(goals),
    )


def make(tmp_path: Path, defects: tuple[str, ...] = (), admin: bool = True) -> TestClient:
    settings = Settings(
        db=str(tmp_path / "flp.sqlite"),
        lock_path=tmp_path / "global.lock",
        defects=defects,
        allow_admin=admin,
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make(tmp_path) as c:
        yield c


def create(client: TestClient, body: bytes | None = None, clinic: str = CLINIC) -> str:
    headers = {**XML, "X-Clinic": clinic}
    r = client.post("/flp/v1/plans", content=body or document(), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def assert_problem(r: Any, status: int, words: str = "") -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] and body["detail"]
    assert words.lower() in body["detail"].lower(), body


# -- the documents -------------------------------------------------------------------------


def test_example_is_the_contracts_and_synthetic(client: TestClient) -> None:
    contract = yaml.safe_load(CONTRACT.read_text())
    content = contract["paths"]["/flp/v1/plans"]["post"]["requestBody"]["content"]
    assert content["application/xml"]["example"].strip() == EXAMPLE.strip()
    assert is_synthetic_cpr(CPR) and is_synthetic_cpr(OTHER_CPR)
    plan = cpd.read_plan(EXAMPLE.encode(), MAX_BODY_BYTES)
    assert (plan.patient, plan.package, plan.author_sor) == (CPR, "kol", CLINIC)
    assert plan.goals == ("Gå en tur på 20 minutter hver dag", "Stop rygning inden sommer")
    assert plan.effective == dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    create(client, EXAMPLE.encode())


def test_own_synthetic_cprs_are_kcerts() -> None:
    cprs = [synthetic.cpr(i) for i in (0, 1, 99, 100, 250_000, 2_000_000)]
    assert all(is_synthetic_cpr(c) and synthetic.is_synthetic(c) for c in cprs)
    assert len(set(cprs)) == len(cprs)
    assert not synthetic.is_synthetic("0101401234")  # a real-format serial
    assert not synthetic.is_synthetic("3102409905")  # no such date


def test_package_from_the_title_when_no_code() -> None:
    lbp = document(package="lbp")
    body = re.sub(rb"<documentationOf>.*?</documentationOf>", b"", lbp, flags=re.S)
    assert cpd.read_plan(body, MAX_BODY_BYTES).package == "lbp"
    no_word = body.replace(b"(LBP)", b"")
    with pytest.raises(cpd.DocumentProblem, match="package"):
        cpd.read_plan(no_word, MAX_BODY_BYTES)


BAD_DOCUMENTS = {
    "not xml": (b"<ClinicalDocument", "body"),
    "dtd": (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "dtd"),
    "root": (b'<Other xmlns="urn:hl7-org:v3"/>', "root element"),
    "template": (document().replace(b'"1.2.208.184.15.1"', b'"1.2.3"'), "templateId"),
    "code": (document().replace(b'"81215-6"', b'"11111-1"'), "loinc"),
    "no cpr": (document().replace(b'root="1.2.208.176.1.2"', b'root="1.2.3"'), "cpr"),
    "real cpr": (document(cpr="0101401234"), "synthetic"),
    "no package": (
        document().replace(b'code="kol"', b'code="xyz"').replace(b"(KOL)", b""),
        "package",
    ),
    "no time": (document().replace(b"<effectiveTime", b"<effectiveTimeX"), "effectiveTime"),
    "bad time": (
        re.sub(rb'effectiveTime value="[^"]*"', b'effectiveTime value="soon"', document()),
        "time stamp",
    ),
    "no goals": (document().replace(b"1.2.208.184.15.1.10.20.2", b"1.2.3"), "goals"),
}


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
def test_bad_documents_are_400(client: TestClient, name: str) -> None:
    body, words = BAD_DOCUMENTS[name]
    r = client.post("/flp/v1/plans", content=body, headers={**XML, "X-Clinic": CLINIC})
    assert_problem(r, 400, words)


# -- create, read, update ------------------------------------------------------------------


def test_create_and_read(client: TestClient) -> None:
    r = client.post("/flp/v1/plans", content=document(), headers={**XML, "X-Clinic": CLINIC})
    assert r.status_code == 201
    plan = r.json()
    assert plan["version"] == 1 and re.fullmatch(r"[0-9a-f]{32}", plan["id"])
    assert r.headers["location"] == f"/flp/v1/plans/{plan['id']}"
    got = client.get(f"/flp/v1/plans/{plan['id']}")
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.headers["content-type"].startswith("application/xml")
    assert got.content == document() or b"0101409905" in got.content


def test_create_errors(client: TestClient) -> None:
    assert_problem(client.post("/flp/v1/plans", content=document(), headers=XML), 400, "X-Clinic")
    bad = {**XML, "X-Clinic": "12ab"}
    assert_problem(client.post("/flp/v1/plans", content=document(), headers=bad), 400, "SOR")
    other = {**XML, "X-Clinic": OTHER_CLINIC}
    assert_problem(client.post("/flp/v1/plans", content=document(), headers=other), 400, "author")
    json_type = {"Content-Type": "application/json", "X-Clinic": CLINIC}
    assert_problem(client.post("/flp/v1/plans", content=document(), headers=json_type), 415)
    huge = document() + b" " * (MAX_BODY_BYTES + 1)
    r = client.post("/flp/v1/plans", content=huge, headers={**XML, "X-Clinic": CLINIC})
    assert_problem(r, 413, "bytes")


def test_read_unknown(client: TestClient) -> None:
    assert_problem(client.get(f"/flp/v1/plans/{'0' * 32}"), 404)
    assert_problem(client.get("/flp/v1/plans/not-an-id"), 404)
    assert_problem(client.get("/flp/v1/nowhere"), 404)


def test_update_with_if_match(client: TestClient) -> None:
    plan = create(client)
    new = document(goals=("Cykle", "Svømme"))
    r = client.put(f"/flp/v1/plans/{plan}", content=new, headers={**XML, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json() == {"id": plan, "version": 2}
    assert r.headers["etag"] == '"2"'
    r = client.put(f"/flp/v1/plans/{plan}", content=new, headers={**XML, "If-Match": 'W/"2"'})
    assert r.json()["version"] == 3
    got = client.get(f"/flp/v1/plans/{plan}")
    assert got.headers["etag"] == '"3"' and "Svømme".encode() in got.content


def test_update_errors(client: TestClient) -> None:
    plan = create(client)
    url = f"/flp/v1/plans/{plan}"
    stale = client.put(url, content=document(), headers={**XML, "If-Match": '"7"'})
    assert_problem(stale, 412, "version 1")
    assert stale.headers["etag"] == '"1"'
    assert_problem(client.put(url, content=document(), headers=XML), 428, "If-Match")
    assert_problem(client.put(url, content=document(), headers={**XML, "If-Match": "x"}), 400)
    unknown = f"/flp/v1/plans/{'a' * 32}"
    assert_problem(client.put(unknown, content=document(), headers={**XML, "If-Match": '"1"'}), 404)
    ok = {**XML, "If-Match": '"1"'}
    assert_problem(client.put(url, content=document(cpr=OTHER_CPR), headers=ok), 409, "patient")
    other = {**ok, "X-Clinic": OTHER_CLINIC}
    assert_problem(client.put(url, content=document(), headers=other), 409, "clinic")
    assert_problem(client.put(url, content=b"<x", headers=ok), 400)
    assert client.get(url).headers["etag"] == '"1"'  # none of these changed it


# -- the patient view ----------------------------------------------------------------------


def test_patient_view_and_the_two_year_rule(client: TestClient) -> None:
    now = dt.datetime.now(dt.UTC)
    recent = create(client, document(effective=now - dt.timedelta(days=365), goals=("Nyt mål",)))
    create(client, document(effective=now - dt.timedelta(days=3 * 365), package="lbp"))
    create(client, document(cpr=OTHER_CPR))
    for channel in ("minlaege", "sundhedsjournalen"):
        r = client.get(f"/flp/v1/patients/{CPR}/plans", params={"channel": channel})
        assert r.status_code == 200
        view = r.json()
        assert (view["patient"], view["channel"]) == (CPR, channel)
        assert [p["id"] for p in view["plans"]] == [recent]  # the three-year-old one is hidden
        (shown,) = view["plans"]
        assert shown["package"] == "kol" and shown["clinic"] == CLINIC
        assert shown["version"] == 1 and shown["goals"] == ["Nyt mål"] and shown["updated"]


def test_two_year_cutoff_is_calendar_years() -> None:
    assert two_year_cutoff(dt.datetime(2026, 12, 3, tzinfo=dt.UTC)) == dt.datetime(
        2024, 12, 3, tzinfo=dt.UTC
    )
    assert two_year_cutoff(dt.datetime(2028, 2, 29, tzinfo=dt.UTC)).day == 28


def test_patient_view_errors(client: TestClient) -> None:
    assert_problem(client.get(f"/flp/v1/patients/{CPR}/plans"), 400, "channel")
    assert_problem(client.get(f"/flp/v1/patients/{CPR}/plans?channel=fax"), 400, "channel")
    assert_problem(client.get("/flp/v1/patients/12345/plans?channel=minlaege"), 400, "10 digits")
    r = client.get(f"/flp/v1/patients/{OTHER_CPR}/plans?channel=minlaege")
    assert r.status_code == 200 and r.json()["plans"] == []


# -- the cockpit ---------------------------------------------------------------------------


def test_cockpit_pages_newest_first(client: TestClient) -> None:
    ids = [create(client, document(cpr=synthetic.cpr(i))) for i in range(5)]
    create(client, document(package="lbp"))
    create(client, document(clinic=OTHER_CLINIC), clinic=OTHER_CLINIC)
    r = client.get(f"/flp/v1/clinics/{CLINIC}/cockpit", params={"package": "kol", "size": 2})
    assert r.status_code == 200
    page = r.json()
    assert (page["clinic"], page["package"], page["total"], page["page"], page["size"]) == (
        CLINIC,
        "kol",
        5,
        1,
        2,
    )
    assert [i["plan"] for i in page["items"]] == ids[::-1][:2]
    assert page["items"][0]["patient"] == synthetic.cpr(4) and page["items"][0]["version"] == 1
    last = client.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol&size=2&page=3").json()
    assert [i["plan"] for i in last["items"]] == [ids[0]]
    assert client.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol").json()["size"] == 50


def test_cockpit_bounds(client: TestClient) -> None:
    base = f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol"
    assert client.get(base + "&size=200").status_code == 200
    assert_problem(client.get(base + "&size=201"), 400, "size")
    assert_problem(client.get(base + "&size=0"), 400, "size")
    assert_problem(client.get(base + "&page=0"), 400, "page")
    assert_problem(client.get(base + "&page=x"), 400, "page")
    assert_problem(client.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=diabetes"), 400)
    assert_problem(client.get(f"/flp/v1/clinics/{CLINIC}/cockpit"), 400, "package")
    assert_problem(client.get("/flp/v1/clinics/abc/cockpit?package=kol"), 400, "SOR")


# -- sharing -------------------------------------------------------------------------------


def test_share_once_per_version(client: TestClient) -> None:
    plan = create(client)
    first = client.post(f"/flp/v1/plans/{plan}/share")
    assert first.status_code == 200
    shared = first.json()
    assert (shared["plan"], shared["version"], shared["format"]) == (plan, 1, "DK-CPD")
    assert client.post(f"/flp/v1/plans/{plan}/share").json()["document"] == shared["document"]
    doc = client.get(f"/flp/v1/shared/{shared['document']}")
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("application/xml")
    assert cpd.read_plan(doc.content, MAX_BODY_BYTES).patient == CPR
    client.put(f"/flp/v1/plans/{plan}", content=document(), headers={**XML, "If-Match": '"1"'})
    again = client.post(f"/flp/v1/plans/{plan}/share").json()
    assert again["version"] == 2 and again["document"] != shared["document"]


def test_share_errors(client: TestClient) -> None:
    assert_problem(client.post(f"/flp/v1/plans/{'b' * 32}/share"), 404)
    assert_problem(client.get(f"/flp/v1/shared/{'c' * 32}"), 404)
    assert_problem(client.get("/flp/v1/shared/../etc"), 404)


# -- admin ---------------------------------------------------------------------------------


def test_seed_and_reset_with_allow_admin(client: TestClient) -> None:
    r = client.post("/flp/v1/admin/seed", json={"clinics": 20, "plans_per_clinic": 10, "seed": 3})
    assert r.status_code == 200
    seeded = r.json()
    assert seeded["plans"] == 200 and len(seeded["clinics"]) == 20
    sor = seeded["clinics"][0]
    page = client.get(f"/flp/v1/clinics/{sor}/cockpit?package=kol&size=200").json()
    lbp = client.get(f"/flp/v1/clinics/{sor}/cockpit?package=lbp&size=200").json()
    assert page["total"] + lbp["total"] == 10
    patient = page["items"][0]["patient"]
    assert is_synthetic_cpr(patient)
    assert client.post("/flp/v1/admin/reset").json() == {"status": "reset"}
    assert client.get(f"/flp/v1/clinics/{sor}/cockpit?package=kol").json()["total"] == 0


def test_seed_is_bounded(client: TestClient) -> None:
    for body in (
        {"clinics": 5001, "plans_per_clinic": 1},
        {"clinics": 5000, "plans_per_clinic": 200},
        {"clinics": -1, "plans_per_clinic": 1},
        {"clinics": True, "plans_per_clinic": 1},
        {"plans_per_clinic": 1},
        [1, 2],
    ):
        assert_problem(client.post("/flp/v1/admin/seed", json=body), 400)
    json_type = {"Content-Type": "application/json"}
    r = client.post("/flp/v1/admin/seed", content=b"{", headers=json_type)
    assert_problem(r, 400)


def test_admin_routes_only_with_allow_admin(tmp_path: Path) -> None:
    with make(tmp_path, admin=False) as quiet:
        body = {"clinics": 1, "plans_per_clinic": 1}
        assert_problem(quiet.post("/flp/v1/admin/seed", json=body), 404)
        assert_problem(quiet.post("/flp/v1/admin/reset"), 404)


# -- health and the defects ----------------------------------------------------------------


def test_health(client: TestClient) -> None:
    assert client.get("/flp/v1/health").json() == {
        "status": "ok",
        "service": "kcert-reference-flp",
        "version": "1.0",
        "workers": 1,
        "defects": [],
        "store": "sqlite",
    }


def test_defects_are_named_in_health(tmp_path: Path) -> None:
    with make(tmp_path, defects=checked(["n-plus-one", "missing-index"])) as c:
        assert c.get("/flp/v1/health").json()["defects"] == ["missing-index", "n-plus-one"]
    with pytest.raises(UnknownDefect, match="slow-disk"):
        checked(["slow-disk"])
    assert set(CATALOGUE) == {"missing-index", "global-lock", "n-plus-one"}


def _plan(store: Store, sql: str, params: tuple[Any, ...]) -> str:
    with store.tx() as tx:
        return " | ".join(str(row[-1]) for row in tx.rows(f"EXPLAIN QUERY PLAN {sql}", params))


COCKPIT_SQL = (
    "SELECT patient, id, version, updated FROM flp_plans WHERE clinic = ? AND package = ? "
    "ORDER BY updated DESC, id DESC LIMIT ? OFFSET ?"
)
PATIENT_SQL = "SELECT id FROM flp_plans WHERE patient = ? AND effective >= ?"


@pytest.mark.parametrize("defects", [(), ("missing-index",)])
def test_missing_index_scans_the_table(tmp_path: Path, defects: tuple[str, ...]) -> None:
    with make(tmp_path, defects=defects) as c:
        c.post("/flp/v1/admin/seed", json={"clinics": 50, "plans_per_clinic": 20})
        store: Store = c.app.state.store  # type: ignore[attr-defined]
        cockpit = _plan(store, COCKPIT_SQL, (CLINIC, "kol", 50, 0))
        patient = _plan(store, PATIENT_SQL, (CPR, "2024"))
    if defects:
        assert "SCAN flp_plans" in cockpit and "USING INDEX" not in cockpit
        assert "SCAN flp_plans" in patient and "USING INDEX" not in patient
    else:
        assert "USING INDEX flp_plans_cockpit" in cockpit and "SCAN flp_plans" not in cockpit
        assert "USING INDEX flp_plans_patient" in patient


def test_missing_index_then_restored(tmp_path: Path) -> None:
    """The same database, started again without the defect, has its indexes back."""
    make(tmp_path, defects=("missing-index",)).close()
    with make(tmp_path) as c:
        store: Store = c.app.state.store  # type: ignore[attr-defined]
        assert "USING INDEX" in _plan(store, COCKPIT_SQL, (CLINIC, "kol", 50, 0))


def _cockpit_queries(c: TestClient, size: int) -> int:
    store: Store = c.app.state.store  # type: ignore[attr-defined]
    before = store.queries
    r = c.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol&size={size}")
    assert r.status_code == 200 and len(r.json()["items"]) == size
    return store.queries - before


@pytest.mark.parametrize("defects", [(), ("n-plus-one",)])
def test_n_plus_one_queries_grow_with_the_page(tmp_path: Path, defects: tuple[str, ...]) -> None:
    with make(tmp_path, defects=defects) as c:
        for i in range(12):
            create(c, document(cpr=synthetic.cpr(i)))
        small, large = _cockpit_queries(c, 2), _cockpit_queries(c, 12)
        items = c.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol&size=3").json()["items"]
    assert [i["patient"] for i in items] == [synthetic.cpr(i) for i in (11, 10, 9)]
    if defects:
        assert (small, large) == (2 + 2, 2 + 12)
    else:
        assert small == large == 2


def _blocked_while_held(tmp_path: Path, defects: tuple[str, ...]) -> tuple[bool, bool]:
    """Hold the lock file as another process would; is a request blocked, and is it done after?"""
    with make(tmp_path, defects=defects) as c:
        lock = tmp_path / "global.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        done = threading.Event()

        def ask() -> None:
            c.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol")
            done.set()

        worker = threading.Thread(target=ask, daemon=True)
        worker.start()
        blocked = not done.wait(0.5)
        health_free = c.get("/flp/v1/health").status_code == 200
        os.close(fd)
        finished = done.wait(5)
        worker.join(5)
    assert health_free
    return blocked, finished


def test_global_lock_serialises_across_processes(tmp_path: Path) -> None:
    blocked, finished = _blocked_while_held(tmp_path, ("global-lock",))
    assert blocked and finished


def test_no_global_lock_by_default(tmp_path: Path) -> None:
    blocked, finished = _blocked_while_held(tmp_path, ())
    assert not blocked and finished


def test_global_lock_two_requests_in_turn(tmp_path: Path) -> None:
    """Two concurrent slow requests take twice as long as one under the lock."""
    with make(tmp_path, defects=("global-lock",)) as c:
        c.post("/flp/v1/admin/seed", json={"clinics": 1, "plans_per_clinic": 1})
        store: Store = c.app.state.store  # type: ignore[attr-defined]
        slow = store.cockpit

        def sleepy(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.3)
            return slow(*args, **kwargs)

        store.cockpit = sleepy  # type: ignore[method-assign]
        threads = [
            threading.Thread(target=c.get, args=(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol",))
            for _ in range(2)
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert time.monotonic() - t0 >= 0.6


# -- the contract --------------------------------------------------------------------------


def _normalised(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_routes_match_the_contract(tmp_path: Path) -> None:
    contract = yaml.safe_load(CONTRACT.read_text())
    wanted = {
        (_normalised(path), method.upper())
        for path, item in contract["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    with make(tmp_path, admin=True) as c:
        served = {
            (_normalised(route.path), method)
            for route in c.app.routes  # type: ignore[attr-defined]
            for method in getattr(route, "methods", set()) or set()
            if route.path.startswith("/flp/") and method != "HEAD"  # type: ignore[attr-defined]
        }
    assert wanted == served
    health_enum = contract["components"]["schemas"]["Health"]["properties"]["defects"]
    assert health_enum["items"]["enum"] == list(CATALOGUE)


def test_a_store_failure_is_503_not_500(tmp_path: Path) -> None:
    with make(tmp_path) as c:
        store: Store = c.app.state.store  # type: ignore[attr-defined]
        with store.tx(write=True) as tx:
            tx.run("DROP TABLE flp_plans")
        r = c.get(f"/flp/v1/clinics/{CLINIC}/cockpit?package=kol")
    assert_problem(r, 503, "no such table")


GARBAGE = [b"", b"\x00\xff\xfe", b"<a>" * 100, b"<?xml version='1.0'?><ClinicalDocument/>", b"{}"]


@pytest.mark.parametrize("body", GARBAGE)
def test_garbage_is_4xx(client: TestClient, body: bytes) -> None:
    for method, url in (("POST", "/flp/v1/plans"), ("PUT", f"/flp/v1/plans/{'d' * 32}")):
        headers = {**XML, "X-Clinic": CLINIC, "If-Match": '"1"'}
        r = client.request(method, url, content=body, headers=headers)
        assert 400 <= r.status_code < 500, r.text


def test_kcerts_template_is_accepted(client: TestClient) -> None:
    """kcert's own DK-CPD template (the swarm's request bodies) is the shape the service takes."""
    bodies = pytest.importorskip(
        "harness.load.bodies", reason="kcert's DK-CPD renderer (harness/load/bodies.py) is absent"
    )
    where = bodies.clinic(3)
    for package in ("kol", "lbp"):
        body = bodies.CpdRenderer().render(bodies.patient(1234), where, package, goals=3)
        plan = cpd.read_plan(body, MAX_BODY_BYTES)
        assert (plan.package, plan.author_sor, len(plan.goals)) == (package, where.sor, 3)
        create(client, body, clinic=where.sor)
