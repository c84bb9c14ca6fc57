"""The lenient extract reader beside the strict one: one parser, faults kept, malformed refused."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.population import facts as f
from harness.population.builder import BundleBuilder
from harness.population.extract import ExtractError, read_clinics, read_extract, read_extract_data
from harness.population.extractcsv import write_extract_csv
from harness.population.extractgen import generate_extract
from harness.population.faults import KIND_IDS, Rate, plant
from harness.population.generator import generate, write_json
from harness.population.model import ATC
from harness.population.reader import read_population

SOR = "999991000016008"
AS_OF = dt.date(2027, 3, 1)
Bundle = dict[str, Any]


def _small() -> Bundle:
    """Clinic, other clinic, one patient with a diagnosis, a BP, an inhaler and a service."""
    counter = iter(range(1, 10_000))
    b = BundleBuilder(lambda: f"00000000-0000-4000-8000-{next(counter):012d}")
    clinic = b.organization(SOR, "K", own=True, register_updated=dt.date(2027, 2, 20))
    b.organization("999961000016009", "Other", own=False)
    p = b.patient("0505509902", "A", "B", "female", dt.date(1950, 5, 5), clinic)
    b.condition(p, "R95", recorded=dt.date(2020, 1, 1))  # entry 3
    b.observation(p, "bp", dt.date(2026, 1, 1), 140.0)  # entry 4
    b.medication(p, "R03AK06", dt.date(2025, 6, 1))  # entry 5
    b.service(p, "0120", dt.date(2026, 5, 1))  # entry 6
    return b.bundle(timestamp=AS_OF)


def _set(path: str, value: Any) -> Callable[[Bundle], None]:
    """Set (or with value None: delete) entry/N/resource/<path> in a bundle."""

    def mutate(bundle: Bundle) -> None:
        index, *keys = path.split("/")
        target = bundle["entry"][int(index)]["resource"]
        for key in keys[:-1]:
            target = target[key]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return mutate


ICD10 = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J44"}]}
LOCAL = {"coding": [{"system": "urn:lab:x", "code": "BT"}]}
R = "/entry/{}/resource"
FAULTS = [
    # (noted fault, mutation, the strict reader's pointer, the table the row stays in)
    (f.DIAGNOSIS_FREE_TEXT, _set("3/code", {"text": "KOL"}), R.format(3) + "/code", "conditions"),
    (f.DIAGNOSIS_WRONG_SYSTEM, _set("3/code", ICD10), R.format(3) + "/code", "conditions"),
    (f.CONDITION_WITHOUT_STATUS, _set("3/clinicalStatus", None),
     R.format(3) + "/clinicalStatus", "conditions"),
    (f.LAB_LOCAL_CODE, _set("4/code", LOCAL), R.format(4) + "/code", "observations"),
    (f.OBSERVATION_WITHOUT_VALUE, _set("4/valueQuantity", None), R.format(4), "observations"),
    (f.MEDICATION_UNCODED, _set("5/medicationCodeableConcept", {"text": "Spiriva"}),
     R.format(5) + "/medicationCodeableConcept", "medications"),
    (f.MISSING_GP, _set("2/generalPractitioner", None),
     R.format(2) + "/generalPractitioner", "patients"),
    (f.BIRTHDATE_MISMATCH, _set("2/birthDate", "1950-05-06"), R.format(2) + "/birthDate",
     "patients"),
]  # fmt: skip


def test_the_small_bundle_is_clean_both_ways() -> None:
    population, problems = read_population(_small())
    assert problems == []
    assert population.register_updated == dt.date(2027, 2, 20) and population.as_of == AS_OF
    (patient,) = population.patients
    assert [(m.code, m.status, m.start) for m in patient.medications] == [
        ("R03AK06", "active", dt.date(2025, 6, 1))
    ]
    extract = read_extract_data(_small(), "small")
    assert extract.noted() == {} and extract.medications[0].system == ATC
    assert extract.observations[0].unit == "mmHg"


@pytest.mark.parametrize(
    ("fault", "mutate", "pointer", "table"), FAULTS, ids=[x[0] for x in FAULTS]
)
def test_strict_refuses_what_the_lenient_reader_keeps(
    fault: str, mutate: Callable[[Bundle], None], pointer: str, table: str
) -> None:
    bundle = _small()
    mutate(bundle)
    _, problems = read_population(bundle)
    assert [p.pointer for p in problems] == [pointer], problems
    assert problems[0].fault == fault
    extract = read_extract_data(bundle, "x.json")
    (row,) = [r for r in extract.table(table) if r.faults]
    assert row.faults == (fault,) and row.cpr == "0505509902"
    assert extract.noted() == {fault: {"0505509902"}}


def test_kept_rows_hold_the_raw_values() -> None:
    bundle = _small()
    _set("3/code", {"text": "KOL"})(bundle)
    _set("4/code", {"coding": [{"system": "urn:lab:x", "code": "BT"}]})(bundle)
    _set("4/valueQuantity", {"value": 14.5, "unit": "kPa"})(bundle)
    _set("4/effectiveDateTime", "2031-01-01")(bundle)
    extract = read_extract_data(bundle, "x")
    assert (extract.conditions[0].text, extract.conditions[0].codings) == ("KOL", ())
    o = extract.observations[0]
    assert (o.system, o.code, o.number, o.unit, o.date) == (
        "urn:lab:x",
        "BT",
        14.5,
        "kPa",
        dt.date(2031, 1, 1),
    )


@pytest.mark.parametrize(
    ("mutate", "where", "needle"),
    [
        (_set("4/effectiveDateTime", "yesterday"), "#/entry/4/resource/effectiveDateTime", "date"),
        (_set("4/subject", {"reference": "urn:x"}), "#/entry/4/resource/subject", "Patient"),
        (_set("4/valueQuantity", {"value": "high"}), "#/entry/4/resource/valueQuantity/value",
         "number"),
        (_set("2/identifier", [{"system": "urn:oid:1.2.208.176.1.2", "value": "0505501234"}]),
         "#/entry/2/resource/identifier", "real CPR numbers are refused"),
        (_set("5/status", "taken"), "#/entry/5/resource/status", "status must be one of"),
    ],
)  # fmt: skip
def test_malformed_json_is_refused_at_its_pointer(
    tmp_path: Path, mutate: Callable[[Bundle], None], where: str, needle: str
) -> None:
    bundle = _small()
    mutate(bundle)
    path = tmp_path / "x.json"
    write_json(bundle, path)
    with pytest.raises(ExtractError) as err:
        read_extract(path)
    assert any(p.startswith(f"{path}{where}: ") and needle in p for p in err.value.problems), (
        err.value.problems
    )


def test_unreadable_json_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"resourceType": "Bundle", "entry": [', encoding="utf-8")
    with pytest.raises(ExtractError, match="not valid JSON"):
        read_extract(path)


def _faulty_extract(seed: int = 2) -> Bundle:
    made = generate_extract(seed, 200, AS_OF, SOR)
    plant(made.bundle, {k: Rate(rate=0.1) for k in KIND_IDS}, seed)
    return made.bundle


@pytest.mark.parametrize("which", ["faulty", "cockpit-population"])
def test_csv_round_trip_gives_the_same_facts(tmp_path: Path, which: str) -> None:
    bundle = _faulty_extract() if which == "faulty" else generate(3, 120, AS_OF, SOR).bundle
    path = tmp_path / "x.json"
    write_json(bundle, path)
    extract = read_extract(path)
    write_extract_csv(extract, tmp_path / "csv")
    back = read_extract(tmp_path / "csv")
    for name in f.FACT_TABLES:
        assert back.table(name) == extract.table(name), name
    assert (back.clinic_sor, back.clinic_name, back.as_of, back.register_updated) == (
        extract.clinic_sor,
        extract.clinic_name,
        extract.as_of,
        extract.register_updated,
    )
    assert back.noted() == extract.noted()
    assert back.patients[0].at == f"{tmp_path / 'csv' / 'patients.csv'}:2"
    write_extract_csv(back, tmp_path / "again")  # and the written files are a fixed point
    for file in (tmp_path / "csv").iterdir():
        assert (tmp_path / "again" / file.name).read_bytes() == file.read_bytes()


def _csv(tmp_path: Path) -> Path:
    write_extract_csv(read_extract_data(_small(), "small"), tmp_path / "csv")
    return tmp_path / "csv"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("patients.csv", "1950-05-05", "1950-13-05", "patients.csv:2: birth_date: expected a date"),
        ("patients.csv", "0505509902", "0505501234",
         "patients.csv:2: cpr: CPR 050550-xxxx is outside"),
        ("patients.csv", ",true,", ",yes,", "patients.csv:2: active: active must be true or false"),
        ("observations.csv", "140", "high", "observations.csv:2: value: must be a number"),
        ("observations.csv", "quantity", "decimal",
         "observations.csv:2: value_kind: must be one of"),
        ("services.csv", "2026-05-01", "", "services.csv:2: date: expected a date"),
        ("medications.csv", "0505509902", "0101019999",
         "medications.csv:2: cpr: does not reference"),
        ("clinic.csv", "2027-03-01", "tomorrow", "clinic.csv:2: as_of: expected a date"),
        ("patients.csv", "id,cpr", "id,cpr_number", "patients.csv:1: header must name"),
    ],
)  # fmt: skip
def test_malformed_csv_is_refused_at_file_line_column(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    folder = _csv(tmp_path)
    _edit(folder / file, old, new)
    with pytest.raises(ExtractError) as err:
        read_extract(folder)
    assert any(p.startswith(f"{folder}/{expected}") for p in err.value.problems), err.value.problems


def test_csv_faults_are_kept_like_json_ones(tmp_path: Path) -> None:
    folder = _csv(tmp_path)
    _edit(folder / "patients.csv", ",999991000016008,", ",,")  # no general practitioner
    _edit(folder / "conditions.csv", "urn:oid:1.2.208.176.2.31,R95,,", ",,,KOL")  # free text
    extract = read_extract(folder)
    assert extract.noted() == {
        f.MISSING_GP: {"0505509902"},
        f.DIAGNOSIS_FREE_TEXT: {"0505509902"},
    }
    assert extract.conditions[0].at == f"{folder}/conditions.csv:2"


def test_a_folder_of_extracts_with_labels(tmp_path: Path) -> None:
    folder = tmp_path / "clinics"
    folder.mkdir()
    write_json(_small(), folder / "a.json")
    write_json(generate_extract(1, 40, AS_OF, "123456789012345").bundle, folder / "b.json")
    write_extract_csv(read_extract_data(_small(), "c"), folder / "c")
    (folder / "notes").mkdir()  # a folder without clinic.csv is no extract
    (folder / "a.truth.json").write_text("{}", encoding="utf-8")  # planted faults' ground truth
    (folder / "labels.csv").write_text(
        "extract,vendor,cluster\na.json,Vendor A,by\nc,Vendor B,land\n", encoding="utf-8"
    )
    clinics = read_clinics(folder)
    assert [(c.name, c.vendor, c.cluster) for c in clinics] == [
        ("a.json", "Vendor A", "by"),
        ("b.json", "", ""),
        ("c", "Vendor B", "land"),
    ]
    assert clinics[1].extract.clinic_sor == "123456789012345"
    (folder / "labels.csv").write_text("extract,vendor,cluster\nz.json,V,C\n", encoding="utf-8")
    with pytest.raises(ExtractError, match=r"labels\.csv:2: extract: 'z\.json' is no extract"):
        read_clinics(folder)


def test_one_malformed_clinic_refuses_the_folder(tmp_path: Path) -> None:
    bad = _small()
    _set("4/effectiveDateTime", "soon")(bad)
    write_json(_small(), tmp_path / "a.json")
    write_json(bad, tmp_path / "b.json")
    with pytest.raises(ExtractError, match=r"b\.json#/entry/4/resource/effectiveDateTime"):
        read_clinics(tmp_path)


def _kcert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_population_extract_command(tmp_path: Path) -> None:
    bundle = _small()
    _set("2/generalPractitioner", None)(bundle)
    write_json(bundle, tmp_path / "x.json")
    done = _kcert("population", "extract", str(tmp_path / "x.json"), "--csv", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert "missing-gp 1" in done.stdout and (tmp_path / "c" / "patients.csv").is_file()
    done = _kcert("population", "extract", str(tmp_path / "c"), "--json")
    summary = json.loads(done.stdout)
    assert summary["faults_noted"] == {"missing-gp": 1} and summary["rows"]["medications"] == 1
    _set("4/effectiveDateTime", "soon")(bundle)
    write_json(bundle, tmp_path / "y.json")
    done = _kcert("population", "extract", str(tmp_path / "y.json"))
    assert done.returncode == 1 and "y.json#/entry/4/resource/effectiveDateTime" in done.stdout
