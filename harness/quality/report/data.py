"""quality.json (schema: harness/quality/quality.schema.json) and the CSV files of a run.

File names: a clinic's files are named by its SOR code (`<sor>.html`), made safe for a file
name and made unique when two extracts name the same SOR (`<sor>-2`); the patient list behind a
failed check is `failing-<sor>-<check>.csv`. Every CPR written is checked once more against
kcert's synthetic range and masked (DDMMYY-xxxx) if it is not one: the reader refuses real
ones, this is the last guard before a file.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from harness.checks.realcpr import mask_text
from harness.quality.model import CheckResult, ClinicScore, QualityRun, Status
from harness.synthetic import is_synthetic_cpr

FORMAT = 1  # quality.json's "kcert-quality" format number
CLINIC_CSV_COLUMNS = (
    "sor",
    "name",
    "source",
    "vendor",
    "cluster",
    "check",
    "category",
    "level",
    "numerator",
    "denominator",
    "rate",
    "threshold",
    "status",
    "reason",
)
FAILING_CSV_COLUMNS = ("cpr", "resource_ids", "detail")


def safe_name(text: str) -> str:
    kept = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)
    return kept.strip("_") or "clinic"


def clinic_slugs(run: QualityRun) -> list[str]:
    """Each clinic's file stem, in run order: its SOR, unique within the run."""
    seen: dict[str, int] = {}
    out = []
    for clinic in run.clinics:
        base = safe_name(clinic.clinic or clinic.source)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def failing_file(slug: str, check_id: str) -> str:
    return f"failing-{slug}-{safe_name(check_id)}.csv"


def safe_cpr(cpr: str) -> str:
    """A synthetic CPR as it is; anything else masked."""
    if not cpr or is_synthetic_cpr(cpr):
        return cpr
    return mask_text(cpr) if len(cpr) == 10 and cpr.isdigit() else "xxxxxx-xxxx"


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def check_json(result: CheckResult, slug: str) -> dict[str, Any]:
    spec = result.check
    failed = result.status is Status.FAILED
    return {
        "id": spec.id,
        "category": spec.category.value,
        "level": spec.level.value,
        "title": {"da": spec.title_da, "en": spec.title_en},
        "explanation": {"da": spec.explanation_da, "en": spec.explanation_en},
        "numerator": result.numerator,
        "denominator": result.denominator,
        "rate": _rate(result.rate),
        "threshold": spec.threshold,
        "status": result.status.value,
        "reason": mask_text(result.reason),
        "failing_count": len(result.failing),
        "failing_file": failing_file(slug, spec.id) if failed else None,
        "distorts": [{"target": d.target, "da": d.da, "en": d.en} for d in spec.distorts],
    }


def clinic_json(clinic: ClinicScore, slug: str) -> dict[str, Any]:
    statuses = [r.status for r in clinic.results]
    return {
        "sor": clinic.clinic,
        "name": clinic.name,
        "source": clinic.source,
        "vendor": clinic.vendor,
        "cluster": clinic.cluster,
        "patients": clinic.patients,
        "as_of": clinic.as_of.isoformat() if clinic.as_of else None,
        "score": None if clinic.score is None else round(clinic.score, 2),
        "category_scores": {
            str(cat.value): None if value is None else round(value, 2)
            for cat, value in clinic.category_scores.items()
        },
        "status": clinic_status(clinic),
        "counts": {s.value: statuses.count(s) for s in Status},
        "scorecard": f"{slug}.html",
        "data_age": [{"label": label, "count": count} for label, count in clinic.data_age],
        "checks": [check_json(r, slug) for r in clinic.results],
    }


def clinic_status(clinic: ClinicScore) -> str:
    """error when a check could not be evaluated, else failed when one failed, else passed."""
    statuses = {r.status for r in clinic.results}
    if Status.ERROR in statuses:
        return "error"
    return "failed" if Status.FAILED in statuses else "passed"


def run_status(run: QualityRun) -> str:
    statuses = {clinic_status(c) for c in run.clinics}
    if "error" in statuses:
        return "error"
    return "failed" if "failed" in statuses else "passed"


def quality_json(run: QualityRun, run_id: str) -> dict[str, Any]:
    slugs = clinic_slugs(run)
    statuses = [clinic_status(c) for c in run.clinics]
    catalogue = run.catalogue
    return {
        "kcert-quality": FORMAT,
        "run_id": run_id,
        "started": run.started,
        "duration_s": round(run.duration_s, 3),
        "as_of": run.as_of.isoformat() if run.as_of else None,
        "engine": run.engine,
        "catalogue": {
            "id": catalogue.id,
            "version": catalogue.version,
            "sha256": catalogue.sha256,
            "path": str(catalogue.path) if catalogue.path else None,
            "checks": len(catalogue.checks),
        },
        "status": run_status(run),
        "summary": {
            "clinics": len(run.clinics),
            "passed": statuses.count("passed"),
            "failed": statuses.count("failed"),
            "error": statuses.count("error"),
            "patients": sum(c.patients for c in run.clinics),
        },
        "clinics": [clinic_json(c, s) for c, s in zip(run.clinics, slugs, strict=True)],
        "comparisons": [
            {
                "check": c.check_id,
                "clinic": c.clinic,
                "numerator": c.numerator,
                "denominator": c.denominator,
                "rate": _rate(c.rate),
                "cluster_rate": _rate(c.cluster_rate),
                "national_rate": _rate(c.national_rate),
                "lower95": _rate(c.lower95),
                "upper95": _rate(c.upper95),
                "lower998": _rate(c.lower998),
                "upper998": _rate(c.upper998),
                "outlier": c.outlier,
            }
            for c in run.comparisons
        ],
    }


def quality_json_bytes(run: QualityRun, run_id: str) -> bytes:
    return (json.dumps(quality_json(run, run_id), indent=1, ensure_ascii=False) + "\n").encode()


def quality_csv(run: QualityRun) -> bytes:
    """One row per clinic and check."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CLINIC_CSV_COLUMNS)
    for clinic in run.clinics:
        for r in clinic.results:
            rate = r.rate
            writer.writerow(
                [
                    clinic.clinic,
                    clinic.name,
                    clinic.source,
                    clinic.vendor,
                    clinic.cluster,
                    r.check.id,
                    r.check.category.value,
                    r.check.level.value,
                    r.numerator,
                    r.denominator,
                    "" if rate is None else f"{rate:.6f}",
                    f"{r.check.threshold:g}",
                    r.status.value,
                    mask_text(r.reason),
                ]
            )
    return out.getvalue().encode("utf-8")


def failing_csv(result: CheckResult) -> bytes:
    """The patients (or records) behind a failed check: synthetic CPRs only."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FAILING_CSV_COLUMNS)
    for record in result.failing:
        writer.writerow(
            [safe_cpr(record.cpr), " ".join(record.resource_ids), mask_text(record.detail)]
        )
    return out.getvalue().encode("utf-8")
