"""The report a tester signs, as HTML: sign-off block, requirement titles, thumbnails, names that
wrap at separators, the pack appendix; and the signature page `kcert sign` writes with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.dossier.keyring import trust
from harness.dossier.manifest import SIGNATURE, SIGNATURE_PAGES, read_manifest
from harness.dossier.signing import drop_signature, generate_keys, sign, verify
from harness.model.answer import Attachment
from harness.model.result import RunResult
from harness.report.html import breakable, is_image, render_html
from harness.report.signature_page import write_signature_page
from harness.report.writer import write_report
from harness.tests.test_pdf import PACKS, png, signed_off_run


@pytest.fixture(scope="module")
def run(clean_run: RunResult) -> RunResult:
    return signed_off_run(clean_run)


def test_breakable_puts_a_break_after_each_separator_only() -> None:
    assert str(breakable("CareCommunication_S_CC-R-01.0_A.json")) == (
        "CareCommunication_<wbr>S_<wbr>CC-<wbr>R-<wbr>01.<wbr>0_<wbr>A.<wbr>json"
    )
    assert str(breakable("plain")) == "plain"
    assert str(breakable("a/<b>")) == "a/<wbr>&lt;b&gt;"  # escaped, the markup is kcert's


def test_images_are_told_by_their_bytes() -> None:
    assert is_image(Attachment("shot.png", png(4, 4)))
    assert is_image(Attachment("photo.bin", b"\xff\xd8\xff\xe0rest"))
    assert not is_image(Attachment("fake.png", b"not a png"))
    assert not is_image(Attachment("notes.txt", b"hello"))


def test_sign_off_block_names_who_the_run_knows(run: RunResult) -> None:
    html = render_html(run, "da")
    block = html[html.index('id="signoff"') :]
    assert "Underskrifter" in block and "Dato" in block and "Underskrift" in block
    assert re.search(r"<td>Tester</td><td>Tina Testesen</td><td></td><td></td>", block)
    assert "<td>Godkender, MedCom</td><td></td>" in block  # blank: signed by hand
    assert "<td>Leverandørens repræsentant</td><td></td>" in block
    assert f"kcert verify {run.run_id}" in block and 'href="signature.html"' in block
    english = render_html(run, "en")
    assert "Sign-off" in english and "Approver, MedCom" in english
    assert "Vendor representative" in english


def test_an_unnamed_tester_leaves_the_line_blank(clean_run: RunResult) -> None:
    html = render_html(clean_run, "da")
    assert "<td>Tester</td><td></td>" in html


def test_requirements_carry_their_titles(run: RunResult) -> None:
    html = render_html(run, "da")
    assert "MedCom test og certificering af KC i de seks LPS" in html
    # the plan's own wording has no mark; kcert's descriptions are marked and explained
    row = re.search(r"MVP1-KC-04.*?</tr>", html, re.DOTALL)
    assert row and 'class="mark"' not in row.group(0)
    assert "kcerts egen beskrivelse af kravet" in html
    assert "MedCom test and certification of KC in the six LPS" in render_html(run, "en")


def test_screenshots_show_as_thumbnails_linking_the_file(run: RunResult) -> None:
    html = render_html(run, "da")
    thumbs = re.findall(r'<img class="thumb" src="([^"]+)"', html)
    assert thumbs == ["evidence/attachments/CC-R-13.2_inbox-screenshot.png"]
    assert 'href="evidence/attachments/CC-R-13.2_notes.txt"' in html  # linked, not shown


def test_evidence_names_carry_break_points(run: RunResult) -> None:
    html = render_html(run, "da")
    assert "CareCommunication_<wbr>S_<wbr>CC-<wbr>R-<wbr>01.<wbr>0_<wbr>A.<wbr>txt" in html
    assert "word-break: break-all" not in html  # that rule broke names mid-token


def test_packs_are_an_appendix_not_the_header(run: RunResult) -> None:
    html = render_html(run, "da")
    header = html[html.index('<table class="header">') : html.index("</table>")]
    assert "8 — " in header and PACKS[0]["sha256"] not in header
    appendix = html[html.index('id="packs"') :]
    assert all(p["sha256"] in appendix for p in PACKS)
    assert 'id="packs"' not in render_html(RunResult(**{**run.__dict__, "packs": []}), "da")


def test_every_table_has_a_fixed_layout(run: RunResult) -> None:
    html = render_html(run, "da")
    assert "table-layout: fixed" in html
    tables = re.findall(
        r'<table class="(steps|coverage|packs|signoff-table)">(.*?)<tr>', html, re.DOTALL
    )
    assert {name for name, _ in tables} == {"steps", "coverage", "packs", "signoff-table"}
    for name, head in tables:
        widths = [int(w) for w in re.findall(r"width: (\d+)%", head)]
        assert sum(widths) == 100, name


@pytest.fixture
def signed(run: RunResult, tmp_path: Path) -> Path:
    run_dir = write_report(run, tmp_path / "reports", "da")
    private, public = generate_keys(tmp_path / "keys")
    trust(public, f"MedCom test {tmp_path.name}")
    sign(run_dir, private, "Mette Godkender")
    return run_dir


def test_signature_page_names_the_signer_and_key_and_verifies(signed: Path) -> None:
    pages = write_signature_page(signed)
    assert [p.name for p in pages] == ["signature.html"]  # no report.pdf: no signature.pdf
    signature = json.loads((signed / SIGNATURE).read_text())
    page = (signed / "signature.html").read_text(encoding="utf-8")
    assert "Mette Godkender" in page and signature["fingerprint"] in page
    assert 'lang="da"' in page and "Signaturside" in page
    result = verify(signed)
    assert result.ok and result.page == ""
    for name in SIGNATURE_PAGES:
        assert name not in read_manifest(signed)["files"]  # outside the signed manifest


def test_a_signature_page_that_lies_fails_verification(signed: Path) -> None:
    write_signature_page(signed, "en")
    path = signed / "signature.html"
    page = path.read_text(encoding="utf-8")
    assert 'lang="en"' in page and "Signature page" in page
    path.write_text(page.replace("Mette Godkender", "Someone Else"), encoding="utf-8")
    result = verify(signed)
    assert not result.ok and result.signature == "valid"
    assert result.page == "signature.html states another signer than manifest.sig"
    path.write_text("<html>no facts</html>", encoding="utf-8")
    assert verify(signed).page == "signature.html does not state which signature it shows"


def test_dropping_the_signature_removes_its_page(signed: Path) -> None:
    write_signature_page(signed)
    assert drop_signature(signed)
    assert not any((signed / n).exists() for n in (SIGNATURE, *SIGNATURE_PAGES))
    assert not drop_signature(signed)


def test_signature_pdf_beside_report_pdf(clean_run: RunResult, tmp_path: Path) -> None:
    from harness.tests.pdfcheck import read_pdf

    small = RunResult(**{**clean_run.__dict__, "protocols": clean_run.protocols[:1]})
    run_dir = write_report(small, tmp_path / "reports", "da", pdf=True)
    private, public = generate_keys(tmp_path / "keys")
    trust(public, f"MedCom test {tmp_path.name}")
    sign(run_dir, private, "Mette Godkender")
    pages = write_signature_page(run_dir)
    assert [p.name for p in pages] == ["signature.html", "signature.pdf"]
    facts = read_pdf(run_dir / "signature.pdf", margin_mm=14)
    fingerprint = json.loads((run_dir / SIGNATURE).read_text())["fingerprint"]
    assert len(facts.texts) == 1 and not facts.stray
    assert "Mette Godkender" in facts.texts[0] and fingerprint in facts.texts[0]
    assert verify(run_dir).ok
