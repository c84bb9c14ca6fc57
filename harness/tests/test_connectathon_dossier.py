"""The signed per-system connectathon dossier: verifies like a run folder; tampering fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from harness.connectathon.dossier import KIND, dossier_facts, read_summary, write_dossier
from harness.connectathon.model import (
    SIMULATED,
    Binding,
    Grade,
    InstanceStep,
    System,
    TestInstance,
)
from harness.connectathon.store import ConnectathonStore
from harness.dossier.manifest import DossierError
from harness.dossier.signing import generate_keys, load_public, verify
from harness.store import tables as run_tables
from harness.store.runstore import RunStore

REAL = "0101801234"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keys(tmp_path / "keys")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[ConnectathonStore, str]]:
    store = ConnectathonStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    sid = store.create_session("CX", "2026-12-03", "2026-12-04", ["plan-share"]).session_id
    for system_id in ("sys-a", "sys-b"):
        store.register_system(
            System(system_id, sid, "Vendor", "LPS", "1.0", ("lps", "viewer"), {"sut": "reference"})
        )
    store.add_instances(
        [
            TestInstance(
                "i-1",
                sid,
                "plan-share",
                (Binding("lps", "sys-a"), Binding("viewer", "sys-b")),
                run_id="run-1",
            ),
            TestInstance(
                "i-2",
                sid,
                "plan-share",
                (Binding("lps", "sys-b"), Binding("viewer", SIMULATED)),
                run_id="run-2",
            ),
        ]
    )
    store.save_steps("i-1", [InstanceStep("i-1", "s1", 1, "lps", "viewer", f"for {REAL}")])
    store.add_grade(Grade("i-1", "failed", "auto", "kcert", "2026-12-03T08:00:00+00:00"))
    shot = store.save_attachment("i-1", "note.txt", "text/plain", f"cpr {REAL}".encode())
    store.add_grade(
        Grade(
            "i-1", "verified", "override", "ada", "2026-12-03T09:00:00+00:00", "retested", (shot,)
        )
    )
    yield store, sid
    store.close()


def test_dossier_verifies_and_holds_the_systems_record(
    store: tuple[ConnectathonStore, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    cx, sid = store
    private, public = keys
    out = write_dossier(cx, sid, "sys-a", tmp_path / "dossier", private, signer="Lead")
    result = verify(out, load_public(public))
    assert result.ok, (result.files, result.signature, result.page)
    assert result.signer == "Lead"
    facts = dossier_facts(out)
    assert facts["kind"] == KIND and facts["run_ids"] == ["run-1"]
    summary = read_summary(out)
    assert [i["instance_id"] for i in summary["instances"]] == ["i-1"]  # only sys-a's
    assert summary["grades"]["verified"] == 1
    assert summary["matrix"][0]["system_id"] == "sys-a"
    trail = json.loads((out / "instances" / "i-1.json").read_text(encoding="utf-8"))["grades"]
    assert [(g["kind"], g["by"], g["comment"]) for g in trail] == [
        ("auto", "kcert", ""),
        ("override", "ada", "retested"),
    ]
    [attached] = (out / "attachments").iterdir()
    assert attached.read_bytes() == b"cpr 010180-xxxx"
    every = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert REAL.encode() not in every
    assert (out / "signature.html").is_file() and (out / "manifest.sha256").is_file()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Connectathon-dossier" in page and "i-1" in page and "i-2" not in page
    assert summary["runs"] == [{"run_id": "run-1", "missing": "not in the run store"}]


def test_the_instances_runs_come_from_the_run_store(
    store: tuple[ConnectathonStore, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    cx, sid = store
    runs = RunStore(cx.url)  # the same database: the instance's normal kcert run
    with runs.engine.begin() as conn:
        conn.execute(
            insert(run_tables.runs).values(
                run_id="run-1", status="finished", created=0.0, started="2026-12-03T08:00:00",
                finished="2026-12-03T08:01:00", verdict="godkendt", test_type="egentest",
                sut={}, choice={}, protocols=[], packs=[], suite_version="v1",
                sut_name="LPS", sut_version="1.0",
            )
        )  # fmt: skip
    runs.close()
    out = write_dossier(cx, sid, "sys-a", tmp_path / "dossier", keys[0])
    [run] = read_summary(out)["runs"]
    assert (run["run_id"], run["verdict"], run["suite_version"]) == ("run-1", "godkendt", "v1")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda out: (out / "instances" / "i-1.json").write_text("{}", encoding="utf-8"),
        lambda out: (out / "dossier.json").write_bytes(
            (out / "dossier.json").read_bytes().replace(b'"failed": 0', b'"failed": 9')
        ),
        lambda out: (out / "extra.txt").write_text("added", encoding="utf-8"),
        lambda out: (out / "matrix.csv").unlink(),
        lambda out: (out / "manifest.json").write_bytes(
            (out / "manifest.json").read_bytes().replace(b"run-1", b"run-9")
        ),
    ],
)
def test_tampering_fails(
    store: tuple[ConnectathonStore, str], keys: tuple[Path, Path], tmp_path: Path, tamper: object
) -> None:
    cx, sid = store
    private, public = keys
    out = write_dossier(cx, sid, "sys-a", tmp_path / "dossier", private)
    tamper(out)  # type: ignore[operator]
    assert not verify(out, load_public(public)).ok


def test_an_earlier_dossier_is_replaced_another_folder_refused(
    store: tuple[ConnectathonStore, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    cx, sid = store
    private, public = keys
    out = tmp_path / "dossier"
    write_dossier(cx, sid, "sys-a", out, private)
    write_dossier(cx, sid, "sys-b", out, private)
    assert dossier_facts(out)["system_id"] == "sys-b"
    assert verify(out, load_public(public)).ok
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(DossierError, match="not empty"):
        write_dossier(cx, sid, "sys-a", other, private)
    assert (other / "thesis.txt").read_text(encoding="utf-8") == "precious"
    with pytest.raises(KeyError):
        write_dossier(cx, sid, "sys-x", tmp_path / "x", private)
