"""The reference FLP service as child processes (`running_refflp`): several uvicorn workers
start, answer and stop without leaving a process; a failed start quotes its output; PostgreSQL
when KCERT_TEST_POSTGRES names a server."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from starlette.testclient import TestClient

from harness.load import service
from harness.load.service import DEFECTS, ServiceStartError, running_refflp
from harness.refflp.app import create_app
from harness.refflp.defects import CATALOGUE
from harness.refflp.settings import Settings
from harness.tests.test_refflp import CLINIC, CPR, XML, document

PG_ENV = "KCERT_TEST_POSTGRES"  # e.g. postgresql://kcert@127.0.0.1:54329/kcert (set by .ci/run)


def _session_members(sid: int) -> list[int]:
    """The processes of session `sid` (the launcher starts the service in a session of its own)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session id
            members.append(int(entry.name))
    return members


def _supervisor(port: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"harness.refflp" in cmd and str(port).encode() in cmd:
                return int(entry.name)
    raise AssertionError(f"no service process on port {port}")


def _scratch(members: list[int]) -> Path:
    """The service's scratch folder, from a worker's environment (the lock file's folder)."""
    for pid in members:
        try:
            env = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(b"KCERT_REFFLP_LOCK="):
                return Path(item.split(b"=", 1)[1].decode()).parent
    raise AssertionError("no worker names its lock file")


def test_defects_copy_is_the_catalogue() -> None:
    assert tuple(CATALOGUE) == DEFECTS


@pytest.mark.slow
def test_two_workers_serve_and_stop_cleanly() -> None:
    port = service.free_port()
    with running_refflp(workers=2, port=port, defects=("n-plus-one",)) as base:
        http = requests.Session()
        http.trust_env = False
        health = http.get(f"{base}/flp/v1/health", timeout=5).json()
        assert (health["workers"], health["store"], health["defects"]) == (
            2,
            "sqlite",
            ["n-plus-one"],
        )
        supervisor = _supervisor(port)
        members = _session_members(supervisor)
        assert len(members) >= 3  # the supervisor and two workers (and a resource tracker)
        scratch = _scratch(members)
        assert scratch.is_dir()
        created = http.post(
            f"{base}/flp/v1/plans", data=document(), headers={**XML, "X-Clinic": CLINIC}, timeout=5
        )
        assert created.status_code == 201
        plans = http.get(f"{base}/flp/v1/patients/{CPR}/plans?channel=minlaege", timeout=5).json()
        assert [p["id"] for p in plans["plans"]] == [created.json()["id"]]
        assert service.seed_refflp(base, 10, 5, timeout_s=30) == 50
        with pytest.raises(RuntimeError, match="HTTP 400"):
            service.seed_refflp(base, 10, 100_000, timeout_s=30)
    assert _session_members(supervisor) == []
    assert not scratch.exists()  # the service's temporary database and lock file are gone
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/flp/v1/health", timeout=2)


@pytest.mark.slow
def test_workers_end_with_a_killed_supervisor() -> None:
    """kcert killed hard: the supervisor goes, and its workers do not stay behind on the port."""
    port = service.free_port()
    with running_refflp(workers=2, port=port):
        supervisor = _supervisor(port)
        os.kill(supervisor, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while _session_members(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session_members(supervisor) == []


def test_unknown_defect_is_refused_before_start() -> None:
    with pytest.raises(ValueError, match="slow-disk"), running_refflp(defects=("slow-disk",)):
        pass


@pytest.mark.slow
def test_failed_start_quotes_the_service(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        pytest.raises(ServiceStartError, match="--db") as caught,
        running_refflp(db=str(blocker / "flp.sqlite"), timeout_s=20),
    ):
        pass
    assert "exited with 2" in str(caught.value)


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        if os.environ.get("KCERT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but this CI run requires PostgreSQL")
        pytest.skip(f"no PostgreSQL server: set {PG_ENV} (.ci/run starts one on loopback)")
    return url


@pytest.fixture
def postgres() -> Iterator[str]:
    import psycopg

    url = _postgres_url()
    with psycopg.connect(url, autocommit=True) as conn:  # a clean slate: tests share one database
        conn.execute("DROP TABLE IF EXISTS flp_shared, flp_plans")
    yield url


def test_postgresql_routes(postgres: str, tmp_path: Path) -> None:
    settings = Settings(db=postgres, lock_path=tmp_path / "lock", allow_admin=True)
    with TestClient(create_app(settings)) as c:
        assert c.get("/flp/v1/health").json()["store"] == "postgresql"
        plan = c.post("/flp/v1/plans", content=document(), headers={**XML, "X-Clinic": CLINIC})
        assert plan.status_code == 201
        url = f"/flp/v1/plans/{plan.json()['id']}"
        assert c.put(url, content=document(), headers={**XML, "If-Match": '"1"'}).status_code == 200
        assert c.put(url, content=document(), headers={**XML, "If-Match": '"1"'}).status_code == 412
        assert c.get(url).headers["etag"] == '"2"'
        shared = c.post(f"{url}/share").json()
        assert c.get(f"/flp/v1/shared/{shared['document']}").status_code == 200
        seeded = c.post("/flp/v1/admin/seed", json={"clinics": 30, "plans_per_clinic": 20}).json()
        page = c.get(f"/flp/v1/clinics/{seeded['clinics'][0]}/cockpit?package=kol&size=5").json()
        assert page["total"] > 0 and len(page["items"]) == min(5, page["total"])
        assert c.get(f"/flp/v1/patients/{CPR}/plans?channel=minlaege").json()["plans"]
        assert c.post("/flp/v1/admin/reset").status_code == 200


def test_postgresql_missing_index(postgres: str, tmp_path: Path) -> None:
    settings = Settings(db=postgres, lock_path=tmp_path / "lock", defects=("missing-index",))
    with TestClient(create_app(settings)) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        with store.tx() as tx:
            names = {
                r[0]
                for r in tx.rows(
                    "SELECT indexname FROM pg_indexes WHERE tablename = ?", ("flp_plans",)
                )
            }
    assert "flp_plans_cockpit" not in names and "flp_plans_patient" not in names
    with TestClient(create_app(Settings(db=postgres, lock_path=tmp_path / "lock"))) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        with store.tx() as tx:
            names = {
                r[0]
                for r in tx.rows(
                    "SELECT indexname FROM pg_indexes WHERE tablename = ?", ("flp_plans",)
                )
            }
    assert {"flp_plans_cockpit", "flp_plans_patient"} <= names


@pytest.mark.slow
def test_postgresql_two_workers(postgres: str) -> None:
    with running_refflp(workers=2, db=postgres) as base:
        health = requests.get(f"{base}/flp/v1/health", timeout=5).json()
        assert (health["store"], health["workers"]) == ("postgresql", 2)


@pytest.mark.slow
def test_the_bench_client_speaks_the_api() -> None:
    """The bench's own DK-CPD bodies and operation mix are taken, without one error."""
    from harness.bench_refflp import run_step, seed, within

    with running_refflp(workers=1) as base:
        clinics = seed(base, clinics=5, plans=4)
        step = run_step(base, clinics, clients=2, seconds=1.0)
    assert step.errors == 0 and step.requests > 10
    assert set(step.latencies_ms) <= {
        "plan-create",
        "plan-update",
        "plan-read-minlaege",
        "plan-read-sundhed",
        "cockpit-list",
        "plan-share",
    }
    assert within(step, {op: 10_000.0 for op in step.latencies_ms})
    assert not within(step, {op: 0.0 for op in step.latencies_ms})
