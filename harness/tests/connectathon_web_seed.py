"""A small connectathon in a real ConnectathonStore, for the web tests (HTTP and browser).

Two vendors with one LPS each, one scenario (the LPS shares a plan a simulated viewer
fetches), an instance per LPS with steps and recorded exchanges, one unmatched exchange from
vendor B, and an admin, a monitor and a vendor-A account.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from harness.connectathon.accounts import check_username
from harness.connectathon.model import (
    SIMULATED,
    Account,
    Binding,
    Grade,
    InstanceStep,
    RecordedExchange,
    ScenarioInfo,
    ScenarioRole,
    System,
    TestInstance,
)
from harness.connectathon.store import ConnectathonStore
from harness.store.runstore import STORE_FILE

PASSWORD = "correct horse battery staple"
SCENARIO = ScenarioInfo(
    "cx-careplan-view",
    "LPS deler en plan, som en viser henter",
    "An LPS shares a plan a viewer fetches",
    (ScenarioRole("lps", simulated=False), ScenarioRole("viewer", simulated=True)),
)


@functools.cache
def _cheap_hash() -> str:
    """PASSWORD hashed with argon2id at its smallest cost: verify reads the cost from the
    hash, so the tests' logins are quick while the application's code path is the real one."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Seeded:
    store: ConnectathonStore
    session_id: str
    a_instance: str  # vendor A's (waiting for a grade)
    b_instance: str  # vendor B's (verified automatically)
    a_exchange: str
    b_exchange: str
    unmatched_b: str


def _exchange(
    xid: str, session_id: str, source: str, instance: str, step: str, body: bytes, match: str
) -> RecordedExchange:
    return RecordedExchange(
        exchange_id=xid,
        session_id=session_id,
        endpoint_id=f"{SIMULATED}:viewer",
        source=source,
        target=SIMULATED,
        method="POST",
        path="/fhir/$process-message",
        request_headers={"Content-Type": "application/fhir+json", "Authorization": "Bearer t0k"},
        request_body=body,
        status=200,
        response_headers={"Content-Type": "application/fhir+json"},
        response_body=b'{"resourceType":"OperationOutcome"}',
        started="2026-12-03T08:00:01.000",
        elapsed_ms=2.5,
        instance_id=instance,
        step_id=step,
        match=match,  # type: ignore[arg-type]
        kind="fhir-message",
        findings=[{"rule": "CPD-STRAT", "severity": "F2", "message": "no <stratification>"}]
        if instance
        else [],
        validated=True,
    )


def seed(tmp_path: Path, url: str | None = None) -> Seeded:
    store = ConnectathonStore(url or f"sqlite:///{tmp_path / STORE_FILE}")
    session = store.create_session(
        "Connectathon 2026", "2026-12-03", "2026-12-04", [SCENARIO.scenario_id]
    )
    sid = session.session_id
    store.set_scenarios(sid, [SCENARIO])
    store.register_system(System("vendor-a-lps", sid, "Vendor A", "A-LPS", "1.0", ("lps",)))
    store.register_system(System("vendor-b-lps", sid, "Vendor B", "B-LPS", "2.0", ("lps",)))
    bind = lambda lps: (Binding("lps", lps), Binding("viewer", SIMULATED))  # noqa: E731
    a = TestInstance(
        "inst-a",
        sid,
        SCENARIO.scenario_id,
        bind("vendor-a-lps"),
        status="done",
        outcome="error",
        reason="the viewer's fetch timed out",
    )
    b = TestInstance(
        "inst-b", sid, SCENARIO.scenario_id, bind("vendor-b-lps"), status="done", outcome="passed"
    )
    store.add_instances([a, b])
    for inst, outcome in ((a, "error"), (b, "passed")):
        store.save_steps(
            inst.instance_id,
            [
                InstanceStep(
                    inst.instance_id, "share", 1, "lps", "viewer", "LPS shares the <plan>", "passed"
                ),
                InstanceStep(
                    inst.instance_id,
                    "fetch",
                    2,
                    "viewer",
                    "lps",
                    "Viewer fetches the plan",
                    outcome,
                ),  # type: ignore[arg-type]
            ],
        )
    store.add_grade(Grade(b.instance_id, "verified", "auto", "kcert", "2026-12-03T08:01:00"))
    store.add_grade(
        Grade(a.instance_id, "waiting", "auto", "kcert", "2026-12-03T08:01:00", "error: timed out")
    )
    xa = _exchange(
        "xa1",
        sid,
        "vendor-a-lps",
        a.instance_id,
        "share",
        b'{"note":"<script>alert(1)</script>"}',
        "header",
    )
    xb = _exchange("xb1", sid, "vendor-b-lps", b.instance_id, "share", b"{}", "header")
    xu = _exchange("xu1", sid, "vendor-b-lps", "", "", b"{}", "unmatched")
    for ex in (xa, xb, xu):
        store.record_exchange(ex)
    for username, role, vendor in (
        ("admin", "admin", ""),
        ("monitor", "monitor", ""),
        ("vendora", "vendor", "Vendor A"),
    ):
        check_username(username)
        store.add_account(Account(username, role, _cheap_hash(), vendor))  # type: ignore[arg-type]
    return Seeded(store, sid, a.instance_id, b.instance_id, "xa1", "xb1", "xu1")
