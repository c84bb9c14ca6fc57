"""The check catalogue: the built-in one is complete and consistent; mistakes at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.oracle.rulepack import DEFAULT_RULEPACK
from harness.quality.catalogue import (
    DEFAULT_CATALOGUE,
    TYPES,
    CatalogueError,
    load_catalogue,
)
from harness.quality.checks import TYPES as EVALUATED
from harness.quality.model import Category, Level

BUILT_IN = DEFAULT_CATALOGUE.read_text(encoding="utf-8")


def test_the_built_in_catalogue() -> None:
    catalogue = load_catalogue()
    assert (catalogue.id, catalogue.version) == ("lps-quality", "1.0.0")
    assert catalogue.path == DEFAULT_CATALOGUE and len(catalogue.sha256) == 64
    assert len({c.id for c in catalogue.checks}) == len(catalogue.checks) >= 21
    assert {c.category for c in catalogue.checks} == set(Category)
    assert {c.level for c in catalogue.checks} == set(Level)
    for check in catalogue.checks:
        assert check.title_da and check.title_en and check.explanation_da and check.explanation_en
        assert 0 <= check.threshold <= 1 and check.distorts and check.params["type"] in TYPES
        assert BUILT_IN.splitlines()[check.line - 1].strip() == f"- id: {check.id}"


def test_every_type_is_evaluated_and_used() -> None:
    assert set(TYPES) == set(EVALUATED)
    assert {c.params["type"] for c in load_catalogue().checks} == set(TYPES)


def test_every_distorted_profile_is_a_cockpit_profile() -> None:
    pack = yaml.safe_load(DEFAULT_RULEPACK.read_text(encoding="utf-8"))
    profiles = {p["id"] for p in pack["profiles"]}
    for check in load_catalogue().checks:
        for d in check.distorts:
            assert d.target.startswith("plan.") or d.target in profiles, (check.id, d.target)
            assert d.da and d.en


def test_names_are_resolved_into_the_params() -> None:
    by_id = {c.id: c for c in load_catalogue().checks}
    inhaler = by_id["inhaler-without-copd"].params
    assert inhaler["system"] == "http://www.whocc.no/atc"
    assert {(d["system"], d["prefix"]) for d in inhaler["diagnoses"]} == {
        ("urn:oid:1.2.208.176.2.31", "R95"),
        ("urn:oid:1.2.208.176.2.4.12", "DJ44"),
    }
    population = by_id["missing-annual-control"].params["population"]
    assert isinstance(population, dict) and population["min_age"] == 18
    assert population["condition_statuses"] == ["active", "recurrence", "relapse"]


CASES = [
    # (what to replace, with what, the line to expect (text on it), field, reason)
    ("    threshold: 0.01\n    title: {da: Diagnose i fritekst",
     "    threshold: 0.01\n    colour: red\n    title: {da: Diagnose i fritekst",
     "colour: red", "checks[0].colour", "unknown field; known: id, type"),
    ("type: code-system\n", "type: code-systems\n", "type: code-systems", "checks[0].type",
     "unknown check type 'code-systems'; known: medication-without-diagnosis"),
    ("{table: conditions, systems: [icpc2, sks], finds: uncoded}",
     "{table: conditions, systems: [icpc2, sks], finds: uncoded, strict: true}",
     "{table: conditions, systems: [icpc2, sks], finds: uncoded, strict",
     "checks[0].params.strict", "unknown field; known: table, systems, finds"),
    ("{table: conditions, systems: [icpc2, sks], finds: uncoded}",
     "{table: conditions, systems: [icpc2, icd10], finds: uncoded}",
     "icd10", "checks[0].params.systems[1]", "unknown system 'icd10'"),
    ("atc: [R03], diagnoses: [kol]", "atc: [R03], diagnoses: [copd]", "diagnoses: [copd]",
     "checks[5].params.diagnoses[0]", "unknown code group 'copd'"),
    ("{population: pakke-kol, system", "{population: pakke-copd, system", "pakke-copd",
     "checks[16].params.population", "unknown population 'pakke-copd'"),
    ("    threshold: 0.005\n", "    threshold: 1.5\n", "threshold: 1.5", "checks[7].threshold",
     "1.5 is greater than the maximum of 1"),
    ("- id: diagnosis-wrong-system", "- id: diagnosis-free-text",
     "- id: diagnosis-free-text\n    type: code-system\n    category: conformance\n"
     "    level: patient\n    threshold: 0.01\n    title: {da: Diagnose i forkert",
     "checks[1].id", "duplicate check id"),
    ("        - {table: medications, column: start}",
     "        - {table: medications, column: stop}", "column: stop",
     "checks[9].params.dates[5].column", "medications has no date column 'stop'"),
    ("{table: patients, fault: birthdate-mismatch}", "{table: patients, fault: lab-local-code}",
     "fault: lab-local-code", "checks[12].params.fault", "the reader notes no such fault"),
    ("{da: Usandsynlig eGFR, en: Implausible eGFR}", "{da: Usandsynlig eGFR}",
     "{da: Usandsynlig eGFR}", "checks[8].title", "missing required field: 'en'"),
    ("kcert-quality-catalogue: 1\n", "kcert-quality-catalogue: 2\n", "kcert-quality-catalogue",
     "kcert-quality-catalogue", "1 was expected"),
    ("    level: clinic\n    threshold: 0.0\n", "    level: clinic\n    threshold: 0.1\n",
     "threshold: 0.1", "checks[21].threshold", "a clinic-level check tolerates nothing"),
    ("    type: register-age\n    category: completeness\n    level: clinic",
     "    type: register-age\n    category: completeness\n    level: patient",
     "level: patient\n    threshold: 0.0\n    title: {da: Patientfortegnelsen", "checks[21].level",
     "a register-age check is clinic level"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "on", "field", "reason"), CASES)
def test_mistakes_are_named_at_file_line(
    tmp_path: Path, old: str, new: str, on: str, field: str, reason: str
) -> None:
    assert BUILT_IN.count(old) >= 1, old
    text = BUILT_IN.replace(old, new, 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert text.count(on) == 1, on
    line = text[: text.index(on)].count("\n") + 1
    with pytest.raises(CatalogueError) as err:
        load_catalogue(path)
    assert str(err.value).startswith(f"{path}:{line}: {field}: "), str(err.value)
    assert reason in str(err.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"nothing\.yaml:1: cannot read file"):
        load_catalogue(tmp_path / "nothing.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"list\.yaml:1: a catalogue is a mapping"):
        load_catalogue(path)
