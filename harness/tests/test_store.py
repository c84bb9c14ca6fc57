"""The run store: SQLite (WAL) and PostgreSQL, recording per case, reading back, history."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from harness.fixtures import REPO_ROOT, TemplateRenderer
from harness.model.answer import Attachment, ManualAnswer
from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.runner.attended import MANUAL_RULE, AnswerBook, answered_step
from harness.runner.engine import RunOptions
from harness.session import SutChoice, runpath
from harness.store import tables
from harness.store.history import approved_systems, diff_runs, protocol_status
from harness.store.rebuild import rebuild_run
from harness.store.runstore import RunStore, StoreError, engine_url
from harness.tests.conftest import reference_answers
from harness.tests.test_defects import CAUGHT_BY

PG_ENV = "KCERT_TEST_POSTGRES"  # e.g. postgresql://kcert@127.0.0.1:54329/kcert (set by .ci/run)


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        if os.environ.get("KCERT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but this CI run requires the PostgreSQL store")
        pytest.skip(f"no PostgreSQL server: set {PG_ENV} (.ci/run starts one on loopback)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.sqlite'}"
        return
    url = _postgres_url()
    store = RunStore(url)  # a clean slate: the tests share one database
    tables.metadata.drop_all(store.engine)
    store.close()
    yield url


def _execute(
    store: RunStore,
    protocols: list[Protocol],
    defects: tuple[str, ...] = (),
    answers: AnswerBook | None = None,
    test_type: str = "egentest",
) -> RunResult:
    choice = SutChoice(reference=True, defects=defects, transport="inprocess")
    options = RunOptions(test_type=test_type, tester="Tove Tester" if answers else "")
    preset = answers.preset if answers else []
    plan = runpath.RunPlan(choice, protocols, options, answers, preset=preset)
    result = runpath.execute(store, plan)
    store.finish_run(result, None)
    return result


def _signature(run: RunResult) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [
        (c.protocol_id, c.case.id, c.outcome.value, tuple(sorted(f.rule_id for f in c.findings)))
        for c in run.cases
    ]


@pytest.fixture(scope="module")
def cc_protocol(protocols: list[Protocol]) -> list[Protocol]:
    return [p for p in protocols if p.id == "carecommunication-receive"]


def test_recorded_run_reads_back_whole(store_url: str, cc_protocol: list[Protocol]) -> None:
    store = RunStore(store_url)
    answer = ManualAnswer(
        "carecommunication-receive",
        "CC-R-13",
        "2",
        "F4",
        "small font",
        "Tove Tester",
        "2026-11-22T10:00:00+00:00",
        (Attachment("inbox.png", b"\x89PNG fake"),),
    )
    run = _execute(store, cc_protocol, ("ack-sender-not-swapped",), AnswerBook([answer]))
    row = store.run(run.run_id)
    assert row.status == "finished" and row.verdict == "ikke-godkendt"
    back = rebuild_run(store, row, runpath.reload_protocols(row, same_files=True).protocols)
    assert _signature(back) == _signature(run)
    assert back.verdict is run.verdict
    first = run.cases[0].steps[0].exchanges[0]
    again = back.cases[0].steps[0].exchanges[0]
    assert again.request_body == first.request_body
    assert again.response_body == first.response_body
    assert again.evidence == first.evidence
    stored_answer = next(s.answer for c in back.cases for s in c.steps if s.answer)
    assert stored_answer == answer
    store.close()


def test_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = RunStore(url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE kcert_store SET value = '99' WHERE key = 'schema'"))
    store.close()
    with pytest.raises(StoreError, match="schema 99"):
        RunStore(url)


def test_unreachable_postgresql_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"run store postgresql://kcert:\*\*\*@127.*refused"):
        RunStore("postgresql://kcert:secret@127.0.0.1:1/kcert?connect_timeout=2")


def test_postgres_url_means_psycopg3() -> None:
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("sqlite:///x") == "sqlite:///x"


def test_run_references_resolve(store_url: str, cc_protocol: list[Protocol]) -> None:
    store = RunStore(store_url)
    first = _execute(store, cc_protocol)
    second = _execute(store, cc_protocol)
    assert store.resolve("latest") == second.run_id
    assert store.resolve(first.run_id) == first.run_id
    assert store.resolve(first.run_id[:-2]) == first.run_id
    with pytest.raises(StoreError, match="matches 2 runs"):
        store.resolve("2")
    with pytest.raises(StoreError, match="no run"):
        store.resolve("nonesuch")
    store.close()


def test_diff_lists_exactly_the_new_failures(store_url: str, cc_protocol: list[Protocol]) -> None:
    store = RunStore(store_url)
    answers = reference_answers(cc_protocol)
    clean = _execute(store, cc_protocol, answers=answers)
    defect = "no-negative-ack"
    broken = _execute(store, cc_protocol, (defect,), answers=answers)
    d = diff_runs(store, clean.run_id, broken.run_id)
    failing = {c.case.id for c in broken.cases if c.outcome in (Outcome.FAIL, Outcome.ERROR)}
    assert {c.case_id for c in d.new_failures} == failing
    assert CAUGHT_BY[defect][0] in failing
    assert not d.fixed and not d.added and not d.removed
    back = diff_runs(store, broken.run_id, clean.run_id)
    assert {c.case_id for c in back.fixed} == failing and not back.new_failures
    assert diff_runs(store, clean.run_id, clean.run_id).identical
    store.close()


def test_approved_systems_only_final_runs_decide(store_url: str, protocols: list[Protocol]) -> None:
    store = RunStore(store_url)
    wanted = {"carecommunication-receive", "carecommunication-send", "referral-send"}
    messaging = [p for p in protocols if p.id in wanted]
    answers = reference_answers(messaging)
    _execute(store, messaging, answers=answers)
    assert {s.status for s in approved_systems(store)} == {"tester"}
    _execute(store, messaging, ("referral-bad-gln",), answers, test_type="endelig")
    status = {s.protocol: s.status for s in approved_systems(store)}
    assert status == {
        "carecommunication-receive": "godkendt",
        "carecommunication-send": "godkendt",
        "referral-send": "ikke-godkendt",
    }
    directions = {s.protocol: s.direction for s in approved_systems(store)}
    assert directions["carecommunication-receive"] == "receive"
    assert directions["referral-send"] == "send"
    store.close()


def test_protocol_status_rules() -> None:
    ok = {"outcome": "pass", "blocking": False}
    assert protocol_status("egentest", "finished", [ok]) == "tester"
    assert protocol_status("endelig", "running", [ok]) == "tester"
    assert protocol_status("endelig", "finished", [ok]) == "godkendt"
    assert protocol_status("endelig", "finished", [{"outcome": "pending", "blocking": False}]) == (
        "tester"
    )
    assert protocol_status("endelig", "finished", [{"outcome": "fail", "blocking": True}]) == (
        "ikke-godkendt"
    )
    assert protocol_status("endelig", "finished", [{"outcome": "fail", "blocking": False}]) == (
        "godkendt"
    )


def test_unanswered_manual_step_leaves_the_run_pending(cc_protocol: list[Protocol]) -> None:
    from harness.tests.conftest import run_reference

    run = run_reference(cc_protocol, answered=False)
    assert run.verdict is Verdict.AFVENTER
    assert [(c.case.id, s.step.id) for c, s in run.pending_steps] == [("CC-R-13", "2")]


@pytest.mark.parametrize(
    ("verdict", "outcome", "blocking"),
    [("OK", Outcome.PASS, False), ("F4", Outcome.FAIL, False), ("F2", Outcome.FAIL, True)],
)
def test_answer_becomes_a_step_result(
    protocols: list[Protocol], verdict: str, outcome: Outcome, blocking: bool
) -> None:
    step = next(s for p in protocols for c in p.cases for s in c.steps if s.manual)
    answer = ManualAnswer("p", "CC-R-13", step.id, verdict, "seen", "Tove")
    result = answered_step(step, answer)
    assert result.outcome is outcome and result.answer is answer
    assert any(f.blocking for f in result.findings) is blocking
    if verdict != "OK":
        assert result.findings[0].rule_id == MANUAL_RULE
        assert result.findings[0].severity is Severity(verdict)
        assert "Tove: seen" in result.findings[0].message


def test_seeded_renderer_reproduces_ids_and_times() -> None:
    import datetime as dt

    renderer = TemplateRenderer()
    context = {
        "patient": {
            "cpr": "0503559912",
            "given": "K",
            "family": "T",
            "gender": "female",
            "birthDate": "1955-03-05",
        },
        "peer": {
            "name": "x",
            "sor": "1",
            "gln": "2",
            "careteam": "t",
            "practitioner": {"given": "a", "family": "b"},
            "role": "r",
        },
        "sut": {"sor": "3", "gln": "4", "name": "s"},
        "vars": {},
    }
    when = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    renderer.reseed("run/proto/CC-R-01", when)
    first = renderer.render("messages/carecommunication.json.j2", context)
    renderer.reseed("run/proto/CC-R-01", when)
    again = renderer.render("messages/carecommunication.json.j2", context)
    assert first.resource == again.resource and first.ids == again.ids
    renderer.reseed("run/proto/CC-R-02", when)
    other = renderer.render("messages/carecommunication.json.j2", context)
    assert other.ids != first.ids


def test_open_store_failure_is_the_run_paths_error_and_a_usage_problem(tmp_path: Path) -> None:
    from harness.cli.errors import UsageProblem
    from harness.cli.runflow import open_store

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(runpath.StoreProblem, match="run store"):
        runpath.open_store(f"sqlite:///{blocker}/sub/runs.sqlite", tmp_path)
    with pytest.raises(UsageProblem, match="run store"):
        open_store(f"sqlite:///{blocker}/sub/runs.sqlite", tmp_path)


def test_reference_answers_fixture_is_in_the_repo() -> None:
    assert (REPO_ROOT / "fixtures" / "answers" / "reference-lps.yaml").is_file()
