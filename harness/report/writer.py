"""Write a whole run report: reports/<run-id>/ and the reports/latest pointer."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.dossier.manifest import write_manifest as write_dossier_manifest
from harness.model.result import RunResult
from harness.report.allure import write_allure
from harness.report.evidence import write_evidence, write_manifest
from harness.report.html import write_html
from harness.report.junit import write_junit
from harness.report.masking import write_masking_record
from harness.report.pdf import write_pdf
from harness.report.results_json import to_results


def write_report(run: RunResult, reports_dir: Path, lang: str = "da", pdf: bool = False) -> Path:
    """Everything a run leaves, under reports_dir/<run-id>/; returns that directory."""
    run_dir = reports_dir / run.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    evidence_dir = run_dir / "evidence"
    write_evidence(run, evidence_dir)
    write_masking_record(run, evidence_dir)
    (run_dir / "results.json").write_text(
        json.dumps(to_results(run), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    write_junit(run, run_dir / "junit.xml")
    write_allure(run, run_dir / "allure-results", evidence_dir)
    write_html(run, run_dir / "index.html", lang)
    if pdf:
        write_pdf(run, run_dir / "report.pdf", lang)
    write_dossier_manifest(run_dir, dossier_facts(run))
    write_manifest(run_dir)
    point_latest(reports_dir, run_dir)
    return run_dir


def dossier_facts(run: RunResult) -> dict[str, object]:
    """What the signed manifest says about the run, besides the file hashes."""
    results = to_results(run)
    return {
        "run_id": run.run_id,
        "suite_version": run.suite_version,
        "test_type": run.test_type,
        "tester": run.tester,
        "operator": run.tester,  # who ran the run; each answer names who answered it
        "answerers": results["answerers"],
        "scope": results["scope"],
        "lang": run.lang,
        "started": run.started,
        "finished": run.finished,
        "verdict": run.verdict.value,
        "sut": results["sut"],
        "protocols": [
            {"id": p["id"], "version": p["version"], "sha256": p["sha256"]}
            for p in results["protocols"]
        ],
        "packs": list(run.packs),
        "parent_run": run.parent_run,
        "relation": run.relation,
        "answers": [
            {"case": c.case.id, "step": st.step.id, **st.answer.to_dict()}
            for c, st in ((c, st) for c in run.cases for st in c.steps)
            if st.answer is not None
        ],
    }


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    """reports/latest -> newest run (a symlink; a text file where links are not allowed)."""
    latest = reports_dir / "latest"
    tmp = reports_dir / ".latest.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp, target_is_directory=True)
        os.replace(tmp, latest)
    except OSError:
        if latest.is_symlink() or latest.is_file():
            latest.unlink()
        latest.write_text(run_dir.name + "\n", encoding="utf-8")
