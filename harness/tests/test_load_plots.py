"""The load run's pictures: SVG bytes, reproducible, text kept as text, Danish or English."""

from __future__ import annotations

import re

import pytest

from harness.load import plots
from harness.load.model import CpuSample
from harness.load.stats import LoadStats, read_stats
from harness.tests.load_verdict_data import SAMPLE, slos

STATS = read_stats(SAMPLE)
DRAWINGS = {
    "latency": lambda lang: plots.latency_over_time(STATS, slos(), "plan-create", lang),
    "throughput": lambda lang: plots.throughput_over_time(STATS, 34.0, lang),
    "distribution": lambda lang: plots.latency_distribution(STATS, slos(), lang),
    "users": lambda lang: plots.users_and_workers(
        STATS, [CpuSample(float(t), f"worker-{w}", 30.0) for t in range(5) for w in (1, 2)], 2, lang
    ),
}


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_each_plot_is_a_small_reproducible_svg(name: str) -> None:
    first, again = DRAWINGS[name]("da"), DRAWINGS[name]("da")
    assert first.startswith(b"<?xml") and b"<svg" in first[:500]
    assert first == again  # fixed hash salt, no date
    assert b"<dc:date>" not in first
    assert len(first) < 60_000
    assert b"<text" in first  # svg.fonttype none: labels are text, not glyph paths


@pytest.mark.parametrize(
    ("name", "da", "en"),
    [
        ("latency", "Svartider over tid", "Latency over time"),
        ("throughput", "modellens målrate", "the model's target rate"),
        ("distribution", "Svartidsfordeling pr. operation", "Latency distribution per operation"),
        ("users", "virtuelle brugere", "virtual users"),
    ],
)
def test_labels_in_danish_and_english(name: str, da: str, en: str) -> None:
    assert da.encode() in DRAWINGS[name]("da") and en.encode() not in DRAWINGS[name]("da")
    assert en.encode() in DRAWINGS[name]("en")


def test_the_slo_line_is_drawn_for_an_operation_with_one() -> None:
    svg = plots.latency_over_time(STATS, slos(), "plan-create", "en").decode()
    assert "SLO p95 100 ms" in svg and "SLO p99 200 ms" in svg
    assert "SLO p95" not in plots.latency_over_time(STATS, {}, "plan-create", "en").decode()


def test_the_distribution_names_every_operation() -> None:
    svg = plots.latency_distribution(STATS, slos(), "en").decode()
    for op in ("cockpit-list", "plan-create", "plan-read-minlaege"):
        assert op in svg


def test_no_measurements_says_so() -> None:
    for draw in (
        lambda: plots.latency_over_time(LoadStats.empty(), lang="en"),
        lambda: plots.throughput_over_time(LoadStats.empty(), lang="en"),
        lambda: plots.latency_distribution(LoadStats.empty(), lang="en"),
        lambda: plots.users_and_workers(LoadStats.empty(), lang="en"),
    ):
        assert b"no measurements" in draw()


def test_plotting_leaves_matplotlib_as_it_was() -> None:
    import matplotlib

    before = matplotlib.rcParams["svg.fonttype"], matplotlib.get_backend()
    DRAWINGS["latency"]("en")
    assert (matplotlib.rcParams["svg.fonttype"], matplotlib.get_backend()) == before
    assert re.fullmatch(r"(?i)agg", matplotlib.get_backend())


def test_rates_over_a_window_do_not_zig_zag_with_workers_reports() -> None:
    from harness.load.plots import _rates
    from harness.load.stats import HistoryRow

    # a master whose totals grow in steps of 300 every third second: 100 requests/s in truth
    rows = [
        HistoryRow(1000 + t, 10, "Aggregated", 0.0, 0.0, {}, 300 * (t // 3), 0) for t in range(31)
    ]
    xs, rps, _ = _rates(rows, 1000)
    steady = [rate for x, rate in zip(xs, rps, strict=True) if x >= 10]
    assert steady and all(60 <= rate <= 140 for rate in steady), steady
    # the per-second differences would have alternated between 0 and 300
    assert min(steady) > 0
