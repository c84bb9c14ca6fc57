"""report.pdf: paginated, page numbers, Danish letters, the MedCom header; part of the manifest;
a layout that fits the page, read back from the rendered PDF (pdfplumber)."""

from __future__ import annotations

import copy
import dataclasses
import io
from pathlib import Path

import pytest

from harness.dossier.manifest import read_manifest
from harness.model.answer import Attachment
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.model.result import RunResult
from harness.report.writer import write_report
from harness.tests.pdfcheck import SIDE_MARGIN_MM, PdfFacts, broken_names, read_pdf

PACKS = [
    {
        "id": f"medcom.fhir.dk.example-package-with-a-long-name-{i}",
        "version": "2.1.0-final",
        "kind": "fhir-package",
        "sha256": f"{i:x}" * 64,
    }
    for i in range(1, 9)
]


def png(width: int = 1280, height: int = 800) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (43, 93, 138)).save(buffer, "PNG")
    return buffer.getvalue()


def signed_off_run(run: RunResult) -> RunResult:
    """The clean run as a tester hands it in: named, packs used, a screenshot on a manual step."""
    run = copy.deepcopy(run)
    run.tester = "Tina Testesen"
    run.packs = list(PACKS)
    # the worst a cell gets: a minor (F4, not blocking) finding quoting a long unbroken token
    # and a long path, as SUT diagnostics do
    run.cases[0].steps[-1].findings.append(
        Finding(
            "FHIR-PROFILE",
            Severity.F4,
            "the SUT said: " + "Q" * 240 + " and https://sut.example/fhir/" + "x" * 90,
            Location("Bundle.entry[0].resource.extension.where(url='" + "u" * 120 + "')"),
        )
    )
    for case in run.cases:
        for step in case.steps:
            if step.answer is not None:
                step.answer = dataclasses.replace(
                    step.answer,
                    attachments=(
                        Attachment("inbox-screenshot.png", png()),
                        Attachment("notes.txt", b"not an image"),
                    ),
                )
    return run


@pytest.fixture(scope="module")
def pdf_run(clean_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(signed_off_run(clean_run), tmp_path_factory.mktemp("pdf"), "da", pdf=True)


@pytest.fixture(scope="module")
def facts(pdf_run: Path) -> PdfFacts:
    """report.pdf read back once (pdfminer takes seconds for 40 pages)."""
    return read_pdf(pdf_run / "report.pdf", margin_mm=SIDE_MARGIN_MM)


@pytest.fixture(scope="module")
def texts(facts: PdfFacts) -> list[str]:
    return facts.texts


def test_pdf_report(pdf_run: Path, texts: list[str]) -> None:
    pages = len(texts)
    assert pages > 3
    first = texts[0]
    assert "Leverandør" in first and "Testtype" in first and "Godkendt" in first
    assert "Kørsels-id" in first  # Danish letters survive as text, not boxes
    assert f"Side 1 / {pages}" in first
    assert f"Side {pages} / {pages}" in texts[-1]
    assert "report.pdf" in read_manifest(pdf_run)["files"]


def test_page_count_stays_within_bounds(texts: list[str], clean_run: RunResult) -> None:
    # About three cases on two pages (measured 36 pages for 50 cases, 49 for 65); a layout
    # regression (a case per page, or cases cut apart) moves it out of these bounds, which
    # follow the suite as protocols are added.
    cases = len(clean_run.cases)
    assert 0.4 * cases <= len(texts) <= 0.96 * cases, (len(texts), cases)


def test_no_text_outside_the_page_box(facts: PdfFacts) -> None:
    assert not facts.stray, facts.stray[:5]


def test_the_check_sees_text_outside_the_page(tmp_path: Path) -> None:
    import weasyprint

    path = tmp_path / "wide.pdf"
    html = '<p style="white-space: nowrap">' + "evidence_name_" * 80 + "</p>"
    weasyprint.HTML(string=html).write_pdf(str(path))
    assert read_pdf(path).stray


def test_evidence_names_wrap_only_after_a_separator(texts: list[str], clean_run: RunResult) -> None:
    exchanges = [e for c in clean_run.cases for s in c.steps for e in s.exchanges]
    names = sorted({name for e in exchanges for name in e.evidence.values()})
    assert len(names) > 50
    text = "\n".join(texts)
    assert not broken_names(text, names)
    assert broken_names("CareCommunica\ntion_S.json", ["CareCommunication_S.json"])  # fires
    assert not broken_names("CareCommunication_\nS.json", ["CareCommunication_S.json"])


def test_front_page_is_compact_and_the_packs_are_an_appendix(texts: list[str]) -> None:
    assert "8 — se bilag A" in texts[0]
    assert PACKS[0]["sha256"][:20] not in texts[0]
    appendix = next(i for i, t in enumerate(texts) if "Bilag A: Valideringspakker" in t)
    assert appendix == len(texts) - 1
    # a row's cells interleave in the extracted lines: the start of each hash is on its row
    assert all(p["sha256"][:24] in texts[appendix] for p in PACKS)
    assert texts[appendix].count("2.1.0-final") == len(PACKS)


def test_sign_off_block_and_requirement_titles(texts: list[str]) -> None:
    text = "\n".join(texts)
    for words in ("Underskrifter", "Godkender, MedCom", "Leverandørens repræsentant"):
        assert words in text
    assert "Tester Tina Testesen" in text  # the run's tester is printed on the tester's line
    assert "MedCom test og certificering af KC i de seks LPS" in text.replace("\n", " ")


def test_screenshots_are_thumbnails(facts: PdfFacts) -> None:
    assert len(facts.images) == 1, facts.images  # the PNG; notes.txt is linked only
    image = facts.images[0]
    assert "inbox-screenshot.png" in facts.texts[image.page - 1]
    assert 10 < image.width_mm <= 46 and image.height_mm <= 35  # not the 1280 px screenshot
