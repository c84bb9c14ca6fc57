"""The connectathon store: every StoreApi method on SQLite and on PostgreSQL (one suite, two
databases), its bounds (body and attachment caps), masking, grading audit trail and matrix."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from harness.connectathon import tables as cx_tables
from harness.connectathon.api import StoreApi
from harness.connectathon.model import (
    SIMULATED,
    Account,
    Binding,
    Endpoint,
    Grade,
    InstanceStep,
    RecordedExchange,
    ScenarioInfo,
    ScenarioRole,
    System,
    TestInstance,
)
from harness.connectathon.store import (
    MAX_ATTACHMENT_BYTES,
    MAX_BODY_BYTES,
    AttachmentTooLarge,
    ConnectathonStore,
    StoreError,
    open_connectathon_store,
    slug,
)
from harness.store import tables as run_tables
from harness.store.runstore import STORE_FILE, RunStore

PG_ENV = "KCERT_TEST_POSTGRES"  # e.g. postgresql://kcert@127.0.0.1:54329/kcert (set by .ci/run)
SYNTHETIC = "0101809912"  # kcert's synthetic range: kept as it is
REAL = "0101801234"  # a real-format CPR number: masked before the store keeps it


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        if os.environ.get("KCERT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but this CI run requires the PostgreSQL store")
        pytest.skip(f"no PostgreSQL server: set {PG_ENV} (.ci/run starts one on loopback)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConnectathonStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / STORE_FILE}"
    else:
        url = _postgres_url()
        clean = ConnectathonStore(url)  # a clean slate: the tests share one database
        cx_tables.metadata.drop_all(clean.engine)
        clean.close()
    opened = ConnectathonStore(url)
    yield opened
    opened.close()


LPS = ScenarioRole("lps", simulated=False)
VIEWER = ScenarioRole("viewer", simulated=True)
MUNI = ScenarioRole("municipality", simulated=False)
PLAN = ScenarioInfo("plan-share", "Plan deles", "Plan shared", (LPS, VIEWER))
REFERRAL = ScenarioInfo("referral", "Henvisning", "Referral", (LPS, MUNI))


def _system(session_id: str, system_id: str, *roles: str) -> System:
    return System(system_id, session_id, "Vendor", "Product", "1.0", roles, {"sut": "reference"})


def _instance(session_id: str, instance_id: str, scenario: str, *bindings: Binding) -> TestInstance:
    return TestInstance(instance_id, session_id, scenario, bindings)


def _exchange(session_id: str, exchange_id: str, **changes: object) -> RecordedExchange:
    values: dict[str, object] = {
        "exchange_id": exchange_id,
        "session_id": session_id,
        "endpoint_id": "sys-a:lps",
        "source": SIMULATED,
        "target": "sys-a",
        "method": "POST",
        "path": "/fhir/$process-message",
        "request_headers": {"Content-Type": "application/fhir+json"},
        "request_body": b'{"resourceType":"Bundle"}',
        "status": 200,
        "response_headers": {"Content-Type": "application/fhir+json"},
        "response_body": b"{}",
        "started": "2026-12-03T08:00:00.000+00:00",
        "elapsed_ms": 3.5,
    }
    values.update(changes)
    return RecordedExchange(**values)  # type: ignore[arg-type]


def test_implements_the_store_interface(store: ConnectathonStore) -> None:
    api: StoreApi = store  # mypy checks the Protocol; here every method is there
    for name in [n for n in dir(StoreApi) if not n.startswith("_")]:
        assert callable(getattr(api, name)) or name == "url", name


def test_sessions_are_created_listed_and_named_uniquely(store: ConnectathonStore) -> None:
    first = store.create_session("Connectathon Ærø 2026", "2026-12-03", "2026-12-04", ["a", "b"])
    second = store.create_session("Connectathon Ærø 2026", "2026-12-05", "2026-12-05", [])
    assert first.session_id == "connectathon-aeroe-2026"
    assert second.session_id == "connectathon-aeroe-2026-2"
    assert first.scenarios == ("a", "b") and first.created
    assert store.session(first.session_id) == first
    assert [s.session_id for s in store.sessions()] == [first.session_id, second.session_id]
    with pytest.raises(KeyError, match="nope"):
        store.session("nope")
    with pytest.raises(ValueError, match="ends: 2026-12-01 is before"):
        store.create_session("x", "2026-12-03", "2026-12-01", [])
    with pytest.raises(ValueError, match="starts: 'tomorrow' is not a date"):
        store.create_session("x", "tomorrow", "2026-12-01", [])
    with pytest.raises(ValueError, match="name"):
        store.create_session("  ", "2026-12-03", "2026-12-04", [])


def test_systems_register_replace_and_need_their_session(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", []).session_id
    store.register_system(_system(sid, "sys-b", "lps"))
    store.register_system(_system(sid, "sys-a", "lps", "viewer"))
    store.register_system(
        System("sys-a", sid, "Vendor", "Product", "2.0", ("lps",), {"sut": "reference"})
    )
    assert [(s.system_id, s.version, s.roles) for s in store.systems(sid)] == [
        ("sys-a", "2.0", ("lps",)),
        ("sys-b", "1.0", ("lps",)),
    ]
    assert store.system(sid, "sys-b").registration == {"sut": "reference"}
    store.register_system(dataclasses.replace(_system(sid, "sys-d", "lps"), files="/srv/vendor-d"))
    assert store.system(sid, "sys-d").files == "/srv/vendor-d"
    assert store.system(sid, "sys-b").files == ""
    with pytest.raises(KeyError):
        store.system(sid, "sys-c")
    with pytest.raises(KeyError, match="no connectathon session"):
        store.register_system(_system("other", "sys-a", "lps"))
    with pytest.raises(ValueError, match="system_id"):
        store.register_system(_system(sid, SIMULATED, "lps"))


def test_instances_and_steps(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", ["plan-share"]).session_id
    one = _instance(sid, "i-1", "plan-share", Binding("lps", "sys-a"), Binding("viewer", SIMULATED))
    two = _instance(sid, "i-2", "plan-share", Binding("lps", "sys-b"), Binding("viewer", "sys-a"))
    store.add_instances([one, two])
    one.status, one.outcome, one.run_id, one.reason = "done", "failed", "run-1", f"CPR {REAL}"
    store.update_instance(one)
    store.add_instances([_instance(sid, "i-1", "plan-share"), two])  # held: left as they are
    back = store.instance("i-1")
    assert (back.status, back.outcome, back.run_id) == ("done", "failed", "run-1")
    assert back.bindings == one.bindings
    assert REAL not in back.reason and "010180-xxxx" in back.reason
    assert [i.instance_id for i in store.instances(sid)] == ["i-1", "i-2"]
    assert [i.instance_id for i in store.instances(sid, "sys-b")] == ["i-2"]
    assert [i.instance_id for i in store.instances(sid, "sys-a")] == ["i-1", "i-2"]
    with pytest.raises(KeyError):
        store.update_instance(_instance(sid, "i-9", "plan-share"))
    one.status = "finished"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="status: 'finished' is not one of"):
        store.update_instance(one)
    steps = [
        InstanceStep("i-1", "s1", 1, "lps", "viewer", "Share", "passed"),
        InstanceStep("i-1", "s2", 2, "viewer", "lps", "Fetch", "failed", findings=[{"rule": "R"}]),
    ]
    store.save_steps("i-1", steps)
    assert store.steps("i-1") == steps
    store.save_steps("i-1", steps[:1])  # replaces
    assert [s.step_id for s in store.steps("i-1")] == ["s1"]
    with pytest.raises(KeyError):
        store.save_steps("i-9", steps)


def test_exchanges_round_trip_masked_and_capped(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", []).session_id
    store.save_endpoint(
        Endpoint("sys-a:lps", sid, "sys-a", "lps", "http://127.0.0.1:1", "http://x")
    )
    store.save_endpoint(
        Endpoint("sys-a:lps", sid, "sys-a", "lps", "http://127.0.0.1:2", "http://x")
    )
    assert [e.listen_url for e in store.endpoints(sid)] == ["http://127.0.0.1:2"]
    body = f'{{"patient":"{SYNTHETIC}","other":"{REAL}"}}'.encode()
    store.record_exchange(
        _exchange(
            sid,
            "x1",
            request_body=body,
            instance_id="i-1",
            step_id="s1",
            match="header",
            findings=[{"rule": "R", "message": f"saw {REAL}"}],
        )
    )
    big = b"a" * (MAX_BODY_BYTES + 10)
    store.record_exchange(_exchange(sid, "x2", response_body=big, started="2026-12-03T08:00:01"))
    back = store.exchange("x1")
    assert SYNTHETIC.encode() in back.request_body
    assert REAL.encode() not in back.request_body and b"010180-xxxx" in back.request_body
    assert REAL not in back.findings[0]["message"]
    assert (back.instance_id, back.step_id, back.match, back.error) == ("i-1", "s1", "header", "")
    assert back.request_headers == {"Content-Type": "application/fhir+json"}
    cut = store.exchange("x2")
    assert len(cut.response_body) == MAX_BODY_BYTES
    assert f"stored cut at {MAX_BODY_BYTES}" in cut.error
    assert [e.exchange_id for e in store.exchanges(sid)] == ["x1", "x2"]
    assert [e.exchange_id for e in store.exchanges(sid, instance_id="i-1")] == ["x1"]
    assert [e.exchange_id for e in store.exchanges(sid, unmatched=True)] == ["x2"]
    assert len(store.exchanges(sid, limit=1)) == 1
    store.record_exchange(_exchange(sid, "x2", validated=True, kind="fhir-message"))  # replaces
    again = store.exchange("x2")
    assert again.validated and again.kind == "fhir-message" and again.response_body == b"{}"
    with pytest.raises(KeyError):
        store.exchange("x9")


def test_grades_keep_the_audit_trail_and_set_the_instance(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", []).session_id
    store.add_instances([_instance(sid, "i-1", "plan-share", Binding("lps", "sys-a"))])
    store.add_grade(Grade("i-1", "failed", "auto", "kcert", "2026-12-03T08:00:00+00:00"))
    assert store.instance("i-1").grade == "failed"
    store.add_grade(Grade("i-1", "failed", "claim", "mona", "2026-12-03T08:01:00+00:00"))
    claimed = store.instance("i-1")
    assert (claimed.grade, claimed.claimed_by) == ("failed", "mona")
    shot = store.save_attachment("i-1", "../../etc/screen.png", "image/png", b"\x89PNG")
    assert store.attachment(shot) == ("screen.png", "image/png", b"\x89PNG")
    assert store.attachment_instance(shot) == "i-1"
    store.add_grade(
        Grade("i-1", "partial", "monitor", "mona", "2026-12-03T08:02:00+00:00", "ok", (shot,))
    )
    store.add_grade(Grade("i-1", "verified", "override", "ada", "2026-12-03T08:03:00+00:00", "x"))
    assert store.instance("i-1").grade == "verified"
    store.add_grade(Grade("i-1", "waiting", "reopen", "ada", "2026-12-03T08:04:00+00:00"))
    reopened = store.instance("i-1")
    assert (reopened.grade, reopened.claimed_by) == ("waiting", "")
    trail = store.grades("i-1")
    assert [(g.kind, g.by, g.grade) for g in trail] == [
        ("auto", "kcert", "failed"),
        ("claim", "mona", "failed"),
        ("monitor", "mona", "partial"),
        ("override", "ada", "verified"),
        ("reopen", "ada", "waiting"),
    ]
    assert trail[2].comment == "ok" and trail[2].attachments == (shot,)
    assert trail[3].at == "2026-12-03T08:03:00+00:00"
    with pytest.raises(ValueError, match="grade: 'great'"):
        store.add_grade(Grade("i-1", "great", "monitor", "mona", ""))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attachments: nope"):
        store.add_grade(Grade("i-1", "verified", "monitor", "mona", "", "", ("nope",)))
    with pytest.raises(KeyError):
        store.add_grade(Grade("i-9", "verified", "monitor", "mona", ""))
    assert len(store.grades("i-1")) == 5  # the refused acts left nothing


def test_attachments_are_capped(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", []).session_id
    store.add_instances([_instance(sid, "i-1", "plan-share", Binding("lps", "sys-a"))])
    with pytest.raises(AttachmentTooLarge, match="10 MB an attachment may have"):
        store.save_attachment("i-1", "big.bin", "", b"x" * (MAX_ATTACHMENT_BYTES + 1))
    assert store.save_attachment("i-1", "edge.bin", "", b"x" * MAX_ATTACHMENT_BYTES)
    with pytest.raises(KeyError):
        store.save_attachment("i-9", "a.txt", "text/plain", b"a")
    with pytest.raises(KeyError):
        store.attachment("nope")


def test_accounts(store: ConnectathonStore) -> None:
    assert store.account("mona") is None
    store.add_account(Account("mona", "monitor", "$argon2id$one"))
    store.add_account(Account("vera", "vendor", "$argon2id$two", vendor="Vendor A"))
    store.add_account(Account("mona", "monitor", "$argon2id$new"))  # a new password
    assert store.account("mona") == Account("mona", "monitor", "$argon2id$new")
    assert [a.username for a in store.accounts()] == ["mona", "vera"]


def test_matrix_counts_partners_and_unpairable_roles(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", ["plan-share", "referral"])
    sid_ = sid.session_id
    store.register_system(_system(sid_, "sys-a", "lps"))
    store.register_system(_system(sid_, "sys-b", "lps", "viewer"))
    store.set_scenarios(sid_, [PLAN, REFERRAL])
    v1 = _instance(sid_, "i-1", "plan-share", Binding("lps", "sys-a"), Binding("viewer", "sys-b"))
    v2 = _instance(sid_, "i-2", "plan-share", Binding("lps", "sys-b"), Binding("viewer", SIMULATED))
    store.add_instances([v1, v2])
    store.add_grade(Grade("i-1", "verified", "auto", "kcert", ""))
    store.add_grade(Grade("i-2", "failed", "auto", "kcert", ""))
    cells = {(c.system_id, c.scenario_id, c.role): c for c in store.matrix(sid_)}
    a_plan = cells[("sys-a", "plan-share", "lps")]
    assert (a_plan.verified, a_plan.failed, a_plan.waiting) == (1, 0, 0)
    assert a_plan.partners_used == ("sys-b",)
    assert (a_plan.partners_needed, a_plan.partners_available) == (1, 1)
    b_view = cells[("sys-b", "plan-share", "viewer")]
    assert b_view.verified == 1 and b_view.partners_used == ("sys-a",)
    assert b_view.partners_available == 1  # sys-a: a system is not its own partner
    b_lps = cells[("sys-b", "plan-share", "lps")]
    assert (b_lps.failed, b_lps.partners_used) == (1, ())
    # referral: nobody registered as municipality and kcert may not simulate it
    a_ref = cells[("sys-a", "referral", "lps")]
    assert (a_ref.verified, a_ref.waiting, a_ref.partners_available) == (0, 0, 0)
    assert ("sys-b", "referral", "viewer") not in cells
    # kcert playing two roles is one partner: needed 1, not 2
    three = ScenarioInfo("three", "T", "T", (LPS, VIEWER, ScenarioRole("repo", True, False)))
    store.set_scenarios(sid_, [PLAN, REFERRAL, three])
    store.add_instances(
        [
            _instance(
                sid_,
                "i-3",
                "three",
                Binding("lps", "sys-a"),
                Binding("viewer", "sys-b"),
                Binding("repo", SIMULATED),
            )
        ]
    )
    a_three = {(c.system_id, c.scenario_id, c.role): c for c in store.matrix(sid_)}[
        ("sys-a", "three", "lps")
    ]
    assert (a_three.partners_needed, a_three.partners_available) == (2, 2)  # sys-b and kcert
    store.add_grade(Grade("i-2", "verified", "override", "ada", ""))
    again = {(c.system_id, c.scenario_id, c.role): c for c in store.matrix(sid_)}
    assert again[("sys-b", "plan-share", "lps")].partners_used == (SIMULATED,)


def test_matrix_without_scenario_roles_uses_the_instances(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", ["plan-share"]).session_id
    store.register_system(_system(sid, "sys-a", "lps"))
    store.add_instances(
        [_instance(sid, "i-1", "plan-share", Binding("lps", "sys-a"), Binding("viewer", SIMULATED))]
    )
    [cell] = store.matrix(sid)
    assert (cell.system_id, cell.role, cell.waiting) == ("sys-a", "lps", 1)
    assert (cell.partners_needed, cell.partners_available, cell.partners_used) == (1, 1, ())


def test_writes_from_many_threads_all_land(store: ConnectathonStore) -> None:
    sid = store.create_session("S", "2026-12-03", "2026-12-04", []).session_id
    errors: list[BaseException] = []

    def record(worker: int) -> None:
        try:
            for n in range(15):
                store.record_exchange(_exchange(sid, f"x-{worker}-{n}"))
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(store.exchanges(sid)) == 90


def test_store_lives_beside_the_run_store(tmp_path: Path) -> None:
    store = open_connectathon_store(None, tmp_path)
    assert store.url.endswith(str(tmp_path / STORE_FILE))
    store.create_session("S", "2026-12-03", "2026-12-04", [])
    runs = RunStore(store.url)  # the same database holds both sets of tables
    with runs.engine.connect() as conn:
        names = {
            r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
    assert {"runs", "cx_sessions", "cx_instances", "cx_grades"} <= names
    assert set(run_tables.metadata.tables).isdisjoint(cx_tables.metadata.tables)
    runs.close()
    store.close()


def test_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = ConnectathonStore(url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE cx_info SET value = '99' WHERE key = 'schema'"))
    store.close()
    with pytest.raises(StoreError, match="schema 99"):
        ConnectathonStore(url)


def test_unreachable_store_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="connectathon store"):
        ConnectathonStore("postgresql://kcert@127.0.0.1:1/kcert", timeout=2)


def test_slug() -> None:
    assert slug("  Vendor Ø / LPS 2.1 ") == "vendor-oe-lps-2-1"
    assert slug("!!!", "system") == "system"


def test_an_older_store_gets_the_columns_added_since(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = ConnectathonStore(url)
    sid = store.create_session("S", "2026-12-03", "2026-12-04", []).session_id
    store.register_system(_system(sid, "sys-a", "lps"))
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE cx_systems DROP COLUMN files"))  # as schema 1 began
    store.close()
    again = ConnectathonStore(url)
    assert again.system(sid, "sys-a").files == ""
    again.close()
