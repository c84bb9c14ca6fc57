"""Export: the matrix as JSON and CSV, each instance as JSON with its audit trail; no
real-format CPR number in any of it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.connectathon.export import (
    MATRIX_COLUMNS,
    cells_of,
    instance_record,
    masked_json,
    matrix_csv,
    matrix_rows,
    session_record,
)
from harness.connectathon.model import (
    SIMULATED,
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

SYNTHETIC = "0101809912"
REAL = "0101801234"
PLAN = ScenarioInfo(
    "plan-share",
    "Plan deles",
    "Plan shared",
    (ScenarioRole("lps", False), ScenarioRole("viewer", True)),
)


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[ConnectathonStore, str]]:
    """A session with two systems, two instances (one verified, one failed and graded)."""
    store = ConnectathonStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    sid = store.create_session(f"CX {REAL}", "2026-12-03", "2026-12-04", ["plan-share"]).session_id
    for system_id in ("sys-a", "sys-b"):
        store.register_system(
            System(
                system_id, sid, "Vendor", f"LPS {system_id}", "1.0", ("lps",), {"sut": "reference"}
            )
        )
    store.set_scenarios(sid, [PLAN])
    patient = {"cpr": SYNTHETIC, "given": "Test", "family": "Person"}
    for n, system_id in enumerate(("sys-a", "sys-b"), 1):
        inst = TestInstance(
            f"i-{n}",
            sid,
            "plan-share",
            (Binding("lps", system_id), Binding("viewer", SIMULATED)),
            patient=patient,
            run_id=f"run-{n}",
        )
        store.add_instances([inst])
    store.save_steps(
        "i-2", [InstanceStep("i-2", "s1", 1, "lps", "viewer", f"Share plan for {REAL}", "failed")]
    )
    store.record_exchange(
        RecordedExchange(
            "x1",
            sid,
            "sys-b:lps",
            "sys-b",
            SIMULATED,
            "POST",
            "/fhir",
            {},
            b"{}",
            200,
            {},
            b"{}",
            "2026-12-03T08:00:00.000+00:00",
            2.0,
            instance_id="i-2",
            step_id="s1",
            match="header",
        )
    )
    store.add_grade(Grade("i-1", "verified", "auto", "kcert", "2026-12-03T08:00:00+00:00"))
    store.add_grade(Grade("i-2", "failed", "auto", "kcert", "2026-12-03T08:00:00+00:00"))
    shot = store.save_attachment("i-2", "log.txt", "text/plain", f"patient {REAL}".encode())
    store.add_grade(
        Grade("i-2", "failed", "monitor", "mona", "2026-12-03T09:00:00+00:00", "wrong", (shot,))
    )
    yield store, sid
    store.close()


def test_matrix_json_and_csv(filled: tuple[ConnectathonStore, str]) -> None:
    store, sid = filled
    rows = matrix_rows(store, sid, lang="en")
    assert [(r["system_id"], r["verified"], r["failed"]) for r in rows] == [
        ("sys-a", 1, 0),
        ("sys-b", 0, 1),
    ]
    assert rows[0]["scenario_title"] == "Plan shared" and rows[0]["product"] == "LPS sys-a"
    assert rows[0]["partners_used"] == [SIMULATED]
    assert cells_of(rows) == store.matrix(sid)
    table = list(csv.DictReader(io.StringIO(matrix_csv(rows))))
    assert list(table[0]) == list(MATRIX_COLUMNS)
    assert (table[0]["partners_used"], table[1]["failed"]) == (SIMULATED, "1")
    assert matrix_rows(store, sid, "sys-b")[0]["system_id"] == "sys-b"


def test_instance_record_has_steps_exchanges_audit_trail_and_run(
    filled: tuple[ConnectathonStore, str],
) -> None:
    store, _ = filled
    record = instance_record(store, "i-2")
    assert record["run_id"] == "run-2" and record["grade"] == "failed"
    assert record["bindings"] == [
        {"role": "lps", "system_id": "sys-b"},
        {"role": "viewer", "system_id": SIMULATED},
    ]
    assert [s["step_id"] for s in record["steps"]] == ["s1"]
    [exchange] = record["exchanges"]
    assert exchange["exchange_id"] == "x1" and exchange["request"]["bytes"] == 2
    assert "request_body" not in exchange
    assert [(g["kind"], g["by"], g["at"]) for g in record["grades"]] == [
        ("auto", "kcert", "2026-12-03T08:00:00+00:00"),
        ("monitor", "mona", "2026-12-03T09:00:00+00:00"),
    ]
    assert record["grades"][1]["comment"] == "wrong"
    assert record["grades"][1]["attachments"][0]["name"] == "log.txt"


def test_no_real_cpr_leaves_but_the_synthetic_person_does(
    filled: tuple[ConnectathonStore, str],
) -> None:
    store, sid = filled
    record = session_record(store, sid)
    raw = json.dumps(record)
    assert REAL in raw  # the store kept a step title and session name as given ...
    text = masked_json(record)
    assert REAL not in text and "010180-xxxx" in text  # ... the export masks them
    assert SYNTHETIC in text
    back = json.loads(text)
    assert [i["instance_id"] for i in back["instances"]] == ["i-1", "i-2"]
    assert back["session"]["name"] == "CX 010180-xxxx"
    assert back["scenarios"][0]["scenario_id"] == "plan-share"
    assert all("registration" not in s for s in back["systems"])
    assert REAL not in matrix_csv([{**matrix_rows(store, sid)[0], "product": REAL}])
