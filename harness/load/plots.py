"""The pictures of a load run, as SVG bytes (matplotlib, Agg, no pyplot state).

Each function draws one figure from `LoadStats` (and the run's SLOs and target rates) and
returns its SVG. The files are reproducible and small: a fixed `svg.hashsalt` (the ids of
clip paths), text as text (`svg.fonttype: none`) and no creation date. The time axis is
seconds since the first history row. Labels in Danish or English.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec

import matplotlib

matplotlib.use("Agg")  # before anything of matplotlib draws: no display, no GUI toolkit

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.load.model import CpuSample, Slo
from harness.load.stats import AGGREGATED, HistoryRow, LoadStats
from harness.report.svgplot import finish_axes, svg_bytes

_RC: dict[str, Any] = {
    "svg.hashsalt": "kcert-load",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_SIZE = (7.5, 3.2)  # inches: the report's width at 100 dpi

_WORDS: dict[str, dict[str, str]] = {
    "da": {
        "time": "tid (s)",
        "latency": "svartid (ms)",
        "latency_title": "Svartider over tid (percentiler, glidende vindue)",
        "rate": "forespørgsler/s",
        "throughput_title": "Gennemløb og fejl over tid",
        "requests": "forespørgsler/s",
        "failures": "fejl/s",
        "target": "modellens målrate",
        "distribution_title": "Svartidsfordeling pr. operation (percentiler, hele kørslen)",
        "operation": "operation",
        "users_title": "Brugere og workers over tid",
        "users": "virtuelle brugere",
        "workers": "workers",
        "slo": "SLO",
        "no_data": "ingen målinger",
    },
    "en": {
        "time": "time (s)",
        "latency": "latency (ms)",
        "latency_title": "Latency over time (percentiles, sliding window)",
        "rate": "requests/s",
        "throughput_title": "Throughput and errors over time",
        "requests": "requests/s",
        "failures": "failures/s",
        "target": "the model's target rate",
        "distribution_title": "Latency distribution per operation (percentiles, whole run)",
        "operation": "operation",
        "users_title": "Users and workers over time",
        "users": "virtual users",
        "workers": "workers",
        "slo": "SLO",
        "no_data": "no measurements",
    },
}


P = ParamSpec("P")


def _drawn(draw: Callable[P, bytes]) -> Callable[P, bytes]:
    """`draw` with kcert's settings in force from the first artist to the saved SVG."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys as matplotlib spells them
            return draw(*args, **kwargs)

    return wrapper


def _w(lang: str) -> dict[str, str]:
    return _WORDS["en" if lang == "en" else "da"]


@_drawn
def latency_over_time(
    stats: LoadStats,
    slos: Mapping[str, Slo] | None = None,
    name: str = AGGREGATED,
    lang: str = "da",
) -> bytes:
    """p50/p95/p99 of `name` (an operation id or the aggregate) per second, with its SLO
    lines when `name` has one."""
    w = _w(lang)
    fig, ax = _figure()
    rows = stats.history_of(name)
    t0 = _t0(stats)
    for key, label in (("50%", "p50"), ("95%", "p95"), ("99%", "p99")):
        points = [(r.at - t0, r.percentiles.get(key)) for r in rows]
        xs = [x for x, y in points if y is not None]
        ys = [y for _x, y in points if y is not None]
        if xs:
            ax.plot(xs, ys, label=label, linewidth=1.4)
    slo = (slos or {}).get(name)
    if slo is not None:
        for value, label in ((slo.p95_ms, "p95"), (slo.p99_ms, "p99")):
            if value is not None:
                ax.axhline(value, linestyle="--", linewidth=1, color="#8a1414")
                # x in axes fractions, y in data: the label sits at the line's left end
                ax.text(
                    0.01,
                    value,
                    f"{w['slo']} {label} {value:.0f} ms",
                    transform=ax.get_yaxis_transform(),
                    fontsize=7,
                    color="#8a1414",
                    va="bottom",
                )
    ax.set_title(f"{w['latency_title']} — {name}")
    ax.set_xlabel(w["time"])
    ax.set_ylabel(w["latency"])
    _finish(ax, w, bool(rows))
    return _svg(fig)


@_drawn
def throughput_over_time(
    stats: LoadStats, target_per_s: float | None = None, lang: str = "da"
) -> bytes:
    """The aggregate's requests and failures per second, from the cumulative counts (the
    window rates lag), with the model's target rate."""
    w = _w(lang)
    fig, ax = _figure()
    rows = stats.history_of(AGGREGATED)
    t0 = _t0(stats)
    xs, rps, fps = _rates(rows, t0)
    if xs:
        ax.plot(xs, rps, label=w["requests"], linewidth=1.4, color="#2b5d8a")
        ax.plot(xs, fps, label=w["failures"], linewidth=1.4, color="#8a1414")
    if target_per_s:
        ax.axhline(target_per_s, linestyle="--", linewidth=1, color="#155b15", label=w["target"])
    ax.set_title(w["throughput_title"])
    ax.set_xlabel(w["time"])
    ax.set_ylabel(w["rate"])
    _finish(ax, w, bool(xs))
    return _svg(fig)


@_drawn
def latency_distribution(
    stats: LoadStats, slos: Mapping[str, Slo] | None = None, lang: str = "da"
) -> bytes:
    """Per operation, a box from its whole-run percentiles: whiskers min–p99, box p50–p95, the
    median marked; its p95 SLO as a red tick."""
    w = _w(lang)
    fig, ax = _figure()
    names = sorted(stats.operations)
    boxes = []
    for op in names:
        s = stats.operations[op]
        p = s.percentiles
        boxes.append(
            {
                "label": op,
                "whislo": s.min_ms or 0.0,
                "q1": p.get("50%") or 0.0,
                "med": p.get("50%") or 0.0,
                "q3": p.get("95%") or 0.0,
                "whishi": p.get("99%") or 0.0,
                "fliers": [],
            }
        )
    if boxes:
        ax.bxp(boxes, orientation="horizontal", showfliers=False)
        for i, op in enumerate(names, start=1):
            slo = (slos or {}).get(op)
            if slo is not None and slo.p95_ms is not None:
                ax.plot([slo.p95_ms], [i], marker="|", markersize=14, color="#8a1414")
    ax.set_title(w["distribution_title"])
    ax.set_xlabel(w["latency"])
    _finish(ax, w, bool(boxes), legend=False)
    return _svg(fig)


@_drawn
def users_and_workers(
    stats: LoadStats, cpu: Sequence[CpuSample] = (), workers: int = 0, lang: str = "da"
) -> bytes:
    """Virtual users per second and, on the right axis, the workers that reported (from the
    generator's CPU samples; the planned count when there are none)."""
    w = _w(lang)
    fig, ax = _figure()
    rows = stats.history_of(AGGREGATED)
    t0 = _t0(stats)
    xs = [r.at - t0 for r in rows]
    ax.step(xs, [r.users for r in rows], where="post", label=w["users"], color="#2b5d8a")
    ax.set_ylabel(w["users"])
    right = ax.twinx()
    right.grid(False)
    seen: dict[float, set[str]] = {}
    for sample in cpu:
        if sample.process.startswith("worker"):
            seen.setdefault(round(sample.at_s), set()).add(sample.process)
    if seen:
        at = sorted(seen)
        right.step(
            at, [len(seen[a]) for a in at], where="post", color="#7a5a00", label=w["workers"]
        )
    elif xs:
        right.step(
            [xs[0], xs[-1]], [workers, workers], where="post", color="#7a5a00", label=w["workers"]
        )
    right.set_ylabel(w["workers"])
    right.set_ylim(0, max([workers, *(len(v) for v in seen.values())]) + 1)
    ax.set_title(w["users_title"])
    ax.set_xlabel(w["time"])
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    if xs:
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right", fontsize=7)
    _finish(ax, w, bool(xs), legend=False)
    return _svg(fig)


RATE_WINDOW_S = 5  # workers report to the master every few seconds: per-second steps zig-zag


def _rates(rows: list[HistoryRow], t0: int) -> tuple[list[float], list[float], list[float]]:
    """Rates from the cumulative totals over a sliding window of RATE_WINDOW_S seconds.

    With workers, the master's totals grow in steps when a worker's report arrives, so the
    difference of two consecutive seconds alternates between nothing and a burst; a window a
    little longer than the report interval shows the rate the service actually saw."""
    xs: list[float] = []
    rps: list[float] = []
    fps: list[float] = []
    start = 0
    for row in rows:
        while start < len(rows) - 1 and row.at - rows[start + 1].at >= RATE_WINDOW_S:
            start += 1
        before = rows[start]
        dt = row.at - before.at
        if dt <= 0:
            continue
        xs.append(row.at - t0)
        rps.append(max(0, row.total_requests - before.total_requests) / dt)
        fps.append(max(0, row.total_failures - before.total_failures) / dt)
    return xs, rps, fps


def _t0(stats: LoadStats) -> int:
    return min((r.at for r in stats.history), default=0)


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=_SIZE, dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _finish(ax: Axes, w: dict[str, str], has_data: bool, legend: bool = True) -> None:
    finish_axes(ax, w["no_data"], has_data, legend, where="upper left")


def _svg(fig: Figure) -> bytes:
    return svg_bytes(fig)
