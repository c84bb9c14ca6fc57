"""One validator API: every validator offers iter_findings(document, context) and nothing else
that validates; the ValidatorContext carries the notes (not_run, fhir_context, missing, packs).

Runs without packs and without the corpus: the notes are exactly what an empty pack store gives.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from harness.packs.store import PackStore
from harness.validators.api import Validator, ValidatorContext, as_context
from harness.validators.documents import DocumentReport, DocumentValidator, UnusableInput
from harness.validators.fhirprofile import ProfileIndex, ProfileValidator
from harness.validators.oioxml import OioxmlSchemas, OioxmlXsd
from harness.validators.schematron import CompiledSchematron, SchematronValidator
from harness.validators.xsd import XsdValidator

VALIDATORS = [
    XsdValidator,
    OioxmlXsd,
    OioxmlSchemas,
    CompiledSchematron,
    SchematronValidator,
    ProfileValidator,
    DocumentValidator,
]

CDA = b"""<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="1.2.208.184.15.1"/>
<recordTarget><patientRole><id root="1.2.208.176.1.2" extension="2512489996"/></patientRole>
</recordTarget></ClinicalDocument>"""
PATIENT = b'{"resourceType": "Patient", "id": "p1", "gender": "female"}'


@pytest.mark.parametrize("cls", VALIDATORS, ids=lambda c: c.__name__)
def test_every_validator_has_the_one_shape(cls: type) -> None:
    parameters = list(inspect.signature(cls.iter_findings).parameters)
    assert parameters == ["self", "document", "context"], cls
    assert inspect.signature(cls.iter_findings).parameters["context"].default is None
    # the old shapes are gone: no list-returning validate(), no report() beside it
    assert not hasattr(cls, "validate"), cls
    assert cls is DocumentValidator or not hasattr(cls, "report"), cls


def test_the_protocol_is_structural() -> None:
    def judge(validator: Validator[bytes], document: bytes) -> list[str]:
        return [f.rule_id for f in validator.iter_findings(document, ValidatorContext("d"))]

    assert judge(DocumentValidator(PackStore(Path("/nonexistent-kcert-store"))), PATIENT) == []


@pytest.fixture
def empty(tmp_path: Path) -> DocumentValidator:
    return DocumentValidator(PackStore(tmp_path / "store"))


def test_the_notes_of_a_cda_document_without_packs(empty: DocumentValidator) -> None:
    context = ValidatorContext("cpd.xml")
    findings = list(empty.iter_findings(CDA, context))
    assert context.kind == "cda"  # detected, and said
    assert context.missing == ["cda-schema"]
    assert context.not_run == ["XML Schema: pack missing (cda-schema)", "pack missing (schematron)"]
    assert context.packs == [] and context.fhir_context is None
    assert all(f.location.evidence == "cpd.xml" for f in findings)


def test_the_notes_of_a_fhir_resource_without_packs(empty: DocumentValidator) -> None:
    context = ValidatorContext("p.json")
    list(empty.iter_findings(PATIENT, context))
    assert context.kind == "fhir" and not context.missing
    assert context.not_run == ["pack missing (FHIR packages): base and profile checks"]


def test_the_document_report_is_built_from_the_same_notes(
    empty: DocumentValidator, tmp_path: Path
) -> None:
    path = tmp_path / "cpd.xml"
    path.write_bytes(CDA)
    report = empty.report(path)
    assert isinstance(report, DocumentReport)
    assert (report.kind, report.missing) == ("cda", ["cda-schema"])
    assert report.verdict.startswith("INCOMPLETE (pack missing: cda-schema")
    assert report.to_dict()["not_run"] == report.not_run


def test_an_unusable_document_is_named_by_its_evidence(empty: DocumentValidator) -> None:
    with pytest.raises(UnusableInput, match=r"^broken\.xml: "):
        list(empty.iter_findings(b"<a><b></a>", ValidatorContext("broken.xml", kind="cda")))


def test_the_fhir_validator_says_which_context_judged_and_what_did_not_run() -> None:
    validator = ProfileValidator(ProfileIndex([]))
    context = ValidatorContext("p.json")
    findings = list(validator.iter_findings({"resourceType": "Patient", "id": "p1"}, context))
    assert context.fhir_context is not None and not context.fhir_context.has_core
    assert any("hl7.fhir.r4.core" in note for note in context.not_run), context.not_run
    assert all(f.location.evidence == "p.json" for f in findings)
    # notes are not repeated when a context is judged in twice
    list(validator.iter_findings({"resourceType": "Patient", "id": "p1"}, context))
    assert len(context.not_run) == len(set(context.not_run))


def test_a_context_left_out_is_a_fresh_one() -> None:
    validator = ProfileValidator(ProfileIndex([]))
    first = list(validator.iter_findings({"resourceType": "Patient", "id": "p1"}))
    again = list(validator.iter_findings({"resourceType": "Patient", "id": "p1"}))
    assert first == again


def test_an_evidence_name_alone_stands_for_a_context(empty: DocumentValidator) -> None:
    assert as_context("x.xml") == ValidatorContext("x.xml")
    assert as_context(None) == ValidatorContext()
    given = ValidatorContext("y.xml")
    assert as_context(given) is given
    bad_cpr = CDA.replace(b"2512489996", b"1234")
    findings = list(empty.iter_findings(bad_cpr, "named.xml"))
    assert [f.rule_id for f in findings] == ["CDA-CPR"]
    assert findings[0].location.evidence == "named.xml"
