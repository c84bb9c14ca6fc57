"""The workload model's arithmetic: a load profile's named figures → per-operation rates.

Three shapes: *normal* is the average working hour of an average month, *peak* the peak
month's busiest hour, *stress* the peak times the profile's stress factor (soak holds the
normal rate). Every rate is derived in steps a reader can redo by hand; each step is kept as
a line (`OperationRate.arithmetic`, English; `render_model` writes them in Danish or English).
Standard library only, like `harness.load.model`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.load.model import (
    COCKPIT_LIST,
    PLAN_CREATE,
    PLAN_READ_MINLAEGE,
    PLAN_READ_SUNDHED,
    PLAN_SHARE,
    PLAN_UPDATE,
    LoadProfile,
    OperationRate,
    RateTable,
    Source,
)

MONTHS_PER_YEAR = 12

# How a figure's value is bounded: a count or factor is > 0, a share is in (0, 1], an hour
# of the day is 0..23.
COUNT, SHARE, HOUR = "count", "share", "hour"


@dataclass(frozen=True)
class FigureKind:
    unit: str  # the unit the profile must write (the arithmetic relies on it)
    kind: str
    da: str
    en: str


FIGURES: dict[str, FigureKind] = {
    "plans_created_year": FigureKind(
        "plans/year", COUNT, "planer oprettet pr. år", "plans created per year"
    ),
    "plans_created_peak_month": FigureKind(
        "plans/month", COUNT, "planer oprettet i spidsmåneden", "plans created in the peak month"
    ),
    "clinics": FigureKind("clinics", COUNT, "klinikker", "clinics"),
    "clinics_daily_use_share": FigureKind(
        "share", SHARE, "andel klinikker med daglig brug", "share of clinics using plans daily"
    ),
    "history_years": FigureKind(
        "years",
        COUNT,
        "år plandata vises (ældre vises ikke)",
        "years of plan data shown (older is not)",
    ),
    "growth_new_packages": FigureKind(
        "factor",
        COUNT,
        "vækst fra de to nye pakker (KOL, lænderyg)",
        "growth from the two new packages (COPD, low back pain)",
    ),
    "working_days_per_month": FigureKind(
        "days/month", COUNT, "arbejdsdage pr. måned", "working days per month"
    ),
    "first_working_hour": FigureKind(
        "hour", HOUR, "arbejdsdagens første time", "first hour of the working day"
    ),
    "working_hours_per_day": FigureKind(
        "hours/day", COUNT, "arbejdstimer pr. dag", "working hours per day"
    ),
    "peak_hour_share": FigureKind(
        "share",
        SHARE,
        "spidstimens andel af dagens arbejde",
        "the peak hour's share of a day's work",
    ),
    "updates_per_plan_per_year": FigureKind(
        "updates/plan/year", COUNT, "opdateringer pr. plan pr. år", "updates per plan per year"
    ),
    "cockpit_queries_per_clinic_per_day": FigureKind(
        "queries/clinic/day",
        COUNT,
        "cockpit-opslag pr. klinik pr. dag",
        "cockpit list queries per clinic per day",
    ),
    "reads_minlaege_per_plan_per_month": FigureKind(
        "reads/plan/month",
        COUNT,
        "visninger i Min Læge pr. plan pr. måned",
        "reads in Min Læge per plan per month",
    ),
    "reads_sundhed_per_plan_per_month": FigureKind(
        "reads/plan/month",
        COUNT,
        "visninger i Sundhedsjournalen pr. plan pr. måned",
        "reads in Sundhedsjournalen per plan per month",
    ),
    "shares_per_plan_change": FigureKind(
        "shares/change", COUNT, "DK-CPD-delinger pr. planændring", "DK-CPD shares per plan change"
    ),
    "scale": FigureKind("factor", COUNT, "skalering af alle rater", "scale of every rate"),
}
# Figures a profile may leave out, with the value the arithmetic then uses.
OPTIONAL: dict[str, float] = {"scale": 1.0, "first_working_hour": 8.0}

_COMMON = (
    "growth_new_packages",
    "working_days_per_month",
    "working_hours_per_day",
    "peak_hour_share",
    "clinics",
    "clinics_daily_use_share",
)
_CREATE = ("plans_created_year", "plans_created_peak_month")
_IN_VIEW = (*_CREATE, "history_years")
# The figures each operation's rate is derived from (besides the optional ones).
NEEDS: dict[str, tuple[str, ...]] = {
    PLAN_CREATE: (*_COMMON, *_CREATE),
    PLAN_UPDATE: (*_COMMON, *_IN_VIEW, "updates_per_plan_per_year"),
    PLAN_READ_MINLAEGE: (*_COMMON, *_IN_VIEW, "reads_minlaege_per_plan_per_month"),
    PLAN_READ_SUNDHED: (*_COMMON, *_IN_VIEW, "reads_sundhed_per_plan_per_month"),
    COCKPIT_LIST: (*_COMMON, *_CREATE, "cockpit_queries_per_clinic_per_day"),
    PLAN_SHARE: (*_COMMON, *_IN_VIEW, "updates_per_plan_per_year", "shares_per_plan_change"),
}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "plans_year": "plans/year",
        "plans_peak": "plans in the peak month",
        "growth": "growth",
        "months": "months",
        "days": "working days",
        "h": "h",
        "hour_factor": "peak-hour factor",
        "month_factor": "peak-month factor",
        "years": "years",
        "in_view": "plans in view",
        "clinics_in_use": "clinics in daily use",
        "updates": "updates/plan/year",
        "reads": "reads/plan/month",
        "queries": "queries/clinic/day",
        "shares": "shares/change",
        "creates_updates": "creates + updates",
        "scale": "scale",
        "normal": "normal",
        "peak": "peak",
        "stress": "stress",
        "per_clinic": "per clinic",
        "busiest": "of a day's work in its busiest hour",
        "avg_month": "plans in an average month",
    },
    "da": {
        "plans_year": "planer/år",
        "plans_peak": "planer i spidsmåneden",
        "growth": "vækst",
        "months": "måneder",
        "days": "arbejdsdage",
        "h": "t",
        "hour_factor": "spidstimefaktor",
        "month_factor": "spidsmånedsfaktor",
        "years": "år",
        "in_view": "planer i visning",
        "clinics_in_use": "klinikker i daglig brug",
        "updates": "opdateringer/plan/år",
        "reads": "visninger/plan/måned",
        "queries": "opslag/klinik/dag",
        "shares": "delinger/ændring",
        "creates_updates": "oprettelser + opdateringer",
        "scale": "skalering",
        "normal": "normal",
        "peak": "spids",
        "stress": "stress",
        "per_clinic": "pr. klinik",
        "busiest": "af dagens arbejde i den travleste time",
        "avg_month": "planer i en gennemsnitsmåned",
    },
}


def number(value: float, lang: str = "en") -> str:
    """A figure as a reader writes it: 240,000 / 1.25 / 0.0413 (Danish: 240.000 / 1,25)."""
    if not math.isfinite(value):
        return str(value)
    if value >= 1000 or value == int(value):
        text = f"{round(value):,}" if value >= 1000 else str(int(value))
    elif abs(value) >= 1e-4:
        text = f"{value:.4g}"
    else:
        text = f"{value:.2e}"
    if lang == "da":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def figure_value(profile: LoadProfile, name: str) -> float:
    figure = profile.figures.get(name)
    if figure is not None:
        return figure.value
    if name in OPTIONAL:
        return OPTIONAL[name]
    raise ValueError(f"profile {profile.id}: figure {name!r} missing")


@dataclass(frozen=True)
class _Derived:
    operation: str
    normal_per_h: float
    peak_per_h: float
    lines: tuple[str, ...]


class _Model:
    """One profile's shared intermediate values, and the lines that derive them, in `lang`."""

    def __init__(self, profile: LoadProfile, lang: str) -> None:
        self.profile = profile
        self.lang = lang
        self.w = WORDS["da" if lang == "da" else "en"]
        self.f: Callable[[str], float] = lambda name: figure_value(profile, name)

    def n(self, value: float) -> str:
        return number(value, self.lang)

    def rate(self, per_h: float) -> str:
        w = self.w
        return f"{self.n(per_h)} /{w['h']} = {self.n(per_h / 3600)} /s"

    def scale_text(self) -> str:
        scale = self.f("scale")
        return "" if scale == 1 else f" × {self.n(scale)} {self.w['scale']}"

    def month_factor(self) -> tuple[float, str]:
        year, peak = self.f("plans_created_year"), self.f("plans_created_peak_month")
        factor = peak / (year / MONTHS_PER_YEAR)
        w = self.w
        line = (
            f"{w['month_factor']}: {self.n(peak)} {w['plans_peak']} / ({self.n(year)} "
            f"{w['plans_year']} / {MONTHS_PER_YEAR} {w['months']}) = {self.n(factor)}"
        )
        return factor, line

    def hour_factor(self) -> tuple[float, str]:
        share, hours = self.f("peak_hour_share"), self.f("working_hours_per_day")
        factor = share * hours
        w = self.w
        line = (
            f"{w['hour_factor']}: {self.n(share)} {w['busiest']} × {self.n(hours)} {w['h']} "
            f"= {self.n(factor)}"
        )
        return factor, line

    def in_view(self) -> tuple[float, str]:
        year, growth = self.f("plans_created_year"), self.f("growth_new_packages")
        years = self.f("history_years")
        plans = year * growth * years
        w = self.w
        line = (
            f"{w['in_view']}: {self.n(year)} {w['plans_year']} × {self.n(growth)} {w['growth']} "
            f"× {self.n(years)} {w['years']} = {self.n(plans)}"
        )
        return plans, line

    def clinics_in_use(self) -> tuple[float, str]:
        clinics, share = self.f("clinics"), self.f("clinics_daily_use_share")
        in_use = clinics * share
        line = f"{self.w['clinics_in_use']}: {self.n(clinics)} × {self.n(share)} = {self.n(in_use)}"
        return in_use, line

    def _peak_from_normal(self, normal: float) -> tuple[float, list[str]]:
        mf, mf_line = self.month_factor()
        hf, hf_line = self.hour_factor()
        w = self.w
        peak = normal * mf * hf
        return peak, [
            mf_line,
            hf_line,
            f"{w['peak']}: {self.n(normal)} /{w['h']} × {self.n(mf)} {w['month_factor']} × "
            f"{self.n(hf)} {w['hour_factor']} = {self.rate(peak)}",
        ]

    def _hours(self) -> tuple[float, float, str]:
        days, hours = self.f("working_days_per_month"), self.f("working_hours_per_day")
        w = self.w
        return days, hours, f"/ {self.n(days)} {w['days']} / {self.n(hours)} {w['h']}"

    def create(self) -> _Derived:
        w = self.w
        year, peak_month = self.f("plans_created_year"), self.f("plans_created_peak_month")
        growth, scale = self.f("growth_new_packages"), self.f("scale")
        days, hours, per_hour = self._hours()
        hf, hf_line = self.hour_factor()
        normal = year * growth / MONTHS_PER_YEAR / days / hours * scale
        peak = peak_month * growth / days / hours * hf * scale
        return _Derived(
            PLAN_CREATE,
            normal,
            peak,
            (
                f"{w['normal']}: {self.n(year)} {w['plans_year']} × {self.n(growth)} "
                f"{w['growth']} / {MONTHS_PER_YEAR} {w['months']} {per_hour}{self.scale_text()} "
                f"= {self.rate(normal)}",
                hf_line,
                f"{w['peak']}: {self.n(peak_month)} {w['plans_peak']} × {self.n(growth)} "
                f"{w['growth']} {per_hour} × {self.n(hf)} {w['hour_factor']}{self.scale_text()} "
                f"= {self.rate(peak)}",
            ),
        )

    def _per_plan(self, operation: str, figure: str, unit: str, per_year: bool) -> _Derived:
        w = self.w
        plans, view_line = self.in_view()
        each, scale = self.f(figure), self.f("scale")
        days, hours, per_hour = self._hours()
        months = f" / {MONTHS_PER_YEAR} {w['months']}" if per_year else ""
        normal = plans * each / (MONTHS_PER_YEAR if per_year else 1) / days / hours * scale
        peak, peak_lines = self._peak_from_normal(normal)
        return _Derived(
            operation,
            normal,
            peak,
            (
                view_line,
                f"{w['normal']}: {self.n(plans)} {w['in_view']} × {self.n(each)} {unit}{months} "
                f"{per_hour}{self.scale_text()} = {self.rate(normal)}",
                *peak_lines,
            ),
        )

    def update(self) -> _Derived:
        return self._per_plan(PLAN_UPDATE, "updates_per_plan_per_year", self.w["updates"], True)

    def read_minlaege(self) -> _Derived:
        return self._per_plan(
            PLAN_READ_MINLAEGE, "reads_minlaege_per_plan_per_month", self.w["reads"], False
        )

    def read_sundhed(self) -> _Derived:
        return self._per_plan(
            PLAN_READ_SUNDHED, "reads_sundhed_per_plan_per_month", self.w["reads"], False
        )

    def cockpit(self) -> _Derived:
        w = self.w
        clinics, clinics_line = self.clinics_in_use()
        queries, scale = self.f("cockpit_queries_per_clinic_per_day"), self.f("scale")
        hours = self.f("working_hours_per_day")
        normal = clinics * queries / hours * scale
        peak, peak_lines = self._peak_from_normal(normal)
        return _Derived(
            COCKPIT_LIST,
            normal,
            peak,
            (
                clinics_line,
                f"{w['normal']}: {self.n(clinics)} {w['clinics_in_use']} × {self.n(queries)} "
                f"{w['queries']} / {self.n(hours)} {w['h']}{self.scale_text()} "
                f"= {self.rate(normal)}",
                *peak_lines,
            ),
        )

    def share(self) -> _Derived:
        w = self.w
        create, update = self.create(), self.update()
        each = self.f("shares_per_plan_change")
        normal = (create.normal_per_h + update.normal_per_h) * each
        peak = (create.peak_per_h + update.peak_per_h) * each
        return _Derived(
            PLAN_SHARE,
            normal,
            peak,
            (
                f"{w['normal']}: ({self.n(create.normal_per_h)} + {self.n(update.normal_per_h)}) "
                f"{w['creates_updates']} /{w['h']} × {self.n(each)} {w['shares']} "
                f"= {self.rate(normal)}",
                f"{w['peak']}: ({self.n(create.peak_per_h)} + {self.n(update.peak_per_h)}) "
                f"{w['creates_updates']} /{w['h']} × {self.n(each)} {w['shares']} "
                f"= {self.rate(peak)}",
            ),
        )

    def derive(self, operation: str) -> OperationRate:
        derived = {
            PLAN_CREATE: self.create,
            PLAN_UPDATE: self.update,
            PLAN_READ_MINLAEGE: self.read_minlaege,
            PLAN_READ_SUNDHED: self.read_sundhed,
            COCKPIT_LIST: self.cockpit,
            PLAN_SHARE: self.share,
        }[operation]()
        factor = self.profile.stress_factor
        w = self.w
        stress_h = derived.peak_per_h * factor
        clinics, _ = self.clinics_in_use()
        per_clinic = (
            f"{w['per_clinic']} ({self.n(clinics)} {w['clinics_in_use']}): {w['normal']} "
            f"{self.n(derived.normal_per_h / clinics)} /{w['h']}, {w['peak']} "
            f"{self.n(derived.peak_per_h / clinics)} /{w['h']}, {w['stress']} "
            f"{self.n(stress_h / clinics)} /{w['h']}"
        )
        return OperationRate(
            operation=operation,
            normal_per_s=derived.normal_per_h / 3600,
            peak_per_s=derived.peak_per_h / 3600,
            stress_per_s=derived.peak_per_h * factor / 3600,
            arithmetic=(
                *derived.lines,
                f"{w['stress']}: {self.n(derived.peak_per_h / 3600)} /s × {self.n(factor)} "
                f"= {self.n(stress_h / 3600)} /s",
                per_clinic,
            ),
        )


def derive_rates(profile: LoadProfile, lang: str = "en") -> RateTable:
    """The rates of every operation `profile` loads, with their arithmetic in `lang`."""
    model = _Model(profile, lang)
    return RateTable(
        profile_id=profile.id,
        profile_version=profile.version,
        stress_factor=profile.stress_factor,
        rates=tuple(model.derive(operation) for operation in profile.operations),
    )


def clinics_in_use(profile: LoadProfile) -> float:
    """The clinics using plans daily: what a rate per clinic divides by."""
    return figure_value(profile, "clinics") * figure_value(profile, "clinics_daily_use_share")


# -- what `kcert load model` prints ----------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "profile": "Load profile {id} {version}: {title}",
        "file": "file: {path} (sha256 {sha})",
        "figures": "Figures (P = published, A = kcert's assumption):",
        "rates": "Rates per operation, nationally ({n} clinics in daily use; "
        "per hour and per second):",
        "operation": "operation",
        "total": "total",
        "per_clinic": "peak/h per clinic",
        "arithmetic": "Arithmetic:",
        "slos": "SLOs (kcert's assumption for a loopback run, not a national figure):",
        "slo": "{op}: p50 {p50}, p95 {p95}, p99 {p99}; errors ≤ {err}; rate ≥ {share} of target",
        "none": "–",
        "think": "Think time {min}–{max} s between a virtual user's requests.",
        "bounds": "Bounds: at most {users} users, {rate} requests/s, {time} s per run.",
        "working_day": "Working day: {first:02d}–{last:02d} ({hours} h).",
    },
    "da": {
        "profile": "Belastningsprofil {id} {version}: {title}",
        "file": "fil: {path} (sha256 {sha})",
        "figures": "Tal (P = offentliggjort, A = kcerts antagelse):",
        "rates": "Rater pr. operation, hele landet ({n} klinikker i daglig brug; "
        "pr. time og pr. sekund):",
        "operation": "operation",
        "total": "i alt",
        "per_clinic": "spids/t pr. klinik",
        "arithmetic": "Udregning:",
        "slos": "SLO'er (kcerts antagelse for en kørsel på loopback, ikke et nationalt tal):",
        "slo": "{op}: p50 {p50}, p95 {p95}, p99 {p99}; fejl ≤ {err}; rate ≥ {share} af målet",
        "none": "–",
        "think": "Tænketid {min}–{max} s mellem en virtuel brugers forespørgsler.",
        "bounds": "Grænser: højst {users} brugere, {rate} forespørgsler/s, {time} s pr. kørsel.",
        "working_day": "Arbejdsdag: {first:02d}–{last:02d} ({hours} t).",
    },
}

MARKS = {Source.PUBLISHED: "P", Source.ASSUMPTION: "A"}


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  " + "  ".join(cells).rstrip())
        if index == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def render_model(profile: LoadProfile, table: RateTable, lang: str = "da") -> str:
    """The figures with their source, the rates per shape, the arithmetic, the SLOs."""
    lang = "en" if lang == "en" else "da"
    t, w = TEXT[lang], WORDS[lang]

    def n(value: float) -> str:
        return number(value, lang)

    title = profile.title_en if lang == "en" else profile.title_da
    lines = [t["profile"].format(id=profile.id, version=profile.version, title=title)]
    if profile.path is not None:
        lines.append(t["file"].format(path=profile.path, sha=profile.sha256[:16]))
    lines += ["", t["figures"]]
    rows = []
    for figure in profile.figures.values():
        kind = FIGURES.get(figure.name)
        label = (kind.da if lang == "da" else kind.en) if kind else figure.name
        rows.append([MARKS[figure.source], figure.name, n(figure.value), figure.unit, label])
    width = [max(len(r[i]) for r in rows) for i in range(4)] if rows else [0] * 4
    for row, figure in zip(rows, profile.figures.values(), strict=True):
        lines.append(
            f"  {row[0]} {row[1].ljust(width[1])}  {row[2].rjust(width[2])} "
            f"{row[3].ljust(width[3])}  {row[4]}"
        )
        if figure.note:
            lines.append(f"      {figure.note}")
    first = int(figure_value(profile, "first_working_hour"))
    hours = figure_value(profile, "working_hours_per_day")
    lines += [
        "",
        t["working_day"].format(first=first, last=int(first + hours) % 24, hours=n(hours)),
    ]

    clinics = clinics_in_use(profile)
    factor = n(table.stress_factor)
    lines += ["", t["rates"].format(n=n(clinics))]
    header = [
        t["operation"],
        f"{w['normal']}/{w['h']}",
        f"{w['normal']}/s",
        f"{w['peak']}/{w['h']}",
        f"{w['peak']}/s",
        f"×{factor} {w['stress']}/{w['h']}",
        f"{w['stress']}/s",
        t["per_clinic"],
    ]
    body = [
        [
            rate.operation,
            n(rate.normal_per_s * 3600),
            n(rate.normal_per_s),
            n(rate.peak_per_s * 3600),
            n(rate.peak_per_s),
            n(rate.stress_per_s * 3600),
            n(rate.stress_per_s),
            n(rate.peak_per_s * 3600 / clinics),
        ]
        for rate in table.rates
    ]
    totals = [table.total(shape) for shape in ("normal", "peak", "stress")]
    body.append(
        [
            t["total"],
            *(x for total in totals for x in (n(total * 3600), n(total))),
            n(totals[1] * 3600 / clinics),
        ]
    )
    lines += _table([header, *body])

    lines += ["", t["arithmetic"]]
    model = _Model(profile, lang)
    for rate in table.rates:
        lines.append(f"  {rate.operation}:")
        lines += [f"    {line}" for line in model.derive(rate.operation).arithmetic]

    def ms(value: float | None) -> str:
        return t["none"] if value is None else f"{n(value)} ms"

    def pct(value: float | None) -> str:
        return t["none"] if value is None else f"{n(value * 100)} %"

    lines += ["", t["slos"]]
    for operation, slo in profile.slos.items():
        lines.append(
            "  "
            + t["slo"].format(
                op=operation,
                p50=ms(slo.p50_ms),
                p95=ms(slo.p95_ms),
                p99=ms(slo.p99_ms),
                err=pct(slo.max_error_rate),
                share=pct(slo.min_rate_share),
            )
        )
    low, high = profile.think_time_s
    bounds = profile.bounds
    lines += [
        "",
        t["think"].format(min=n(low), max=n(high)),
        t["bounds"].format(
            users=n(bounds.max_users), rate=n(bounds.max_rate_per_s), time=n(bounds.max_run_time_s)
        ),
    ]
    return "\n".join(lines) + "\n"


def model_json(profile: LoadProfile, table: RateTable) -> dict[str, Any]:
    """`kcert load model --json`: the same content, for machines."""
    clinics = clinics_in_use(profile)
    return {
        "profile": {
            "id": profile.id,
            "version": profile.version,
            "title": {"da": profile.title_da, "en": profile.title_en},
            "path": str(profile.path) if profile.path is not None else None,
            "sha256": profile.sha256,
        },
        "figures": [
            {
                "name": f.name,
                "value": f.value,
                "unit": f.unit,
                "source": f.source.value,
                "note": f.note,
                "line": f.line,
            }
            for f in profile.figures.values()
        ],
        "clinics_in_use": clinics,
        "stress_factor": table.stress_factor,
        "rates": [
            {
                "operation": r.operation,
                "normal_per_s": r.normal_per_s,
                "peak_per_s": r.peak_per_s,
                "stress_per_s": r.stress_per_s,
                "per_clinic_per_h": {
                    "normal": r.normal_per_s * 3600 / clinics,
                    "peak": r.peak_per_s * 3600 / clinics,
                    "stress": r.stress_per_s * 3600 / clinics,
                },
                "arithmetic": list(r.arithmetic),
            }
            for r in table.rates
        ],
        "total_per_s": {shape: table.total(shape) for shape in ("normal", "peak", "stress")},
        "weights": {shape: table.weights(shape) for shape in ("normal", "peak", "stress")},
        "slos": {
            op: {
                "p50_ms": s.p50_ms,
                "p95_ms": s.p95_ms,
                "p99_ms": s.p99_ms,
                "max_error_rate": s.max_error_rate,
                "min_rate_share": s.min_rate_share,
            }
            for op, s in profile.slos.items()
        },
        "think_time_s": list(profile.think_time_s),
        "bounds": {
            "max_users": profile.bounds.max_users,
            "max_rate_per_s": profile.bounds.max_rate_per_s,
            "max_run_time_s": profile.bounds.max_run_time_s,
        },
    }
