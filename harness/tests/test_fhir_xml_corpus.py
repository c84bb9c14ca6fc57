"""The FHIR XML reader and writer against the shared corpus: every JSON example round-trips
through XML unchanged, every XML file reads without a Python exception."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from harness.fhir.errors import FhirReadError, FhirWriteError
from harness.fhir.modeltypes import ModelTypes
from harness.fhir.types import TypeSource
from harness.fhir.xmlread import read_fhir_xml
from harness.fhir.xmlwrite import write_fhir_xml
from harness.safeparse import PayloadError, parse_json
from harness.tests.test_fhir_xml import definition_types


@pytest.fixture(scope="module", params=["r4-definitions", "r4b-models"])
def types(request: pytest.FixtureRequest) -> TypeSource:
    if request.param == "r4b-models":
        return ModelTypes()
    return definition_types(request.getfixturevalue("r4_core"))


def json_examples(corpus: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes): package/example/*.json of the MedCom packages, then validator-tests/*.json."""
    for package in sorted((corpus / "fhir" / "packages").glob("*.tgz")):
        with tarfile.open(package, "r:gz") as archive:
            for member in archive:
                name = member.name
                if (
                    member.isfile()
                    and name.startswith("package/example/")
                    and name.endswith(".json")
                ):
                    handle = archive.extractfile(member)
                    assert handle is not None
                    yield f"{package.name}:{name}", handle.read()
    for path in sorted((corpus / "fhir" / "validator-tests").glob("*.json")):
        yield f"validator-tests/{path.name}", path.read_bytes()


def xml_files(corpus: Path) -> list[Path]:
    fhir = corpus / "fhir"
    return sorted((fhir / "validator-tests").rglob("*.xml")) + sorted(
        (fhir / "examples").rglob("*.xml")
    )


def normalised(value: Any) -> Any:
    """Documented normalisation: the narrative div compared as canonical XML (C14N)."""
    if isinstance(value, dict):
        return {
            k: _canonical_div(v) if k == "div" and isinstance(v, str) else normalised(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def _canonical_div(text: str) -> bytes:
    return bytes(etree.tostring(etree.fromstring(text.encode("utf-8")), method="c14n"))


def test_json_examples_round_trip_through_xml(corpus: Path, types: TypeSource) -> None:
    counts = {"round-trip": 0, "not-json": 0, "not-a-resource": 0, "not-writable": 0}
    refused: list[str] = []
    differing: list[str] = []
    for name, data in json_examples(corpus):
        try:
            resource = parse_json(data)
        except PayloadError:
            counts["not-json"] += 1  # deliberately broken JSON in the validator tests
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            counts["not-a-resource"] += 1
            continue
        try:
            xml = write_fhir_xml(resource, types)
        except FhirWriteError as exc:
            # Not FHIR JSON (unknown element, wrong JSON type, empty array, bad XHTML): the
            # writer refuses rather than guess. Only the validator tests may hold such.
            counts["not-writable"] += 1
            refused.append(f"{name}: {exc}")
            continue
        back = read_fhir_xml(xml, types)
        if back.problems or normalised(back.resource) != normalised(resource):
            differing.append(f"{name}: {back.problems[:3]}")
            continue
        counts["round-trip"] += 1
    assert not differing, differing[:10]
    assert not [r for r in refused if not r.startswith("validator-tests/")], refused
    assert counts["round-trip"] >= 850, counts
    assert counts["not-writable"] <= 12, refused
    print(f"\n{type(types).__name__}: {counts}")


def test_every_xml_file_reads_without_an_exception(corpus: Path, types: TypeSource) -> None:
    files = xml_files(corpus)
    assert len(files) >= 150
    read = refused = 0
    for path in files:
        try:
            result = read_fhir_xml(path.read_bytes(), types)
        except (FhirReadError, PayloadError) as exc:
            assert exc.line is not None, (path, exc)  # e.g. a CDA document: not FHIR
            refused += 1
            continue
        read += 1
        json.dumps(result.resource)
        assert all(isinstance(p.message, str) and p.message for p in result.problems)
        if "examples" in path.parts:
            assert result.problems == [], (path.name, result.problems[:3])  # MedCom's own
    assert read >= len(files) - 5 and refused <= 5, (read, refused)


def test_xml_rewritten_reads_the_same(corpus: Path, types: TypeSource) -> None:
    """XML -> JSON -> XML (definition order) -> JSON is stable, and out-of-order is repaired."""
    for path in xml_files(corpus):
        try:
            first = read_fhir_xml(path.read_bytes(), types)
        except (FhirReadError, PayloadError):
            continue
        if any("unknown element" in p.message for p in first.problems):
            continue  # kept for the validator, but not writable as FHIR
        again = read_fhir_xml(write_fhir_xml(first.resource, types), types)
        assert again.resource == first.resource and again.problems == [], path.name


def test_both_type_sources_read_the_medcom_examples_alike(corpus: Path, r4_core: Path) -> None:
    definitions, models = definition_types(r4_core), ModelTypes()
    for path in sorted((corpus / "fhir" / "examples").rglob("*.xml")):
        data = path.read_bytes()
        assert read_fhir_xml(data, definitions).resource == read_fhir_xml(data, models).resource
