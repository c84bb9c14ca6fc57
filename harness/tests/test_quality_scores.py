"""Scores and funnel limits, checked against hand computations."""

from __future__ import annotations

import math

import pytest

from harness.quality.model import (
    Category,
    CheckResult,
    CheckSpec,
    ClinicScore,
    Level,
    Status,
)
from harness.quality.scores import (
    category_scores,
    compare,
    funnel_limits,
    outlier_of,
    score_of,
    status_of,
)


def _spec(check_id: str, category: Category = Category.COMPLETENESS) -> CheckSpec:
    return CheckSpec(check_id, category, Level.PATIENT, "t", "t", "e", "e", 0.05)


def _result(spec: CheckSpec, num: int, den: int, status: Status | None = None) -> CheckResult:
    return CheckResult(spec, "sor", num, den, status or status_of(num, den, spec.threshold))


def test_status_against_the_threshold() -> None:
    assert status_of(0, 0, 0.05) is Status.NOT_APPLICABLE
    assert status_of(5, 100, 0.05) is Status.PASSED  # exactly the tolerated fraction
    assert status_of(6, 100, 0.05) is Status.FAILED
    assert status_of(0, 1, 0.0) is Status.PASSED and status_of(1, 1, 0.0) is Status.FAILED


def test_category_and_clinic_scores_by_hand() -> None:
    a, b = _spec("a", Category.CONFORMANCE), _spec("b", Category.CONFORMANCE)
    c, d = _spec("c", Category.PLAUSIBILITY), _spec("d", Category.PLAUSIBILITY)
    e = _spec("e", Category.PLAUSIBILITY)
    results = [
        _result(a, 0, 10),  # passed
        _result(b, 9, 10),  # failed
        _result(c, 0, 0),  # not applicable: left out
        _result(d, 0, 0, Status.ERROR),  # error: counts as not passed
        _result(e, 1, 100),  # passed
    ]
    # conformance 1 of 2 passed; plausibility 1 of 2 counted (e passed, d error); none at all
    assert category_scores(results) == {
        Category.CONFORMANCE: 50.0,
        Category.PLAUSIBILITY: 50.0,
        Category.COMPLETENESS: None,
    }
    assert score_of(results) == 50.0  # 2 passed of 4 counted
    assert score_of([results[2]]) is None


def test_funnel_limits_by_hand_small_n() -> None:
    # Binomial(20, 0.1): F(4) = 0.956826, F(5) = 0.988747 (P(5) = 0.031921), F(6) = 0.997614,
    # F(7) = 0.999584 (P(7) = 0.001970); F(0) = 0.9^20 = 0.121577.
    # upper 95: r = 5, α = (0.988747 - 0.975) / 0.031921 = 0.43066 → (5 - 0.43066) / 20
    # upper 99.8: r = 7, α = (0.999584 - 0.999) / 0.001970 = 0.2965 → (7 - 0.2965) / 20
    # lower 95 and 99.8: r = 0, α > 0 → below 0 → 0
    lower95, upper95, lower998, upper998 = funnel_limits(20, 0.1)
    assert upper95 == pytest.approx((5 - 0.43066) / 20, abs=1e-5)
    assert upper998 == pytest.approx((7 - 0.2965) / 20, abs=1e-4)
    assert lower95 == lower998 == 0.0
    assert funnel_limits(1, 0.5) == pytest.approx((0.0, 0.95, 0.0, 0.998))


def test_funnel_limits_approach_the_normal_ones_for_large_n() -> None:
    n, p = 10000, 0.2
    sd = math.sqrt(p * (1 - p) / n)
    lower95, upper95, lower998, upper998 = funnel_limits(n, p)
    assert upper95 == pytest.approx(p + 1.959964 * sd, abs=2e-4)
    assert lower95 == pytest.approx(p - 1.959964 * sd, abs=2e-4)
    assert upper998 == pytest.approx(p + 3.090232 * sd, abs=2e-4)
    assert lower998 == pytest.approx(p - 3.090232 * sd, abs=2e-4)
    assert funnel_limits(100, 0.0) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        funnel_limits(0, 0.1)


def test_outlier_flags() -> None:
    limits = (0.1, 0.3, 0.05, 0.4)
    assert [outlier_of(r, limits) for r in (0.2, 0.35, 0.45, 0.07, 0.01)] == [
        "", "above95", "above998", "below95", "below998",
    ]  # fmt: skip


def _clinic(sor: str, cluster: str, result: CheckResult) -> ClinicScore:
    return ClinicScore(sor, sor, f"{sor}.json", cluster=cluster, results=(result,))


def test_compare_by_hand() -> None:
    x = _spec("x")
    clinics = [
        _clinic("A", "nord", _result(x, 5, 50)),
        _clinic("B", "nord", _result(x, 15, 100)),
        _clinic("C", "syd", _result(x, 0, 50)),
        _clinic("D", "syd", _result(x, 0, 0, Status.ERROR)),  # left out of every rate
        _clinic("E", "", _result(x, 0, 0)),  # nothing to judge: left out
    ]
    rows = {c.clinic: c for c in compare(clinics)}
    assert set(rows) == {"A", "B", "C"}
    assert {r.national_rate for r in rows.values()} == {20 / 200}
    assert rows["A"].cluster_rate == rows["B"].cluster_rate == 20 / 150
    assert rows["C"].cluster_rate == 0.0
    # C: Binomial(50, 0.1): F(0) = 0.9^50 = 0.005154, P(1) = 50 · 0.1 · 0.9^49 = 0.028632,
    # F(1) = 0.033786 ≥ 0.025 → lower 95 = (1 - (0.033786 - 0.025) / 0.028632) / 50 = 0.013863;
    # lower 99.8: r = 0 → 0. A rate of 0 is below the 95 % limit, not the 99.8 % one.
    assert rows["C"].lower95 == pytest.approx(0.013863, abs=1e-5)
    assert rows["C"].lower998 == 0.0 and rows["C"].outlier == "below95"
    assert rows["A"].outlier == rows["B"].outlier == ""
    assert rows["A"].rate == 0.1 and rows["A"].denominator == 50
    assert rows["A"].upper95 == funnel_limits(50, 0.1)[1]
    unlabelled = compare([_clinic("F", "", _result(x, 1, 10))])
    assert unlabelled[0].cluster_rate is None and unlabelled[0].national_rate == 0.1
