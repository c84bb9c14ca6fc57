"""The proof: each check of the catalogue finds exactly the planted patients, no more, no fewer.

On generated clinic extracts with every fault kind planted (`harness.population.faults`, the
truth recorded), for two seeds, through the JSON and the CSV form; on the hand-written fixture;
each kind alone; and a clean extract passes every check. A check whose id is a fault kind must
find exactly that kind's CPRs (the clinic's SOR for a clinic-level kind); any other check must
find nobody (nothing plants its fault).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures import FIXTURES_DIR
from harness.population.extract import read_extract, read_extract_data
from harness.population.extractcsv import write_extract_csv
from harness.population.extractgen import generate_extract
from harness.population.facts import Extract
from harness.population.faults import BY_ID, KIND_IDS, Rate, Truth, plant
from harness.quality.catalogue import load_catalogue
from harness.quality.engine import MAX_LISTED, evaluate
from harness.quality.model import Catalogue, ClinicScore, Level, Status

SOR = "999991000016008"
AS_OF = dt.date(2027, 3, 1)
HAND = FIXTURES_DIR / "populations" / "quality-hand-written.json"
HAND_TRUTH = FIXTURES_DIR / "populations" / "quality-hand-written.truth.json"
CATALOGUE = load_catalogue()


def found(score: ClinicScore) -> dict[str, set[str]]:
    """Check id → the CPRs it failed (the clinic's SOR for a failed clinic-level check)."""
    out = {}
    for r in score.results:
        assert r.status is not Status.ERROR, (r.check.id, r.reason)
        assert r.numerator == len(r.failing) < MAX_LISTED  # every one listed at these sizes
        if r.check.level is Level.CLINIC:
            out[r.check.id] = {score.clinic} if r.numerator else set()
        else:
            out[r.check.id] = {f.cpr for f in r.failing}
    return out


def expected(truth: dict[str, set[str]], catalogue: Catalogue = CATALOGUE) -> dict[str, set[str]]:
    return {c.id: truth.get(c.id, set()) for c in catalogue.checks}


def truth_sets(truth: Truth) -> dict[str, set[str]]:
    return {k: set(truth.cprs.get(k, [])) | set(truth.clinics.get(k, [])) for k in KIND_IDS}


def test_every_fault_kind_has_its_check() -> None:
    ids = {c.id for c in CATALOGUE.checks}
    assert set(KIND_IDS) <= ids
    for kind in KIND_IDS:
        check = next(c for c in CATALOGUE.checks if c.id == kind)
        assert check.level.value == BY_ID[kind].level


def _planted(seed: int, size: int = 1500) -> tuple[dict[str, Any], Truth]:
    made = generate_extract(seed, size, AS_OF, SOR)
    truth = plant(made.bundle, {k: Rate(rate=0.08) for k in KIND_IDS}, seed + 100)
    return made.bundle, truth


@pytest.fixture(scope="module", params=[7, 11])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    bundle, truth = _planted(request.param)
    folder = tmp_path_factory.mktemp(f"planted{request.param}")
    path = folder / "x.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path, truth


@pytest.mark.parametrize("form", ["json", "csv"])
def test_every_check_finds_exactly_the_planted_patients(
    planted: tuple[Path, Truth], form: str, tmp_path: Path
) -> None:
    path, truth = planted
    extract = read_extract(path)
    if form == "csv":
        write_extract_csv(extract, tmp_path / "csv")
        extract = read_extract(tmp_path / "csv")
    score = evaluate(extract, CATALOGUE, as_of=AS_OF, source=str(path))
    want = expected(truth_sets(truth))
    assert all(want[k] for k in KIND_IDS), "every kind was planted"
    got = found(score)
    wrong = {
        k: (sorted(got[k] - want[k]), sorted(want[k] - got[k])) for k in want if got[k] != want[k]
    }
    assert wrong == {}, "check: (found but not planted, planted but not found)"
    failed = {r.check.id for r in score.results if r.status is Status.FAILED}
    assert failed <= set(KIND_IDS)  # only the planted kinds fail (8 % is above most thresholds)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_each_kind_alone_is_found_by_its_check_only(kind: str) -> None:
    made = generate_extract(5, 500, AS_OF, SOR)
    count = 1 if BY_ID[kind].level == "clinic" else 2
    truth = plant(made.bundle, {kind: Rate(count=count)}, 9)
    extract = read_extract_data(made.bundle, "generated")
    got = found(evaluate(extract, CATALOGUE, as_of=AS_OF))
    assert got == expected(truth_sets(truth))
    assert len(got[kind]) == count


@pytest.mark.parametrize(("seed", "as_of"), [(1, AS_OF), (2, dt.date(2028, 2, 29))])
def test_a_clean_extract_passes_every_check(seed: int, as_of: dt.date) -> None:
    made = generate_extract(seed, 1500, as_of, SOR)
    extract: Extract = read_extract_data(made.bundle, "clean")
    score = evaluate(extract, CATALOGUE, as_of=as_of)
    assert {r.check.id: r.status for r in score.results if r.status is not Status.PASSED} == {}
    assert all(r.numerator == 0 and r.denominator > 0 for r in score.results)
    assert score.score == 100.0 and set(score.category_scores.values()) == {100.0}


def test_the_hand_written_extract() -> None:
    data = json.loads(HAND_TRUTH.read_text(encoding="utf-8"))
    truth = {k: set(v["cprs"]) | set(v.get("clinics", [])) for k, v in data["faults"].items()}
    score = evaluate(read_extract(HAND), CATALOGUE, as_of=AS_OF)
    assert found(score) == expected(truth)


def test_the_proof_would_catch_a_check_that_finds_too_many(tmp_path: Path) -> None:
    """A range tighter than the clean generation's margins (BP 105-175) finds unplanted
    patients: set equality with the truth fails, as it must."""
    assert CATALOGUE.path is not None
    text = CATALOGUE.path.read_text(encoding="utf-8")
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        text.replace("code: DNK05472, low: 40, high: 300}", "code: DNK05472, low: 40, high: 170}"),
        encoding="utf-8",
    )
    bundle, truth = _planted(7)
    got = found(evaluate(read_extract_data(bundle, "x"), load_catalogue(tight), as_of=AS_OF))
    assert got["implausible-bp"] > truth_sets(truth)["implausible-bp"]  # more than planted


def test_an_empty_extract_is_not_applicable_but_for_the_register() -> None:
    score = evaluate(Extract("empty", SOR, "Klinik", AS_OF), CATALOGUE, as_of=AS_OF)
    statuses = {r.check.id: r.status for r in score.results}
    assert statuses.pop("register-stale") is Status.FAILED  # no register date at all
    assert set(statuses.values()) == {Status.NOT_APPLICABLE}
    assert score.score == 0.0 and dict(score.data_age) == dict.fromkeys(
        ("0", "1", "2", "3", "4", "5+"), 0
    )
