"""The quality folder from a hand-built run (the stand-in engine on the hand-written extract):
scorecards in Danish and English, the plots in the pages and the PDF, patient lists of
synthetic CPRs only, quality.json against its documented schema, nothing half-written."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.quality.model import FailingRecord, Status
from harness.quality.report import folder as folder_mod
from harness.quality.report.data import failing_csv, quality_json
from harness.quality.report.folder import build_files, write_folder
from harness.synthetic import is_synthetic_cpr
from harness.tests.quality_standin import hand_built_run

SCHEMA = Path(__file__).resolve().parents[1] / "quality" / "quality.schema.json"
OWN = "999991000016008"
OTHER = "999971000016005"


@pytest.fixture(scope="module")
def files_da() -> dict[str, bytes]:
    return build_files(hand_built_run(), "RUN-1", "da")


@pytest.fixture(scope="module")
def files_en() -> dict[str, bytes]:
    return build_files(hand_built_run(), "RUN-1", "en")


def test_the_folder_holds_a_scorecard_per_clinic_the_index_plots_lists_json_and_csv(
    files_da: dict[str, bytes],
) -> None:
    names = set(files_da)
    assert {f"{OWN}.html", f"{OTHER}.html", "index.html", "quality.json", "quality.csv"} <= names
    assert {f"plots/{OWN}-rates.svg", f"plots/{OWN}-age.svg", f"plots/{OTHER}-age.svg"} <= names
    # one funnel per check some clinic failed, and a patient list per failed check
    assert {f"plots/funnel-{c}.svg" for c in ("patient-without-gp", "lab-local-code")} <= names
    assert "plots/funnel-birthdate-not-cpr.svg" not in names  # nobody failed it
    assert f"failing-{OWN}-patient-without-gp.csv" in names
    assert not any(n.startswith(f"failing-{OTHER}") for n in names)  # the other passed all


def test_the_danish_scorecard_shows_every_check_with_its_figures_and_list(
    files_da: dict[str, bytes],
) -> None:
    page = files_da[f"{OWN}.html"].decode()
    assert '<html lang="da">' in page and "Scorekort" in page and "Tærskel" in page
    assert "Patienter uden almen praktiserende læge" in page  # the Danish title
    assert "Patienten har ingen relation til en almen praksis." in page  # the explanation
    assert "fuldstændighed" in page and "troværdighed" in page  # categories in Danish
    assert "3,8 %" in page and "0,0 %" in page  # 1/26 against a threshold of 0
    assert "fejlet" in page and "bestået" in page and "ikke relevant" in page
    assert "nobody to judge" in page  # the not-applicable reason
    assert "kol-inkluderet" in page and "patienten mangler i kol-inkluderet" in page
    assert f'href="failing-{OWN}-patient-without-gp.csv"' in page
    assert "Klyngens andel" in page  # the comparison with the cluster and the nation


def test_the_english_scorecard_has_the_english_words(files_en: dict[str, bytes]) -> None:
    page = files_en[f"{OWN}.html"].decode()
    assert '<html lang="en">' in page and "Scorecard" in page and "Threshold" in page
    assert "Patients without a general practitioner" in page
    assert "The patient has no general-practitioner relation." in page
    assert "3.8 %" in page and "failed" in page and "not applicable" in page
    assert "the patient is missing from kol-inkluderet" in page
    assert "Scorekort" not in page and "Tærskel" not in page


def test_names_from_the_extract_are_escaped(files_da: dict[str, bytes]) -> None:
    for name in (f"{OTHER}.html", "index.html"):
        page = files_da[name].decode()
        assert "Klinik &lt;Nord&gt; &amp; Co" in page and "<Nord>" not in page


def test_the_pages_show_their_plots_and_every_plot_is_there(files_da: dict[str, bytes]) -> None:
    for page_name in (f"{OWN}.html", "index.html"):
        page = files_da[page_name].decode()
        sources = re.findall(r'<img src="([^"]+)"', page)
        assert sources and all(s in files_da for s in sources)
    own = files_da[f"{OWN}.html"].decode()
    assert f"plots/{OWN}-rates.svg" in own and f"plots/{OWN}-age.svg" in own
    assert "plots/funnel-patient-without-gp.svg" in own
    index = files_da["index.html"].decode()
    assert "plots/funnel-lab-local-code.svg" in index and OTHER in index


def test_the_plots_are_svg_with_their_titles_as_text_and_reproducible(
    files_da: dict[str, bytes], files_en: dict[str, bytes]
) -> None:
    rates = files_da[f"plots/{OWN}-rates.svg"].decode()
    assert rates.startswith("<?xml") and "<svg" in rates
    assert "Andel fejlende pr. tjek mod tærsklen" in rates  # svg.fonttype none: text as text
    assert (
        "Tragtplot: patient-without-gp" in files_da["plots/funnel-patient-without-gp.svg"].decode()
    )
    assert "95 %-grænse" in files_da["plots/funnel-patient-without-gp.svg"].decode()
    assert "Dataalder" in files_da[f"plots/{OWN}-age.svg"].decode()
    assert (
        "Funnel plot: patient-without-gp"
        in files_en["plots/funnel-patient-without-gp.svg"].decode()
    )
    assert "99.8 % limit" in files_en["plots/funnel-patient-without-gp.svg"].decode()
    for check in hand_built_run().catalogue.checks:  # every check a row, not applicable too
        assert check.id in rates
    again = build_files(hand_built_run(), "RUN-1", "da")
    assert all(again[n] == files_da[n] for n in files_da if n.endswith(".svg"))


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_patient_lists_hold_the_failing_patients_with_synthetic_cprs_only(
    files_da: dict[str, bytes],
) -> None:
    lists = {n: _rows(d) for n, d in files_da.items() if n.startswith("failing-")}
    assert lists
    gp = lists[f"failing-{OWN}-patient-without-gp.csv"]
    assert len(gp) == 1 and gp[0]["cpr"] and gp[0]["resource_ids"]
    cprs = [r["cpr"] for rows in lists.values() for r in rows if r["cpr"]]
    assert cprs and all(is_synthetic_cpr(c) for c in cprs)


def test_a_real_format_cpr_never_reaches_a_list_or_the_json() -> None:
    run = hand_built_run()
    clinic = run.clinics[0]
    failed = next(r for r in clinic.results if r.status is Status.FAILED)
    real = "0101501234"  # a real-format CPR (serial outside kcert's synthetic range)
    bad = dataclasses.replace(
        failed, failing=(FailingRecord(real, ("p1",), f"see {real}"),), reason=f"cpr {real}"
    )
    text = failing_csv(bad).decode()
    assert real not in text and "010150-xxxx" in text
    run = dataclasses.replace(
        run,
        clinics=(
            dataclasses.replace(clinic, results=(bad, *clinic.results[1:])),
            *run.clinics[1:],
        ),
    )
    files = build_files(run, "RUN-1", "da")
    assert not any(real.encode() in data for data in files.values())
    named = dataclasses.replace(run.clinics[0], name=f"Klinik {real}")
    files = build_files(dataclasses.replace(run, clinics=(named,)), "RUN-1", "en")
    assert not any(real.encode() in data for data in files.values())
    assert b"Klinik 010150-xxxx" in files[f"{OWN}.html"]


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return data


def test_quality_json_validates_against_its_schema(
    files_da: dict[str, bytes], files_en: dict[str, bytes]
) -> None:
    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for files in (files_da, files_en):
        data = json.loads(files["quality.json"])
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
            data
        )
        assert data["status"] == "failed" and data["summary"]["clinics"] == 2
        own = data["clinics"][0]
        assert own["sor"] == OWN and own["vendor"] == "vendorA" and own["cluster"] == "north"
        gp = next(c for c in own["checks"] if c["id"] == "patient-without-gp")
        assert gp["status"] == "failed" and gp["numerator"] == 1 and gp["denominator"] == 26
        assert gp["failing_file"] == f"failing-{OWN}-patient-without-gp.csv"
        assert data["comparisons"]


def test_a_broken_quality_json_does_not_validate() -> None:
    data = quality_json(hand_built_run(), "RUN-1")
    data["clinics"][0]["checks"][0]["status"] = "kinda"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, _schema())


def _properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every property schema of the document, by its path."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            found.append((f"{path}/{name}", sub))
        for key, sub in node.items():
            if key in ("properties", "$defs"):
                for name, inner in sub.items():
                    found += _properties(inner, f"{path}/{name}")
            elif isinstance(sub, dict):
                found += _properties(sub, f"{path}/{key}")
    return found


def test_the_schema_documents_every_field() -> None:
    schema = _schema()
    undocumented = [
        path
        for path, sub in _properties(schema)
        if "description" not in sub
        and path.split("/")[-1] not in ("da", "en")
        and "/counts/" not in path
    ]
    assert undocumented == []
    # what the writer writes is what the schema names (no field undocumented by omission)
    data = quality_json(hand_built_run(), "RUN-1")
    assert sorted(data) == sorted(schema["properties"])
    assert sorted(data["clinics"][0]) == sorted(schema["$defs"]["clinic"]["properties"])
    check = data["clinics"][0]["checks"][0]
    assert sorted(check) == sorted(schema["$defs"]["check"]["properties"])


def test_the_folder_is_renamed_into_place_and_a_failure_leaves_nothing(
    tmp_path: Path, files_da: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "reports" / "RUN-1" / "quality"
    write_folder(files_da, target)
    assert (target / "index.html").is_file() and (target / "plots" / f"{OWN}-age.svg").is_file()
    with pytest.raises(FileExistsError):  # never written over
        write_folder(files_da, target)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folder_mod, "_pdfs", broken)
    second = tmp_path / "reports" / "RUN-2" / "quality"
    with pytest.raises(OSError):
        write_folder(files_da, second, pdf=True)
    assert not second.exists()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["RUN-1"]


@pytest.mark.slow
def test_the_pdf_scorecard_shows_the_plots(tmp_path: Path, files_da: dict[str, bytes]) -> None:
    import pypdfium2

    only = {n: d for n, d in files_da.items() if not n.endswith(".html") or n == f"{OWN}.html"}
    target = write_folder(only, tmp_path / "r" / "RUN-1" / "quality", pdf=True, run_id="RUN-1")
    pdf = pypdfium2.PdfDocument(str(target / f"{OWN}.pdf"))
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    # the titles inside the SVGs, drawn as text by weasyprint: the plots are in the PDF
    assert "Andel fejlende pr. tjek mod tærsklen" in text
    assert "95 %-grænse" in text  # the funnel's legend
    assert "alder (år før opgørelsesdagen)" in text  # the histogram's axis
    assert "Patienter uden almen praktiserende læge" in text
