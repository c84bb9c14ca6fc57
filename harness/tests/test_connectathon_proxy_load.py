"""Many endpoints and many clients at once: every exchange forwarded and recorded, in both
stores (SQLite; PostgreSQL when KCERT_TEST_POSTGRES names a server, as .ci/run sets it)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.connectathon.model import INSTANCE_HEADER, Binding, TestInstance
from harness.connectathon.proxy import EndpointSpec, ProxyLimits, RecordingProxy
from harness.connectathon.store import ConnectathonStore
from harness.tests.connectathon_proxy_kit import WAIT, RawTarget, raw_target, response

PG_ENV = "KCERT_TEST_POSTGRES"  # e.g. postgresql://kcert@127.0.0.1:54329/kcert (set by .ci/run)
SYSTEMS = 20
CLIENTS = 8
EACH = 25


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConnectathonStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        url = os.environ.get(PG_ENV, "")
        if not url:
            if os.environ.get("KCERT_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"{PG_ENV} is not set but this CI run requires the PostgreSQL store")
            pytest.skip(f"no PostgreSQL server: set {PG_ENV} (.ci/run starts one on loopback)")
    opened = ConnectathonStore(url)
    yield opened
    opened.close()


def test_twenty_endpoints_under_concurrent_clients(store: ConnectathonStore) -> None:
    # a session of its own: PostgreSQL tests share one database
    session = store.create_session(
        f"load {uuid.uuid4().hex[:8]}", "2026-12-03", "2026-12-04", []
    ).session_id
    systems = [f"vendor-{n:02d}-lps" for n in range(SYSTEMS)]
    store.add_instances(
        [
            TestInstance(f"{session}-i{n}", session, "ref01", (Binding("lps", s),), "running")
            for n, s in enumerate(systems)
        ]
    )
    failures: list[str] = []
    with raw_target(RawTarget(answer=lambda r: response(200, r[-8:]))) as target:
        specs = [EndpointSpec(s, "lps", target.url) for s in systems]
        # each client keeps a connection per endpoint: 160 open, served by 4 threads
        limits = ProxyLimits(worker_threads=4)
        with RecordingProxy(store, session, specs, limits=limits) as proxy:
            urls = [proxy.url_for(spec.endpoint_id) for spec in specs]

            def client(number: int) -> None:
                with httpx.Client(timeout=WAIT) as http:
                    for k in range(EACH):
                        which = (number * EACH + k) % SYSTEMS
                        body = f"{number:04d}{k:04d}".encode()
                        headers = {INSTANCE_HEADER: f"{session}-i{which}"} if k % 2 else {}
                        answer = http.post(urls[which] + "/x", content=body, headers=headers)
                        if answer.status_code != 200 or answer.content != body:
                            failures.append(f"{number}/{k}: {answer.status_code}")

            threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert proxy.settle(60)
    assert failures == []
    recorded = store.exchanges(session, limit=CLIENTS * EACH + 1)
    assert len(recorded) == CLIENTS * EACH
    assert {r.match for r in recorded} == {"header", "address-time"}
    for exchange in recorded:  # each matched to its own system's instance
        assert exchange.instance_id == f"{session}-i{systems.index(exchange.target)}"
        skipped = any("validation queue is full" in f["message"] for f in exchange.findings)
        assert exchange.validated != skipped  # judged, or said why not
    assert len({r.exchange_id for r in recorded}) == len(recorded)
