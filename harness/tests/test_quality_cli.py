"""`kcert quality score` end to end with the stand-in engine: the summary, --json, exit codes
0/1/2, bad input (file#/pointer, file:line, a real-format CPR) with nothing written, a folder
of extracts with labels, the run in the run store and its signed manifest verified."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from harness.cli.main import main
from harness.population.extract import read_extract
from harness.population.extractcsv import write_extract_csv
from harness.population.extractgen import generate_extract
from harness.quality.model import Status
from harness.tests import quality_standin
from harness.tests.quality_standin import HAND_WRITTEN, install

SCHEMA = Path(__file__).resolve().parents[1] / "quality" / "quality.schema.json"
OWN = "999991000016008"
CLEAN_SOR = "999981000016002"


@pytest.fixture(autouse=True)
def standin(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("KCERT_STORE", raising=False)


def clean(path: Path, sor: str = CLEAN_SOR, seed: int = 1, size: int = 30) -> Path:
    import datetime as dt

    made = generate_extract(seed, size, dt.date(2027, 3, 1), sor, f"Klinik {sor[-4:]}")
    path.write_text(json.dumps(made.bundle), encoding="utf-8")
    return path


def score(*argv: str | Path) -> int:
    return main(["quality", "score", *(str(a) for a in argv)])


def run_folders(reports: Path) -> list[Path]:
    if not reports.is_dir():
        return []
    return [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]


def test_a_faulty_extract_fails_with_a_danish_summary_and_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    assert score(HAND_WRITTEN, "--reports", reports) == 1
    out = capsys.readouterr().out
    assert f"{OWN} Lægehuset Datakvalitet (kcert): score 25,0 (1 af 4 tjek bestået)" in out
    assert "✗ patient-without-gp Patienter uden almen praktiserende læge: 3,8 % (1/26)" in out
    assert "> tærskel 0,0 %" in out and "rapport:" in out
    (run_dir,) = run_folders(reports)
    quality = run_dir / "quality"
    assert (quality / f"{OWN}.html").is_file() and (quality / "index.html").is_file()
    assert (quality / f"failing-{OWN}-patient-without-gp.csv").is_file()
    assert (run_dir / "index.html").is_file() and (run_dir / "results.json").is_file()
    # the run's own report shows the clinic's plots (step 1's artifacts)
    assert "rates.svg" in (run_dir / "index.html").read_text(encoding="utf-8")
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert (
        results["verdict"] in ("ikke-godkendt", "Ikke godkendt")
        or "ikke" in str(results["verdict"]).lower()
    )
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert "quality/quality.json" in manifest["files"]  # the manifest covers the folder


def test_english_summary_and_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert score(HAND_WRITTEN, "--reports", tmp_path / "r", "--lang", "en") == 1
    out = capsys.readouterr().out
    assert "score 25.0 (1 of 4 checks passed)" in out and "> threshold 0.0 %" in out
    assert score(HAND_WRITTEN, "--reports", tmp_path / "r", "--json") == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # stdout is quality.json alone
    jsonschema.validate(data, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert data["status"] == "failed" and data["clinics"][0]["sor"] == OWN


def test_a_clean_extract_passes_with_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extract = clean(tmp_path / "clean.json")
    assert score(extract, "--reports", tmp_path / "r", "--lang", "en") == 0
    out = capsys.readouterr().out
    assert "0 with failed checks, 0 with errors" in out
    (run_dir,) = run_folders(tmp_path / "r")
    assert not list((run_dir / "quality").glob("failing-*.csv"))


def test_a_check_kcert_could_not_evaluate_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    real = quality_standin.evaluate

    def erring(*args: object) -> object:
        clinic = real(*args)  # type: ignore[arg-type]
        first = dataclasses.replace(
            clinic.results[0], status=Status.ERROR, reason="the engine fell over"
        )
        return dataclasses.replace(clinic, results=(first, *clinic.results[1:]))

    monkeypatch.setattr(quality_standin, "evaluate", erring)
    assert score(HAND_WRITTEN, "--reports", tmp_path / "r", "--lang", "en") == 2
    assert "error: the engine fell over" in capsys.readouterr().out


def test_a_folder_of_extracts_is_many_clinics_with_labels_and_a_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "clinics"
    folder.mkdir()
    shutil.copy(HAND_WRITTEN, folder / "a-hand.json")
    clean(folder / "b-clean.json")
    clean(folder / "c-clean.json", sor="999951000016007", seed=2)
    write_extract_csv(read_extract(HAND_WRITTEN), folder / "d-csv")  # the CSV form counts too
    (folder / "labels.csv").write_text(
        "extract,vendor,cluster\na-hand.json,VendorA,nord\nb-clean.json,VendorB,nord\n"
        "d-csv,VendorA,syd\n",
        encoding="utf-8",
    )
    assert score(folder, "--reports", tmp_path / "r", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert [c["source"].rsplit("/", 1)[-1] for c in data["clinics"]] == [
        "a-hand.json",
        "b-clean.json",
        "c-clean.json",
        "d-csv",
    ]
    assert [c["vendor"] for c in data["clinics"]] == ["VendorA", "VendorB", "", "VendorA"]
    assert data["summary"] == {
        "clinics": 4,
        "passed": 2,
        "failed": 2,
        "error": 0,
        "patients": 26 + 30 + 30 + 26,
    }
    # the same SOR twice (the JSON and the CSV form of one extract): two scorecards
    assert [c["scorecard"] for c in data["clinics"]][::3] == [f"{OWN}.html", f"{OWN}-2.html"]
    (run_dir,) = run_folders(tmp_path / "r")
    index = (run_dir / "quality" / "index.html").read_text(encoding="utf-8")
    assert all(c["scorecard"] in index for c in data["clinics"])
    assert "plots/funnel-patient-without-gp.svg" in index


def _bad(path: Path, old: str, new: str) -> Path:
    path.write_text(HAND_WRITTEN.read_text(encoding="utf-8").replace(old, new, 1), "utf-8")
    return path


def test_a_malformed_extract_names_file_and_pointer_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad(tmp_path / "bad.json", '"birthDate": "1950-01-01"', '"birthDate": "1950-13-45"')
    reports = tmp_path / "reports"
    assert score(bad, "--reports", reports, "--lang", "en") == 2
    out = capsys.readouterr().out
    assert "kcert: error:" in out
    assert f"{bad}#/entry/" in out and "/resource/birthDate: expected a date" in out
    assert not reports.exists()  # nothing written, not even the store


def test_danish_error_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert score(bad, "--reports", tmp_path / "r") == 2
    out = capsys.readouterr().out
    assert out.startswith("kcert: fejl: ") and str(bad) in out
    assert not (tmp_path / "r").exists()


def test_a_malformed_csv_extract_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "csv"
    write_extract_csv(read_extract(HAND_WRITTEN), folder)
    patients = folder / "patients.csv"
    lines = patients.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[lines[0].split(",").index("birth_date")] = "19x0-01-01"  # the 4th line's birth date
    lines[3] = ",".join(cells)
    patients.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert score(folder, "--reports", tmp_path / "r", "--lang", "en") == 2
    out = capsys.readouterr().out
    assert "kcert: error:" in out and f"{patients}:4:" in out
    assert not (tmp_path / "r").exists()


def test_a_real_format_cpr_is_refused_and_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _bad(tmp_path / "real.json", "0101509901", "0101501234")
    assert score(real, "--reports", tmp_path / "r", "--lang", "en") == 2
    out = capsys.readouterr().out
    assert "real CPR numbers are refused" in out and "010150-xxxx" in out
    assert "0101501234" not in out
    assert not (tmp_path / "r").exists()


def test_one_bad_extract_in_a_folder_stops_the_run_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "clinics"
    folder.mkdir()
    clean(folder / "a.json")
    _bad(folder / "b.json", '"birthDate": "1950-01-01"', '"birthDate": "x"')
    assert score(folder, "--reports", tmp_path / "r", "--lang", "en") == 2
    assert f"{folder / 'b.json'}#/entry/" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()


def test_no_such_input_and_no_as_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert score(tmp_path / "nothing.json", "--reports", tmp_path / "r", "--lang", "en") == 2
    assert "no such file or folder" in capsys.readouterr().out
    undated = tmp_path / "undated.json"
    data = json.loads(HAND_WRITTEN.read_text(encoding="utf-8"))
    del data["timestamp"]
    undated.write_text(json.dumps(data), encoding="utf-8")
    assert score(undated, "--reports", tmp_path / "r", "--lang", "en") == 2
    assert "give --as-of" in capsys.readouterr().out
    assert score(undated, "--reports", tmp_path / "r", "--as-of", "2027-03-01") == 1
    capsys.readouterr()


def test_a_bad_catalogue_is_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert score(HAND_WRITTEN, "--catalogue", missing, "--reports", tmp_path / "r") == 2
    assert f"{missing}:1: catalogue: no such file" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()


def test_without_the_engine_the_command_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "harness.quality.engine", None)
    assert score(HAND_WRITTEN, "--reports", tmp_path / "r", "--lang", "en") == 2
    assert "not part of this build" in capsys.readouterr().out


def test_the_run_is_in_the_store_and_its_signed_manifest_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.dossier.signing import generate_keys

    private, public = generate_keys(tmp_path / "keys")
    reports = tmp_path / "reports"
    assert score(HAND_WRITTEN, "--reports", reports, "--sign-key", private) == 1
    (run_dir,) = run_folders(reports)
    capsys.readouterr()
    assert main(["runs", "list", "--reports", str(reports)]) == 0
    assert run_dir.name in capsys.readouterr().out
    assert main(["verify", str(run_dir), "--public-key", str(public), "--lang", "en"]) == 0
    capsys.readouterr()
    # a changed patient list breaks the signature's file check
    listed = run_dir / "quality" / f"failing-{OWN}-patient-without-gp.csv"
    listed.write_text(listed.read_text(encoding="utf-8") + "0101509999,,x\n", encoding="utf-8")
    assert main(["verify", str(run_dir), "--public-key", str(public), "--lang", "en"]) != 0
    assert "failing-" in capsys.readouterr().out


def test_a_quality_run_is_not_rejudged_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    assert score(HAND_WRITTEN, "--reports", reports) == 1
    (run_dir,) = run_folders(reports)
    capsys.readouterr()
    assert main(["rejudge", run_dir.name, "--reports", str(reports), "--lang", "en"]) == 2
    assert "is a data-quality run" in capsys.readouterr().out


@pytest.mark.slow
def test_pdf_scorecards_and_the_run_report_pdf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pypdfium2

    assert score(HAND_WRITTEN, "--reports", tmp_path / "r", "--pdf", "--lang", "en") == 1
    (run_dir,) = run_folders(tmp_path / "r")
    for pdf_path in (run_dir / "quality" / f"{OWN}.pdf", run_dir / "report.pdf"):
        pdf = pypdfium2.PdfDocument(str(pdf_path))
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        assert "Failing rate per check against its threshold" in text, pdf_path
    assert (run_dir / "quality" / "index.pdf").is_file()
