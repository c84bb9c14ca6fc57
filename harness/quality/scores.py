"""Scores: a check's status, the category and clinic scores, and the comparison across clinics.

- Status: not applicable when the denominator is 0 (nothing to judge); passed when the rate
  (numerator / denominator) is at most the check's threshold (the tolerated failing fraction);
  failed above it. An error is set by the engine, never here.
- Category score and clinic score (0..100): 100 × passed / (passed + failed + error) over the
  checks of the category (of the clinic); not-applicable checks are left out, an error counts
  as not passed (kcert could not show the data is good); None when no check counts.
- Comparison (`compare`): for each check and each clinic with a denominator, the clinic's rate
  beside its cluster's (pooled: Σ numerators / Σ denominators of the clinics with the same
  non-empty cluster label) and the nation's (pooled over every clinic), with funnel limits
  around the national rate p for the clinic's own denominator n: exact binomial control limits
  interpolated as in Spiegelhalter (2005, "Funnel plots for comparing institutional
  performance", Stat Med 24:1185): for a tail probability q, r is the smallest count with
  F(r) ≥ q (F the Binomial(n, p) CDF), α = (F(r) − q) / P(X = r), and the limit is
  (r − α) / n, clamped to 0..1. 95 % limits are q = 0.025 / 0.975, 99.8 % q = 0.001 / 0.999.
  A rate above the upper 99.8 % limit is "above998", else above the upper 95 % "above95"
  (below likewise); a small clinic's wide limits keep chance from flagging it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

from harness.quality.model import Category, CheckResult, ClinicScore, Comparison, Status

TAILS = (0.025, 0.975, 0.001, 0.999)  # lower95, upper95, lower998, upper998
_SPAN_SD = 12.0  # the binomial mass more than 12 sd from the mean is below 1e-30: not walked


def status_of(numerator: int, denominator: int, threshold: float) -> Status:
    if denominator == 0:
        return Status.NOT_APPLICABLE
    return Status.PASSED if numerator / denominator <= threshold else Status.FAILED


def score_of(results: Iterable[CheckResult]) -> float | None:
    counted = [r for r in results if r.status is not Status.NOT_APPLICABLE]
    if not counted:
        return None
    passed = sum(r.status is Status.PASSED for r in counted)
    return 100.0 * passed / len(counted)


def category_scores(results: Sequence[CheckResult]) -> dict[Category, float | None]:
    return {c: score_of(r for r in results if r.check.category is c) for c in Category}


@lru_cache(maxsize=65536)
def funnel_limits(n: int, p: float) -> tuple[float, float, float, float]:
    """(lower95, upper95, lower998, upper998) as rates, for denominator n around rate p."""
    if n <= 0:
        raise ValueError("a funnel limit needs a denominator of at least 1")
    if p <= 0.0 or p >= 1.0:
        return (p, p, p, p)
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    low = max(0, math.floor(mean - _SPAN_SD * sd))
    high = min(n, math.ceil(mean + _SPAN_SD * sd))
    log_pmf = (
        math.lgamma(n + 1) - math.lgamma(low + 1) - math.lgamma(n - low + 1)
        + low * math.log(p) + (n - low) * math.log1p(-p)
    )  # fmt: skip
    pmf = math.exp(log_pmf)
    ratio = p / (1 - p)
    cdf = 0.0
    limits: dict[float, float] = {}
    pending = sorted(TAILS)
    for r in range(low, high + 1):
        cdf += pmf
        while pending and cdf >= pending[0]:
            q = pending.pop(0)
            alpha = (cdf - q) / pmf if pmf > 0 else 0.0
            limits[q] = min(1.0, max(0.0, (r - alpha) / n))
        if not pending:
            break
        pmf *= (n - r) / (r + 1) * ratio
    for q in pending:  # rounding left the walk short of a tail: the range's end
        limits[q] = high / n
    return (limits[0.025], limits[0.975], limits[0.001], limits[0.999])


def outlier_of(rate: float, limits: tuple[float, float, float, float]) -> str:
    lower95, upper95, lower998, upper998 = limits
    if rate > upper998:
        return "above998"
    if rate > upper95:
        return "above95"
    if rate < lower998:
        return "below998"
    if rate < lower95:
        return "below95"
    return ""


def _pooled(results: Iterable[CheckResult]) -> float | None:
    num = den = 0
    for r in results:
        num += r.numerator
        den += r.denominator
    return num / den if den else None


def compare(clinics: Sequence[ClinicScore]) -> tuple[Comparison, ...]:
    """Each clinic's rate on each check against its cluster's and the nation's (see above)."""
    by_check: dict[str, list[tuple[ClinicScore, CheckResult]]] = defaultdict(list)
    for clinic in clinics:
        for result in clinic.results:
            if result.status is not Status.ERROR and result.denominator > 0:
                by_check[result.check.id].append((clinic, result))
    out: list[Comparison] = []
    for check_id, rows in by_check.items():
        national = _pooled(r for _, r in rows)
        clusters: dict[str, float | None] = {}
        for name in {c.cluster for c, _ in rows if c.cluster}:
            clusters[name] = _pooled(r for c, r in rows if c.cluster == name)
        for clinic, result in rows:
            rate = result.numerator / result.denominator
            limits = funnel_limits(result.denominator, national) if national is not None else None
            out.append(
                Comparison(
                    check_id=check_id,
                    clinic=clinic.clinic,
                    numerator=result.numerator,
                    denominator=result.denominator,
                    rate=rate,
                    cluster_rate=clusters.get(clinic.cluster) if clinic.cluster else None,
                    national_rate=national,
                    lower95=limits[0] if limits else None,
                    upper95=limits[1] if limits else None,
                    lower998=limits[2] if limits else None,
                    upper998=limits[3] if limits else None,
                    outlier=outlier_of(rate, limits) if limits else "",
                )
            )
    return tuple(out)
