"""report.pdf: paginated, page numbers, Danish letters, the MedCom header; part of the manifest."""

from __future__ import annotations

from pathlib import Path

import pypdf

from harness.dossier.manifest import read_manifest
from harness.model.result import RunResult
from harness.report.writer import write_report


def test_pdf_report(clean_run: RunResult, tmp_path: Path) -> None:
    run_dir = write_report(clean_run, tmp_path, "da", pdf=True)
    reader = pypdf.PdfReader(run_dir / "report.pdf")
    pages = len(reader.pages)
    assert pages > 3
    first = reader.pages[0].extract_text()
    assert "Leverandør" in first and "Testtype" in first and "Godkendt" in first
    assert "Kørsels-id" in first  # Danish letters survive as text, not boxes
    assert f"Side 1 / {pages}" in first
    assert f"Side {pages} / {pages}" in reader.pages[-1].extract_text()
    assert "report.pdf" in read_manifest(run_dir)["files"]
