"""The pictures of a data-quality run, as SVG bytes (matplotlib, Agg, no pyplot state).

Three figures: a clinic's failing rate per check against its threshold, the funnel plot of
every clinic's rate on one check against its denominator with the 95 % and 99.8 % limits
around the national rate (so a small clinic is not flagged by chance), and a clinic's data age
histogram. The files are reproducible and small: a fixed `svg.hashsalt`, text as text
(`svg.fonttype: none`, so the titles are text in the PDF too) and no creation date.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before anything of matplotlib draws: no display, no GUI toolkit

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.quality.model import ClinicScore, QualityRun, Status
from harness.quality.report.words import words
from harness.report.svgplot import finish_axes, svg_bytes

_RC: dict[str, Any] = {
    "svg.hashsalt": "kcert-quality",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_WIDTH = 7.5  # inches: the report's width at 100 dpi
_COLOUR = {
    Status.PASSED: "#2e7d32",
    Status.FAILED: "#c62828",
    Status.ERROR: "#6a1b9a",
    Status.NOT_APPLICABLE: "#9e9e9e",
}
Z95 = 1.959964  # two-sided 95 %
Z998 = 3.090232  # two-sided 99.8 %


class _Drawn:
    """A figure drawn once and updated per clinic: the checks (rows) and age bins are the
    catalogue's, the same for every clinic, and building a figure costs as much as saving it
    — a run of 500 clinics saves a thousand."""

    def __init__(self, fig: Figure, ax: Axes, bars: Any, extra: Any = None) -> None:
        self.fig, self.ax, self.bars, self.extra = fig, ax, bars, extra


_DRAWN: dict[tuple[object, ...], _Drawn] = {}
_MAX_DRAWN = 8  # kinds × languages × catalogues in one process


def _kept(key: tuple[object, ...], make: Callable[[], _Drawn]) -> _Drawn:
    if key not in _DRAWN:
        if len(_DRAWN) >= _MAX_DRAWN:
            _DRAWN.clear()
        _DRAWN[key] = make()
    return _DRAWN[key]


def rates_against_thresholds(clinic: ClinicScore, lang: str) -> bytes:
    """One bar per check (its failing rate), the threshold a black tick on the same row; a
    check without a rate (not applicable, an error) a row without a bar, its label grey."""
    w = words(lang)
    results = list(clinic.results)
    if not results:
        return _empty(w, "rates_title")
    ids = tuple(r.check.id for r in results)
    thresholds = tuple(r.check.threshold for r in results)
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys as matplotlib spells them
        drawn = _kept(("rates", lang, ids, thresholds), lambda: _rates_figure(w, ids, thresholds))
        rates = [r.rate or 0.0 for r in results]
        for bar, result, rate in zip(drawn.bars, results, rates, strict=True):
            bar.set_width(rate)
            bar.set_color(_COLOUR[result.status])
        for label, result in zip(drawn.ax.get_yticklabels(), results, strict=True):
            label.set_color("black" if result.rate is not None else "#9e9e9e")
        top = max([*rates, *thresholds, 0.01])
        drawn.ax.set_xlim(0, min(1.0, top * 1.15))
        return _svg(drawn.fig)


def _rates_figure(w: dict[str, str], ids: tuple[str, ...], thresholds: tuple[float, ...]) -> _Drawn:
    longest = max(len(i) for i in ids)
    fig, ax = _figure(max(1.6, 0.22 * len(ids) + 0.9), left=0.25 + 0.065 * longest)
    ys = list(range(len(ids)))
    bars = ax.barh(ys, [0.0] * len(ids), height=0.6)
    ax.scatter(
        list(thresholds), ys, marker="|", s=160, color="black", label=w["threshold_mark"], zorder=3
    )
    ax.set_yticks(ys, list(ids), fontsize=7)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_percent_formatter())
    ax.set_xlabel(w["rates_x"])
    ax.set_title(w["rates_title"])
    _finish(ax, w, True)
    return _Drawn(fig, ax, bars)


def _empty(w: dict[str, str], title: str) -> bytes:
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys as matplotlib spells them
        fig, ax = _figure(1.6)
        ax.set_title(w[title])
        _finish(ax, w, False)
        return _svg(fig)


def funnel(run: QualityRun, check_id: str, lang: str, title: str = "") -> bytes:
    """Every clinic's rate on `check_id` against its denominator, with binomial funnel limits
    (normal approximation) around the national rate."""
    w = words(lang)
    points = [
        (r.denominator, r.numerator / r.denominator, c.clinic)
        for c in run.clinics
        for r in c.results
        if r.check.id == check_id and r.denominator > 0
    ]
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys as matplotlib spells them
        fig, ax = _figure(3.2)
        if points:
            total_n = sum(n for n, _, _ in points)
            p = sum(n * rate for n, rate, _ in points) / total_n
            high = max(n for n, _, _ in points)
            ns = _grid(max(1, min(n for n, _, _ in points) // 2), int(high * 1.2) + 1)
            ax.axhline(p, color="black", linewidth=1, label=w["funnel_national"])
            for z, style, key in ((Z95, "--", "funnel_95"), (Z998, ":", "funnel_998")):
                upper = [min(1.0, p + z * math.sqrt(p * (1 - p) / n)) for n in ns]
                lower = [max(0.0, p - z * math.sqrt(p * (1 - p) / n)) for n in ns]
                ax.plot(ns, upper, style, color="#1565c0", linewidth=1, label=w[key])
                ax.plot(ns, lower, style, color="#1565c0", linewidth=1)
            ax.scatter(
                [n for n, _, _ in points],
                [rate for _, rate, _ in points],
                s=14,
                color="#c62828",
                zorder=3,
                label=w["funnel_clinics"],
            )
            if len(points) <= 12:  # few clinics: name them; many would be a smear of labels
                for n, rate, sor in points:
                    ax.annotate(
                        sor, (n, rate), fontsize=6, xytext=(3, 3), textcoords="offset points"
                    )
            limit = p + Z998 * math.sqrt(p * (1 - p) / ns[0])  # the limits where the plot starts
            top = max(max(rate for _, rate, _ in points) * 1.15, limit * 1.05, 0.01)
            ax.set_ylim(0, min(1.0, top))
        ax.yaxis.set_major_formatter(_percent_formatter())
        ax.set_xlabel(w["funnel_x"])
        ax.set_ylabel(w["funnel_y"])
        ax.set_title(w["funnel_title"].format(check=title or check_id))
        _finish(ax, w, bool(points))
        return _svg(fig)


def data_age(clinic: ClinicScore, lang: str) -> bytes:
    """The clinic's records by age in whole years before the as-of day."""
    w = words(lang)
    bins = list(clinic.data_age)
    if not bins:
        return _empty(w, "age_title")
    labels = tuple(label for label, _ in bins)
    counts = [count for _, count in bins]
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys as matplotlib spells them
        drawn = _kept(("age", lang, labels), lambda: _age_figure(w, labels))
        for bar, count in zip(drawn.bars, counts, strict=True):
            bar.set_height(count)
        drawn.ax.set_ylim(0, max(1, max(counts)) * 1.05)
        return _svg(drawn.fig)


def _age_figure(w: dict[str, str], labels: tuple[str, ...]) -> _Drawn:
    fig, ax = _figure(2.6)
    xs = list(range(len(labels)))
    bars = ax.bar(xs, [0] * len(labels), color="#1565c0")
    ax.set_xticks(xs, list(labels))
    ax.set_xlabel(w["age_x"])
    ax.set_ylabel(w["age_y"])
    ax.set_title(w["age_title"])
    return _Drawn(fig, ax, bars)


def _grid(low: int, high: int, count: int = 120) -> list[float]:
    """`count` denominators spread evenly on a log scale (the funnel bends most at small n)."""
    low, high = max(1, low), max(low + 1, high)
    step = (math.log(high) - math.log(low)) / (count - 1)
    return [math.exp(math.log(low) + i * step) for i in range(count)]


def _percent_formatter() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=None)  # None: as many as the ticks need


def _figure(height: float, left: float = 0.9) -> tuple[Figure, Axes]:
    """A figure with fixed margins in inches (`left` for the y labels): constrained layout
    would fit them to the text but costs more than the drawing, and a run of 500 clinics
    draws a thousand figures."""
    fig = Figure(figsize=(_WIDTH, height), dpi=100)
    fig.subplots_adjust(
        left=left / _WIDTH, right=1 - 0.15 / _WIDTH, top=1 - 0.3 / height, bottom=0.45 / height
    )
    return fig, fig.add_subplot()


def _finish(ax: Axes, w: dict[str, str], has_data: bool, legend: bool = True) -> None:
    finish_axes(ax, w["no_data"], has_data, legend, where="best")


def _svg(fig: Figure) -> bytes:
    return svg_bytes(fig)


def failed_checks(run: QualityRun) -> Sequence[str]:
    """The checks some clinic failed, in catalogue order: each gets its funnel plot."""
    failed = {r.check.id for c in run.clinics for r in c.results if r.status is Status.FAILED}
    return [c.id for c in run.catalogue.checks if c.id in failed]
