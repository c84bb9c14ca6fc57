"""Planted faults: each kind on exactly the recorded patients, none on a clean extract.

The data-level proof the check catalogue builds on: `fault_witness.carriers` states each kind
as a plain predicate; on a clean generated extract it finds nothing, after planting exactly the
truth's CPRs — per kind alone (no kind brings another along) and all kinds together.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures import FIXTURES_DIR
from harness.population.extract import read_extract, read_extract_data
from harness.population.extractcsv import write_extract_csv
from harness.population.extractgen import generate_extract
from harness.population.faultplan import load_fault_plan
from harness.population.faults import BY_ID, KIND_IDS, KINDS, FaultPlantError, Rate, Truth, plant
from harness.population.generator import GeneratorError
from harness.population.reader import read_population
from harness.tests.fault_witness import carriers
from harness.yamlsource import SourceError

SOR = "999991000016008"
AS_OF = dt.date(2027, 3, 1)
HAND = FIXTURES_DIR / "populations" / "quality-hand-written.json"
HAND_TRUTH = FIXTURES_DIR / "populations" / "quality-hand-written.truth.json"


def _expected(truth: Truth) -> dict[str, set[str]]:
    return {
        kind: set(truth.cprs.get(kind, [])) | set(truth.clinics.get(kind, [])) for kind in KIND_IDS
    }


def _found(bundle: dict[str, Any], as_of: dt.date = AS_OF) -> dict[str, set[str]]:
    return carriers(read_extract_data(bundle, "generated"), as_of)


def test_the_catalogue_has_every_kind_the_issue_names() -> None:
    named = {
        "inhaler-without-copd", "antidiabetic-without-t2d", "diagnosis-free-text",
        "diagnosis-wrong-system", "lab-local-code", "unit-mismatch", "implausible-bp",
        "implausible-egfr", "future-date", "observation-after-death", "duplicate-observation",
        "missing-annual-control", "missing-chronic-care-fee", "copd-without-mrc-cat",
        "lbp-without-startback", "missing-gp", "deceased-still-active", "moved-still-active",
        "register-stale", "old-data",
    }  # fmt: skip
    assert named <= set(KIND_IDS)
    for kind in KINDS:
        assert (
            kind.title_da
            and kind.title_en
            and kind.planted
            and kind.level
            in (
                "patient",
                "clinic",
            )
        )


@pytest.mark.parametrize(("seed", "as_of"), [(1, AS_OF), (2, dt.date(2028, 2, 29))])
def test_a_clean_extract_carries_no_fault(seed: int, as_of: dt.date) -> None:
    made = generate_extract(seed, 800, as_of, SOR)
    assert {k: v for k, v in _found(made.bundle, as_of).items() if v} == {}
    population, problems = read_population(made.bundle)
    assert problems == [] and population.register_updated is not None
    assert sum(len(p.medications) for p in population.patients) > 20
    assert made.patients == 800


@pytest.mark.parametrize("kind", KIND_IDS)
def test_each_kind_alone_lands_on_exactly_its_patients(kind: str) -> None:
    made = generate_extract(5, 500, AS_OF, SOR)
    truth = plant(made.bundle, {kind: Rate(count=1 if BY_ID[kind].level == "clinic" else 2)}, 9)
    found = _found(made.bundle)
    expected = _expected(truth)
    assert len(expected[kind]) == (1 if BY_ID[kind].level == "clinic" else 2)
    assert found == expected


@pytest.fixture(scope="module")
def everything() -> tuple[dict[str, Any], Truth]:
    made = generate_extract(7, 1500, AS_OF, SOR)
    truth = plant(made.bundle, {k: Rate(rate=0.08) for k in KIND_IDS}, 3)
    return made.bundle, truth


@pytest.fixture(scope="module")
def found_in_everything(everything: tuple[dict[str, Any], Truth]) -> dict[str, set[str]]:
    return _found(everything[0])


@pytest.mark.parametrize("kind", KIND_IDS)
def test_all_kinds_together_each_on_exactly_its_patients(
    everything: tuple[dict[str, Any], Truth], found_in_everything: dict[str, set[str]], kind: str
) -> None:
    _, truth = everything
    assert found_in_everything[kind] == _expected(truth)[kind]
    assert _expected(truth)[kind], "every kind was planted at least once"


def test_planted_patients_are_disjoint(everything: tuple[dict[str, Any], Truth]) -> None:
    _, truth = everything
    planted = [cpr for cprs in truth.cprs.values() for cpr in cprs]
    assert len(planted) == len(set(planted))


def test_faults_survive_the_csv_form(
    everything: tuple[dict[str, Any], Truth], tmp_path: Path
) -> None:
    bundle, truth = everything
    write_extract_csv(read_extract_data(bundle, "x"), tmp_path / "csv")
    assert carriers(read_extract(tmp_path / "csv"), AS_OF) == _expected(truth)


def test_planting_is_deterministic_by_seed() -> None:
    plan = {k: Rate(rate=0.1) for k in KIND_IDS}
    runs = []
    for plan_seed in (4, 4, 5):
        made = generate_extract(2, 300, AS_OF, SOR)
        truth = plant(made.bundle, plan, plan_seed)
        runs.append((json.dumps(made.bundle), truth.to_json()))
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1] and runs[0][0] != runs[2][0]
    assert (
        generate_extract(3, 300, AS_OF, SOR).bundle != generate_extract(2, 300, AS_OF, SOR).bundle
    )


def test_a_plan_asking_too_much_is_refused() -> None:
    made = generate_extract(1, 60, AS_OF, SOR)
    with pytest.raises(FaultPlantError, match="observation-after-death: the plan asks for 50"):
        plant(made.bundle, {"observation-after-death": Rate(count=50)}, 1)
    with pytest.raises(FaultPlantError, match="unknown fault kind"):
        plant(made.bundle, {"no-such-kind": Rate(count=1)}, 1)
    with pytest.raises(GeneratorError):
        generate_extract(1, 5, AS_OF, SOR)


def test_the_truth_file_lists_every_kind(everything: tuple[dict[str, Any], Truth]) -> None:
    data = everything[1].to_json()
    assert data["format"] == "kcert-fault-truth" and list(data["faults"]) == list(KIND_IDS)
    assert data["faults"]["register-stale"]["clinics"] == [SOR]
    assert all(v["cprs"] == sorted(v["cprs"]) for v in data["faults"].values())


def test_the_hand_written_extract_and_its_truth() -> None:
    truth = json.loads(HAND_TRUTH.read_text(encoding="utf-8"))
    assert list(truth["faults"]) == list(KIND_IDS)
    extract = read_extract(HAND)
    expected = {k: set(v["cprs"]) | set(v.get("clinics", [])) for k, v in truth["faults"].items()}
    assert carriers(extract, AS_OF) == expected
    assert all(expected[k] for k in KIND_IDS), "the hand-written file carries every kind"
    # the strict reader refuses exactly the faults it cannot score
    _, problems = read_population(json.loads(HAND.read_text(encoding="utf-8")))
    assert {p.fault for p in problems} == {
        "missing-gp",
        "birthdate-mismatch",
        "diagnosis-free-text",
        "diagnosis-wrong-system",
        "lab-local-code",
    }


# -- fault plans ---------------------------------------------------------------------------


def _plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fault_plan_loads(tmp_path: Path) -> None:
    plan = load_fault_plan(
        _plan(
            tmp_path,
            "version: 1\nseed: 7\nfaults:\n  missing-gp: {count: 3}\n"
            "  old-data: {rate: 0.25}\n  register-stale: {}\n",
        )
    )
    assert plan.seed == 7
    assert plan.faults == {
        "missing-gp": Rate(count=3),
        "old-data": Rate(rate=0.25),
        "register-stale": Rate(count=1),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nseed: 7\nfaults:\n  missing-gps: {count: 3}\n",
         ":4: faults.missing-gps: unknown fault kind"),
        ("version: 1\nseed: 7\nfaults:\n  missing-gp: {count: 3, rate: 0.1}\n",
         ":4: faults.missing-gp: give exactly one"),
        ("version: 1\nseed: 7\nfaults:\n  missing-gp: {}\n",
         ":4: faults.missing-gp: give exactly one"),
        ("version: 1\nseed: 7\nfaults:\n  old-data: {rate: 1.5}\n", ":4: faults.old-data.rate"),
        ("version: 1\nseed: 7\nfaults:\n  register-stale: {rate: 0.5}\n",
         ":4: faults.register-stale: a clinic-level"),
        ("version: 1\nfaults:\n  old-data: {rate: 0.5}\n", ":1: missing required field"),
        ("version: 2\nseed: 1\nfaults:\n  old-data: {rate: 0.5}\n", ":1: version"),
        ("version: 1\nseed: 1\nfaults:\n  old-data: {ratio: 0.5}\n",
         ":4: faults.old-data: unknown field"),
    ],
)  # fmt: skip
def test_fault_plan_mistakes_are_named_at_file_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _plan(tmp_path, text)
    with pytest.raises(SourceError) as err:
        load_fault_plan(path)
    assert str(err.value).startswith(f"{path}{expected}"), str(err.value)


# -- the command ---------------------------------------------------------------------------


def _kcert(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    done.stdout += done.stderr  # kcert prints its usage errors on either, by terminal
    return done


GENERATE = ("population", "generate", "--seed", "3", "--size", "400", "--as-of", "2027-03-01")


def test_generate_with_faults_writes_the_truth_beside(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "version: 1\nseed: 2\nfaults:\n  missing-gp: {count: 4}\n"
                 "  implausible-bp: {rate: 0.2}\n  register-stale: {}\n")  # fmt: skip
    out = tmp_path / "x.json"
    done = _kcert(
        *GENERATE, "--out", str(out), "--faults", str(plan), "--extract-csv", str(tmp_path / "c")
    )
    assert done.returncode == 0, done.stderr
    assert "planted: implausible-bp" in done.stdout and "missing-gp 4" in done.stdout
    truth = json.loads((tmp_path / "x.truth.json").read_text(encoding="utf-8"))
    assert truth["population"]["file"] == "x.json" and truth["plan"] == str(plan)
    expected = {k: set(v["cprs"]) | set(v.get("clinics", [])) for k, v in truth["faults"].items()}
    assert carriers(read_extract(out), AS_OF) == expected
    assert carriers(read_extract(tmp_path / "c"), AS_OF) == expected
    assert not (tmp_path / "x.csv").exists()  # the cockpit's manual-import CSV is not written
    again = tmp_path / "y.json"
    assert _kcert(*GENERATE, "--out", str(again), "--faults", str(plan)).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_generate_usage_errors(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    done = _kcert(*GENERATE, "--out", str(out), "--truth", str(tmp_path / "t.json"))
    assert done.returncode == 2 and "--truth needs --faults" in done.stdout
    plan = _plan(tmp_path, "version: 1\nseed: 2\nfaults:\n  no-such: {count: 1}\n")
    done = _kcert(*GENERATE, "--out", str(out), "--faults", str(plan))
    assert done.returncode == 2 and f"{plan}:4:" in done.stdout
    plan = _plan(tmp_path, "version: 1\nseed: 2\nfaults:\n  deceased-still-active: {count: 90}\n")
    done = _kcert(*GENERATE, "--out", str(out), "--faults", str(plan))
    assert done.returncode == 2 and "only" in done.stdout
    assert not out.exists()  # nothing half-written
