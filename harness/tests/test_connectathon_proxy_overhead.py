"""measure_overhead returns sane figures (not a timed test: the benchmark judges the 5 ms)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.connectathon.proxy.overhead import WARM_UP, measure_overhead, p95
from harness.tests.connectathon_proxy_kit import sqlite_store


def test_side_by_side_figures() -> None:
    figures = measure_overhead(20)
    assert figures.n == 20
    for value in (
        figures.direct_median_ms,
        figures.direct_p95_ms,
        figures.proxied_median_ms,
        figures.proxied_p95_ms,
    ):
        assert 0 < value < 30_000
    assert figures.direct_median_ms <= figures.direct_p95_ms
    assert figures.proxied_median_ms <= figures.proxied_p95_ms
    assert abs(figures.overhead_median_ms) < 30_000
    assert figures.recorded == 20 + WARM_UP  # every proxied exchange was stored
    assert "overhead median" in figures.describe()


def test_recorded_in_the_store_given(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    try:
        session = store.create_session("Bench", "2026-12-03", "2026-12-04", []).session_id
        measure_overhead(3, store=store, session_id=session, validate=False)
        assert len(store.exchanges(session)) == 3 + WARM_UP
        assert [e.endpoint_id for e in store.endpoints(session)] == ["overhead-target:target"]
    finally:
        store.close()


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"n must be 1\.\.100000, not 0"):
        measure_overhead(0)
    with pytest.raises(ValueError, match="store and session_id go together"):
        measure_overhead(1, session_id="x")


def test_p95_nearest_rank() -> None:
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([3.0]) == 3.0
    assert p95([1.0, 2.0]) == 2.0
