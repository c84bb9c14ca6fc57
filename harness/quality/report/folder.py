"""The files of `reports/<run>/quality/`, made in memory (`build_files`) and written into a
temporary folder beside the reports, then renamed into place (`write_folder`): a failure on
the way leaves no half-written folder.

    index.html                      the clinics compared, one funnel plot per failed check
    <sor>.html                      a clinic's scorecard (and <sor>.pdf with --pdf)
    plots/<sor>-rates.svg           its failing rates against the thresholds
    plots/<sor>-age.svg             its data-age histogram
    plots/funnel-<check>.svg        every clinic's rate on a failed check, with funnel limits
    failing-<sor>-<check>.csv       the patients behind a failed check (synthetic CPRs only)
    quality.json, quality.csv       every result, machine-readable (quality.schema.json)
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.checks.realcpr import mask_real_cprs
from harness.quality.model import QualityRun, Status
from harness.quality.report import plots
from harness.quality.report.data import (
    clinic_slugs,
    failing_csv,
    failing_file,
    quality_csv,
    quality_json_bytes,
    safe_name,
)
from harness.quality.report.html import Plots, funnel_caption, render_index, render_scorecard
from harness.quality.report.words import lang_of, words

FOLDER = "quality"


def plot_paths(slug: str) -> tuple[str, str]:
    return f"plots/{slug}-rates.svg", f"plots/{slug}-age.svg"


def build_files(
    run: QualityRun,
    run_id: str,
    lang: str,
    summary: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, bytes]:
    """Every file of the quality folder by its relative path."""
    lang = lang_of(lang)
    slugs = clinic_slugs(run)
    files: dict[str, bytes] = {}
    funnels: list[tuple[str, str, str]] = []
    for check_id in plots.failed_checks(run):
        caption = funnel_caption(run, check_id, lang)
        name = f"plots/funnel-{safe_name(check_id)}.svg"
        files[name] = plots.funnel(run, check_id, lang, title=check_id)
        funnels.append((check_id, name, caption))
    for done, (clinic, slug) in enumerate(zip(run.clinics, slugs, strict=True), start=1):
        rates, age = plot_paths(slug)
        files[rates] = plots.rates_against_thresholds(clinic, lang)
        files[age] = plots.data_age(clinic, lang)
        failed = {r.check.id for r in clinic.results if r.status is Status.FAILED}
        mine = tuple(f for f in funnels if f[0] in failed)
        page = render_scorecard(run, clinic, slug, Plots(rates, age, mine), run_id, lang)
        files[f"{slug}.html"] = page.encode("utf-8")
        for result in clinic.results:
            if result.status is Status.FAILED:
                files[failing_file(slug, result.check.id)] = failing_csv(result)
        if progress is not None:
            progress(done, len(slugs))
    index = render_index(run, slugs, tuple(funnels), run_id, lang, summary)
    files["index.html"] = index.encode("utf-8")
    files["quality.json"] = quality_json_bytes(run, run_id)
    files["quality.csv"] = quality_csv(run)
    # the last guard: a real-format CPR anywhere (a clinic's name, a detail) leaves masked
    return {name: mask_real_cprs(data) for name, data in files.items()}


def write_folder(
    files: Mapping[str, bytes],
    target: Path,
    *,
    pdf: bool = False,
    run_id: str = "",
    lang: str = "da",
) -> Path:
    """`files` as the folder `target` (which must not exist yet), with a PDF beside each HTML
    page when asked; written under a temporary name next to `target`'s parent and renamed."""
    # never written over, never merged into (a rename onto an empty folder would replace it)
    if target.exists():
        raise FileExistsError(17, "the quality folder exists already", str(target))
    base = target.parent.parent
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".{target.parent.name}.{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if pdf:
            _pdfs(files, tmp, run_id, lang)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _pdfs(files: Mapping[str, bytes], folder: Path, run_id: str, lang: str) -> None:
    from harness.report.pdf import html_to_pdf

    title = words(lang)["title"]
    for name, data in files.items():
        if name.endswith(".html"):
            html_to_pdf(
                data.decode("utf-8"), folder / (name[: -len(".html")] + ".pdf"), title, run_id, lang
            )
