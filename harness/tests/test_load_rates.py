"""The workload model's arithmetic, checked against a hand computation of the fixture's figures."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from harness.load.model import (
    COCKPIT_LIST,
    OPERATIONS,
    PLAN_CREATE,
    PLAN_READ_MINLAEGE,
    PLAN_READ_SUNDHED,
    PLAN_SHARE,
    PLAN_UPDATE,
    SHAPES,
    LoadProfile,
    OperationRate,
)
from harness.load.profile import load_profile
from harness.load.rates import derive_rates, model_json, number, render_model
from harness.suitefiles import fixtures_dir

FIXTURES = fixtures_dir() / "load"
NATIONAL = load_profile(FIXTURES / "flp-national.yaml")
DEMO = load_profile(FIXTURES / "flp-demo.yaml")

# By hand, from the fixture's figures (per hour):
HOURS_PER_YEAR = 12 * 21 * 8  # months × working days × working hours
MONTH_FACTOR = 30_000 / (240_000 / 12)  # 1.5
HOUR_FACTOR = 0.2 * 8  # 1.6
IN_VIEW = 240_000 * 1.25 * 2  # 600,000 plans shown (two years)
CLINICS = 1_700 * 0.9  # 1,530 in daily use
NORMAL_H = {
    PLAN_CREATE: 240_000 * 1.25 / HOURS_PER_YEAR,  # 148.8
    PLAN_UPDATE: IN_VIEW * 1 / HOURS_PER_YEAR,  # 297.6
    PLAN_READ_MINLAEGE: IN_VIEW * 0.5 / (21 * 8),  # 1,786
    PLAN_READ_SUNDHED: IN_VIEW * 0.25 / (21 * 8),  # 892.9
    COCKPIT_LIST: CLINICS * 40 / 8,  # 7,650
}
NORMAL_H[PLAN_SHARE] = NORMAL_H[PLAN_CREATE] + NORMAL_H[PLAN_UPDATE]
PEAK_H = {op: rate * MONTH_FACTOR * HOUR_FACTOR for op, rate in NORMAL_H.items()}
PEAK_H[PLAN_CREATE] = 30_000 * 1.25 / 21 / 8 * HOUR_FACTOR  # the peak month's own figure


def rates_of(profile: LoadProfile = NATIONAL) -> dict[str, OperationRate]:
    return {rate.operation: rate for rate in derive_rates(profile).rates}


def test_the_hand_computation_itself() -> None:
    assert MONTH_FACTOR == 1.5
    assert math.isclose(HOUR_FACTOR, 1.6)
    assert math.isclose(NORMAL_H[PLAN_CREATE], 148.81, rel_tol=1e-4)
    assert math.isclose(PEAK_H[PLAN_CREATE], 357.14, rel_tol=1e-4)
    assert math.isclose(NORMAL_H[COCKPIT_LIST] / 3600, 2.125)
    # for plan-create the peak month's own figure and the month factor agree here
    assert math.isclose(PEAK_H[PLAN_CREATE], NORMAL_H[PLAN_CREATE] * MONTH_FACTOR * HOUR_FACTOR)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_rate_is_the_hand_computation(operation: str) -> None:
    rate = rates_of()[operation]
    assert math.isclose(rate.normal_per_s, NORMAL_H[operation] / 3600, rel_tol=1e-9)
    assert math.isclose(rate.peak_per_s, PEAK_H[operation] / 3600, rel_tol=1e-9)
    assert math.isclose(rate.stress_per_s, rate.peak_per_s * 3, rel_tol=1e-12)


def test_stress_is_peak_times_the_factor() -> None:
    profile = replace(NATIONAL, stress_factor=5.0)
    table = derive_rates(profile)
    assert table.stress_factor == 5
    for rate in table.rates:
        assert math.isclose(rate.stress_per_s, rate.peak_per_s * 5)
    assert math.isclose(table.total("stress"), table.total("peak") * 5)


@pytest.mark.parametrize("shape", SHAPES)
def test_weights_sum_to_one(shape: str) -> None:
    weights = derive_rates(NATIONAL).weights(shape)
    assert set(weights) == set(OPERATIONS)
    assert math.isclose(sum(weights.values()), 1.0)
    assert all(w > 0 for w in weights.values())


def test_the_totals() -> None:
    table = derive_rates(NATIONAL)
    assert math.isclose(table.total("normal"), sum(NORMAL_H.values()) / 3600)
    assert math.isclose(table.total("peak"), sum(PEAK_H.values()) / 3600)
    assert 7 < table.total("peak") < 8  # the national peak hour: about 7.5 requests/s
    assert table.total("soak") == table.total("normal")


def test_the_demo_is_the_national_model_scaled() -> None:
    national, demo = rates_of(NATIONAL), rates_of(DEMO)
    for operation in OPERATIONS:
        assert math.isclose(demo[operation].peak_per_s, national[operation].peak_per_s * 12)
    total = derive_rates(DEMO).total("peak")
    assert 50 <= total <= 150  # reachable on loopback with 2 cores
    assert total * 3 <= DEMO.bounds.max_rate_per_s


def test_a_profile_of_one_operation() -> None:
    profile = replace(NATIONAL, operations=(COCKPIT_LIST,))
    table = derive_rates(profile)
    assert [r.operation for r in table.rates] == [COCKPIT_LIST]
    assert table.weights("peak") == {COCKPIT_LIST: 1.0}


def test_a_missing_figure_is_named() -> None:
    figures = {n: f for n, f in NATIONAL.figures.items() if n != "clinics"}
    with pytest.raises(ValueError, match="'clinics'"):
        derive_rates(replace(NATIONAL, figures=figures))


def test_the_arithmetic_shows_each_step() -> None:
    create = rates_of()[PLAN_CREATE].arithmetic
    assert create[0] == (
        "normal: 240,000 plans/year × 1.25 growth / 12 months / 21 working days / 8 h "
        "= 148.8 /h = 0.04134 /s"
    )
    assert create[2] == (
        "peak: 30,000 plans in the peak month × 1.25 growth / 21 working days / 8 h "
        "× 1.6 peak-hour factor = 357.1 /h = 0.09921 /s"
    )
    assert "stress: 0.09921 /s × 3 = 0.2976 /s" in create
    assert any(line.startswith("per clinic (1,530 clinics in daily use)") for line in create)
    cockpit = rates_of()[COCKPIT_LIST].arithmetic
    assert (
        "normal: 1,530 clinics in daily use × 40 queries/clinic/day / 8 h = 7,650 /h = 2.125 /s"
        in cockpit
    )
    demo = rates_of(DEMO)[PLAN_CREATE].arithmetic
    assert "× 12 scale" in demo[0]


def test_numbers_as_a_reader_writes_them() -> None:
    assert number(240_000) == "240,000" and number(240_000, "da") == "240.000"
    assert number(1.25) == "1.25" and number(1.25, "da") == "1,25"
    assert number(0.0413) == "0.0413" and number(3.0) == "3"
    assert number(0.00001234) == "1.23e-05"
    assert number(float("inf")) == "inf"


def test_render_in_danish_and_english() -> None:
    table = derive_rates(NATIONAL)
    da = render_model(NATIONAL, table)
    en = render_model(NATIONAL, table, "en")
    assert da.startswith("Belastningsprofil flp-national 1.0: Forløbsplaner")
    assert en.startswith("Load profile flp-national 1.0: Care plans")
    for text, published, assumption in ((da, "P", "A"), (en, "P", "A")):
        assert f"  {published} plans_created_year" in text
        assert f"  {assumption} growth_new_packages" in text
        assert "more than 30,000 plans created in September 2025" in text  # the note
    assert "Udregning:" in da and "spids: 30.000 planer i spidsmåneden" in da
    assert "Arithmetic:" in en and "peak: 30,000 plans in the peak month" in en
    assert "kcerts antagelse" in da and "kcert's assumption" in en  # the SLOs' source
    # the table: one row per operation plus the total, normal/peak/stress per hour and second
    row = next(line for line in en.splitlines() if line.strip().startswith("cockpit-list "))
    assert row.split()[1:] == ["7,650", "2.125", "18,360", "5.1", "55,080", "15.3", "12"]
    assert "×3 stress/h" in en and "×3 stress/t" in da


def test_the_json_form() -> None:
    data = model_json(NATIONAL, derive_rates(NATIONAL))
    assert data["profile"]["id"] == "flp-national" and len(data["profile"]["sha256"]) == 64
    assert [r["operation"] for r in data["rates"]] == list(OPERATIONS)
    cockpit = next(r for r in data["rates"] if r["operation"] == COCKPIT_LIST)
    assert math.isclose(cockpit["per_clinic_per_h"]["peak"], 12.0)
    assert math.isclose(sum(data["weights"]["peak"].values()), 1.0)
    assert {f["source"] for f in data["figures"]} == {"published", "assumption"}
    assert data["slos"]["cockpit-list"]["p95_ms"] == 100
