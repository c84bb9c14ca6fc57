"""Each check fires on one small planted fault and stays quiet on the clean extract; the
engine's statuses (error, not applicable), its bounded lists, the data-age histogram and
score_all."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.population.extract import read_extract_data
from harness.population.extractgen import generate_extract
from harness.population.facts import ConditionFact, Extract, ObservationFact, PatientFact
from harness.population.faults import BY_ID, Rate, plant
from harness.quality import checks, engine
from harness.quality.catalogue import DEFAULT_CATALOGUE, load_catalogue
from harness.quality.engine import QualityInputError, data_age, evaluate, score_all
from harness.quality.model import Catalogue, Status
from harness.quality.tables import tables_of

SOR = "999991000016008"
AS_OF = dt.date(2027, 3, 1)
CATALOGUE = load_catalogue()
CLEAN = generate_extract(5, 300, AS_OF, SOR).bundle


def _entries(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _uncode_medication(bundle: dict[str, Any]) -> None:
    _entries(bundle, "MedicationStatement")[0]["medicationCodeableConcept"] = {"text": "Spiriva"}


def _drop_status(bundle: dict[str, Any]) -> None:
    del _entries(bundle, "Condition")[0]["clinicalStatus"]


def _drop_value(bundle: dict[str, Any]) -> None:
    quantity = next(o for o in _entries(bundle, "Observation") if "valueQuantity" in o)
    del quantity["valueQuantity"]


# checks with no planted fault kind: a hand edit makes one patient carry it
EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "medication-uncoded": _uncode_medication,
    "condition-without-status": _drop_status,
    "observation-without-value": _drop_value,
}


STRICT = replace(CATALOGUE, checks=tuple(replace(c, threshold=0.0) for c in CATALOGUE.checks))


def _score(bundle: dict[str, Any], catalogue: Catalogue = CATALOGUE) -> dict[str, Any]:
    score = evaluate(read_extract_data(bundle, "small"), catalogue, as_of=AS_OF)
    return {r.check.id: r for r in score.results}


CLEAN_RESULTS = _score(CLEAN)


@pytest.mark.parametrize("check_id", [c.id for c in CATALOGUE.checks])
def test_each_check_fires_on_one_fault(check_id: str) -> None:
    bundle = copy.deepcopy(CLEAN)
    if check_id in EDITS:
        EDITS[check_id](bundle)
    else:
        plant(bundle, {check_id: Rate(count=1)}, 3)
    result = _score(bundle, STRICT)[check_id]  # thresholds 0: one patient fails the check
    assert result.status is Status.FAILED, result
    assert result.numerator == 1 == len(result.failing)
    assert result.failing[0].detail
    if BY_ID.get(check_id) and BY_ID[check_id].level == "clinic":
        assert result.failing[0].cpr == "" and result.denominator == 1
    else:
        assert result.failing[0].cpr and result.failing[0].resource_ids


@pytest.mark.parametrize("check_id", [c.id for c in CATALOGUE.checks])
def test_each_check_is_quiet_on_the_clean_extract(check_id: str) -> None:
    result = CLEAN_RESULTS[check_id]
    assert result.status is Status.PASSED and result.numerator == 0 and result.failing == ()
    assert result.denominator > 0


def test_a_check_that_raises_is_an_error_result(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> checks.Outcome:
        raise RuntimeError("boom")

    monkeypatch.setitem(checks.TYPES, "unit", broken)
    results = _score(CLEAN)
    assert results["unit-mismatch"].status is Status.ERROR
    assert results["unit-mismatch"].reason == "RuntimeError: boom"
    assert results["implausible-bp"].status is Status.PASSED


def test_nothing_to_judge_is_not_applicable() -> None:
    bundle = copy.deepcopy(CLEAN)
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationStatement"
    ]
    result = _score(bundle)["inhaler-without-copd"]
    assert result.status is Status.NOT_APPLICABLE and result.denominator == 0
    assert "nothing the check applies to" in result.reason and "ingen" in result.reason


def test_the_failing_list_is_bounded_the_count_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = copy.deepcopy(CLEAN)
    plant(bundle, {"missing-gp": Rate(count=5)}, 1)
    monkeypatch.setattr(engine, "MAX_LISTED", 2)
    result = _score(bundle)["missing-gp"]
    assert result.numerator == 5 and len(result.failing) == 2


def _patient(cpr: str) -> PatientFact:
    return PatientFact("urn:p", cpr, "A", "B", dt.date(1960, 1, 1), "female", True, False, None,
                       SOR, 1)  # fmt: skip


def _obs(i: int, day: dt.date) -> ObservationFact:
    npu = "urn:oid:1.2.208.176.2.1"
    return ObservationFact(f"urn:o{i}", "0101609901", npu, "DNK05472", "", ((npu, "DNK05472"),),
                           day, "quantity", 120.0, "", "mmHg")  # fmt: skip


def test_the_data_age_histogram_by_hand() -> None:
    days = [dt.date(2027, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2022, 1, 1),
            dt.date(2027, 4, 1)]  # fmt: skip
    extract = Extract("hand", SOR, "Klinik", AS_OF, AS_OF, patients=[_patient("0101609901")])
    extract.observations = [_obs(i, d) for i, d in enumerate(days)]
    icpc = "urn:oid:1.2.208.176.2.31"
    extract.conditions = [ConditionFact("urn:c", "0101609901", icpc, "R95", "", ((icpc, "R95"),),
                                        "active", dt.date(2024, 6, 1))]  # fmt: skip
    # 2027-02-28 and 2026-03-02: under a year; 2026-03-01: one year to the day; 2024-06-01: 2;
    # 2022-01-01: 5 or more; 2027-04-01: after the as-of date
    assert data_age(tables_of(extract), AS_OF) == (
        ("future", 1), ("0", 2), ("1", 1), ("2", 1), ("3", 0), ("4", 0), ("5+", 1),
    )  # fmt: skip
    score = evaluate(extract, CATALOGUE, as_of=AS_OF)
    assert dict(score.data_age)["0"] == 2


def test_score_all_needs_an_as_of_date_and_reports_progress() -> None:
    extract = read_extract_data(copy.deepcopy(CLEAN), "a.json")
    undated = read_extract_data(copy.deepcopy(CLEAN), "b.json")
    undated.as_of = None
    with pytest.raises(QualityInputError, match=r"b\.json"):
        score_all([(extract, "a.json", "", ""), (undated, "b.json", "", "")], CATALOGUE, as_of=None)
    seen: list[tuple[int, int]] = []
    run = score_all(
        [(extract, "a.json", "V1", "nord"), (undated, "b.json", "V2", "nord")],
        CATALOGUE,
        as_of=AS_OF,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
    assert [c.vendor for c in run.clinics] == ["V1", "V2"] and run.engine.startswith("polars ")
    assert run.comparisons and {c.cluster_rate for c in run.comparisons} == {0.0}


def test_score_all_takes_extracts_one_at_a_time_from_an_iterator() -> None:
    read: list[str] = []

    def one_by_one(names: list[str], dated: bool = True) -> Iterator[tuple[Extract, str, str, str]]:
        for name in names:
            read.append(name)
            extract = read_extract_data(copy.deepcopy(CLEAN), name)
            if not dated:
                extract.as_of = None
            yield extract, name, "", ""

    seen: list[tuple[int, int]] = []
    run = score_all(
        one_by_one(["a.json", "b.json"]),
        CATALOGUE,
        as_of=None,
        total=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert [c.source for c in run.clinics] == ["a.json", "b.json"] and seen == [(1, 2), (2, 2)]
    read.clear()
    with pytest.raises(QualityInputError, match=r"c\.json"):
        score_all(one_by_one(["c.json", "d.json"], dated=False), CATALOGUE, as_of=None)
    assert read == ["c.json"]  # stopped at the first undated extract, the next never read


def test_a_new_check_of_a_known_type_is_yaml_only(tmp_path: Path) -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    text += """
  - id: low-systolic
    type: value-range
    category: plausibility
    level: patient
    threshold: 0.5
    title: {da: Lavt systolisk blodtryk, en: Low systolic blood pressure}
    explanation: {da: Under 110 mmHg., en: Below 110 mmHg.}
    params: {system: npu, code: DNK05472, low: 110, high: 300}
    distorts:
      - {target: kol-blodtryk-over-150, da: Ingen., en: None.}
"""
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    extract = read_extract_data(copy.deepcopy(CLEAN), "x")
    result = evaluate(extract, load_catalogue(path), as_of=AS_OF).results[-1]
    low = {o.cpr for o in extract.observations if o.code == "DNK05472" and (o.number or 0) < 110}
    assert result.check.id == "low-systolic" and {f.cpr for f in result.failing} == low != set()
