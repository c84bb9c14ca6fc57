"""The scorecards (one per clinic) and the index page comparing clinics, as HTML (jinja2,
autoescaped: every value from an extract is text, never markup). The plots are SVG files
beside the pages (`plots/…`), referenced by relative links, so a browser and weasyprint
(base URL: the quality folder) both show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2

from harness.checks.realcpr import mask_text
from harness.quality.model import Category, ClinicScore, Comparison, QualityRun, Status
from harness.quality.report.data import clinic_status, failing_file
from harness.quality.report.words import (
    CATEGORY,
    LEVEL,
    OUTLIER,
    STATUS,
    lang_of,
    number,
    percent,
    words,
)

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.quality.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Plots:
    """Where a scorecard's plots are, relative to the quality folder."""

    rates: str
    age: str
    funnels: tuple[tuple[str, str, str], ...] = field(default=())  # (check id, src, caption)


def funnel_caption(run: QualityRun, check_id: str, lang: str) -> str:
    spec = next((c for c in run.catalogue.checks if c.id == check_id), None)
    title = (spec.title_en if lang_of(lang) == "en" else spec.title_da) if spec else check_id
    return words(lang)["funnel_title"].format(check=f"{check_id} — {title}")


def render_scorecard(
    run: QualityRun, clinic: ClinicScore, slug: str, plots: Plots, run_id: str, lang: str
) -> str:
    lang = lang_of(lang)
    w = words(lang)
    applicable = [r for r in clinic.results if r.status in (Status.PASSED, Status.FAILED)]
    passed = sum(1 for r in applicable if r.status is Status.PASSED)
    mine = {c.check_id: c for c in run.comparisons if c.clinic == clinic.clinic}
    rows = []
    for r in clinic.results:
        spec = r.check
        failed = r.status is Status.FAILED
        rows.append(
            {
                "id": spec.id,
                "category": CATEGORY[lang][spec.category],
                "level": LEVEL[lang][spec.level],
                "title": spec.title_en if lang == "en" else spec.title_da,
                "explanation": spec.explanation_en if lang == "en" else spec.explanation_da,
                "distorts": [(d.target, d.en if lang == "en" else d.da) for d in spec.distorts],
                "numerator": r.numerator,
                "denominator": r.denominator,
                "rate": percent(r.rate, lang),
                "threshold": percent(spec.threshold, lang),
                "status": STATUS[lang][r.status],
                "status_class": r.status.value,
                "reason": mask_text(r.reason),
                "failing_file": failing_file(slug, spec.id) if failed else "",
                "failing_count": w["failing_count"].format(n=len(r.failing)),
                "comparison": _comparison(mine.get(spec.id), lang),
            }
        )
    return _ENV.get_template("scorecard.html.j2").render(
        lang=lang,
        W=w,
        clinic=clinic,
        catalogue=run.catalogue,
        engine=run.engine,
        run_id=run_id,
        number=lambda v: number(v, lang),
        passed_summary=w["passed_summary"].format(passed=passed, applicable=len(applicable)),
        category_scores=[
            (CATEGORY[lang][cat], clinic.category_scores.get(cat)) for cat in Category
        ],
        plots=plots,
        rows=rows,
    )


def _comparison(c: Comparison | None, lang: str) -> dict[str, str] | None:
    if c is None or (c.cluster_rate is None and c.national_rate is None):
        return None
    return {
        "cluster": percent(c.cluster_rate, lang),
        "national": percent(c.national_rate, lang),
        "outlier": OUTLIER[lang].get(c.outlier, c.outlier),
    }


def render_index(
    run: QualityRun,
    slugs: list[str],
    funnels: tuple[tuple[str, str, str], ...],
    run_id: str,
    lang: str,
    summary: str,
) -> str:
    lang = lang_of(lang)
    clinics: list[dict[str, Any]] = []
    for clinic, slug in zip(run.clinics, slugs, strict=True):
        failed = [r.check.id for r in clinic.results if r.status is Status.FAILED]
        errors = [r.check.id for r in clinic.results if r.status is Status.ERROR]
        clinics.append(
            {
                "href": f"{slug}.html",
                "sor": clinic.clinic,
                "name": clinic.name,
                "vendor": clinic.vendor,
                "cluster": clinic.cluster,
                "patients": clinic.patients,
                "score": number(clinic.score, lang),
                "status": clinic_status(clinic),
                "categories": [number(clinic.category_scores.get(c), lang) for c in Category],
                "failed": ", ".join([*failed, *(f"{e} (!)" for e in errors)]) or "—",
            }
        )
    return _ENV.get_template("index.html.j2").render(
        lang=lang,
        W=words(lang),
        catalogue=run.catalogue,
        engine=run.engine,
        run_id=run_id,
        as_of=_as_of(run),
        categories=[CATEGORY[lang][c] for c in Category],
        clinics=clinics,
        funnels=funnels,
        summary=summary,
    )


def _as_of(run: QualityRun) -> str:
    """The run's day (--as-of), else the clinics' own days."""
    if run.as_of is not None:
        return run.as_of.isoformat()
    days = sorted({c.as_of.isoformat() for c in run.clinics if c.as_of is not None})
    return ", ".join(days[:5]) + (" …" if len(days) > 5 else "") if days else "—"
