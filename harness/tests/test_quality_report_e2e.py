"""End to end with the real catalogue and engine (dqcat's `harness.quality.catalogue` and
`engine`; skipped while they are not in the tree): `kcert quality score` on the hand-written
extract writes a valid quality.json, and each failed check's patient list holds exactly the
patients its truth file planted."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

from harness.cli.main import main

pytest.importorskip("harness.quality.engine")
pytest.importorskip("harness.quality.catalogue")

ROOT = Path(__file__).resolve().parents[2]
EXTRACT = ROOT / "fixtures" / "populations" / "quality-hand-written.json"
TRUTH = ROOT / "fixtures" / "populations" / "quality-hand-written.truth.json"
SCHEMA = Path(__file__).resolve().parents[1] / "quality" / "quality.schema.json"


def test_the_hand_written_extract_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KCERT_STORE", raising=False)
    reports = tmp_path / "reports"
    assert main(["quality", "score", str(EXTRACT), "--reports", str(reports), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, json.loads(SCHEMA.read_text(encoding="utf-8")))
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))["faults"]
    (clinic,) = data["clinics"]
    compared = 0
    for check in clinic["checks"]:
        planted = truth.get(check["id"])
        if planted is None or planted.get("level") != "patient" or not check["failing_file"]:
            continue
        path = run_dir / "quality" / check["failing_file"]
        with path.open(encoding="utf-8", newline="") as handle:
            listed = {row["cpr"] for row in csv.DictReader(handle)}
        assert listed == set(planted["cprs"]), check["id"]
        compared += 1
    assert compared >= 5
