"""Every rule of the complete FHIR validation, each with a case that fires and one that stays
quiet: the base definitions walked at every depth, values, extensions, references, narrative,
Bundles, vital signs, value limits; validation contexts; the built-in fallback; reading."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.model.finding import Finding
from harness.validators.api import ValidatorContext
from harness.validators.fhirprofile import ProfileIndex, ProfileValidator, read_package
from harness.validators.fhirprofile.contexts import closure
from harness.validators.fhirprofile.packages import Entry, Package
from harness.validators.fhirprofile.reading import read_instance

EXT = "http://hl7.org/fhir/StructureDefinition/"
T = "http://kcert.test/fhir/StructureDefinition/"


@pytest.fixture(scope="module")
def core(r4_core_dir: Path) -> Package:
    return read_package(r4_core_dir)


@pytest.fixture(scope="module")
def base(core: Package) -> ProfileValidator:
    return ProfileValidator(ProfileIndex([core]))


def _package(name: str, resources: list[dict[str, Any]], deps: dict[str, str]) -> Package:
    entries = tuple(
        Entry(f"r{n}.json", r["resourceType"], r["url"], r.get("version", ""), resource=r)
        for n, r in enumerate(resources)
    )
    return Package(name, "1.0.0", "http://kcert.test/fhir", deps, entries, name, ("4.0.1",))


def _blocking(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.rule_id, f.location.path) for f in findings if f.blocking}


def _rules(findings: list[Finding], blocking: bool = True) -> set[str]:
    return {f.rule_id for f in findings if f.blocking or not blocking}


def _judged(
    validator: ProfileValidator, resource: dict[str, Any]
) -> tuple[list[Finding], ValidatorContext]:
    """The findings, and the context the validator wrote its notes to."""
    context = ValidatorContext()
    return list(validator.iter_findings(resource, context)), context


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "name": [{"family": "Test", "given": ["Karen"]}],
    "gender": "female",
    "birthDate": "2024-02-29",
}


def _patient(**changes: Any) -> dict[str, Any]:
    patient = copy.deepcopy(PATIENT)
    for key, value in changes.items():
        if value is None:
            patient.pop(key, None)
        else:
            patient[key] = value
    return patient


def test_a_valid_patient_is_quiet(base: ProfileValidator) -> None:
    findings, report = _judged(base, _patient())
    assert not _blocking(findings), findings
    assert report.fhir_context.root is None and report.fhir_context.has_core


@pytest.mark.parametrize(
    ("changes", "rule", "path"),
    [
        ({"foo": 1}, "FHIR-UNKNOWN-ELEMENT", "Patient.foo"),
        ({"active": [True]}, "FHIR-STRUCTURE", "Patient.active"),
        ({"name": {"family": "x"}}, "FHIR-STRUCTURE", "Patient.name"),
        ({"name": []}, "FHIR-STRUCTURE", "Patient.name"),
        ({"name": [{"given": [None]}]}, "FHIR-STRUCTURE", "Patient.name[0].given[0]"),
        ({"birthDate": "2027-02-30"}, "FHIR-VALUE", "Patient.birthDate"),
        # choice elements are named by their base name, as FHIRPath does (multipleBirth)
        ({"multipleBirthInteger": 2**31}, "FHIR-VALUE", "Patient.multipleBirth"),
        ({"name": [{"family": ""}]}, "FHIR-VALUE", "Patient.name[0].family"),
        ({"gender": ""}, "FHIR-TYPE", "Patient.gender"),  # not even a code's lexical form
        ({"id": "bad_id"}, "FHIR-VALUE", "Patient.id"),
        ({"id": "x" * 65}, "FHIR-VALUE", "Patient.id"),
        ({"gender": "x"}, "FHIR-BINDING", "Patient.gender"),
        ({"name": [{}]}, "FHIR-INVARIANT-ele-1", "Patient.name[0]"),
        (
            {"name": [{"family": "x", "period": {"start": "2021", "end": "2020"}}]},
            "FHIR-INVARIANT-per-1",
            "Patient.name[0].period",
        ),
        (
            {"telecom": [{"value": "12345678"}]},
            "FHIR-INVARIANT-cpt-2",
            "Patient.telecom[0]",
        ),
        ({"photo": [{"data": "aGVsbG8=", "size": 3}]}, "FHIR-VALUE", "Patient.photo[0]"),
        ({"photo": [{"data": "not base64!"}]}, "FHIR-VALUE", "Patient.photo[0].data"),
        (
            {"generalPractitioner": [{"reference": "Group/1"}]},
            "FHIR-REF",
            "Patient.generalPractitioner[0]",
        ),
        (
            {"generalPractitioner": [{"reference": "organization/1"}]},
            "FHIR-REF",
            "Patient.generalPractitioner[0]",
        ),
        (
            {"generalPractitioner": [{"reference": "Organization/1", "type": "Group"}]},
            "FHIR-REF",
            "Patient.generalPractitioner[0]",
        ),
        (
            {"generalPractitioner": [{"reference": "#nope"}]},
            "FHIR-INVARIANT-ref-1",
            "Patient.generalPractitioner[0]",
        ),
        (
            {"extension": [{"url": EXT + "patient-birthTime", "valueDateTime": "2026-01-01"}]},
            "FHIR-EXTENSION",
            "Patient.extension[0]",
        ),
        (
            {"name": [{"id": "a", "family": "x"}, {"id": "a", "family": "y"}]},
            "FHIR-STRUCTURE",
            "Patient.name[1]",
        ),
        (
            {"contained": [{"resourceType": "Practitioner", "id": "c1", "bogus": True}]},
            "FHIR-UNKNOWN-ELEMENT",
            "Patient.contained[0].bogus",
        ),
        (
            {"contained": [{"resourceType": "Practitioner", "id": "c_1"}]},
            "FHIR-VALUE",
            "Patient.contained[0].id",
        ),
    ],
)
def test_base_rules_fire(
    base: ProfileValidator, changes: dict[str, Any], rule: str, path: str
) -> None:
    found = _blocking(list(base.iter_findings(_patient(**changes))))
    assert (rule, path) in found, found


def test_quiet_variants_of_the_base_rules(base: ProfileValidator) -> None:
    quiet = _patient(
        name=[
            {
                "family": "x",
                "given": ["a", None],
                "_given": [None, {"extension": [_qualifier()]}],
                "period": {"start": "2020", "end": "2020-05-01"},  # precisions differ: fine
            }
        ],
        telecom=[{"system": "phone", "value": "12345678"}],
        photo=[{"data": "aGVsbG8=", "size": 5, "contentType": "text/plain"}],
        generalPractitioner=[{"reference": "Organization/1", "type": "Organization"}],
        # a contained resource's id may be longer than 64 characters
        contained=[{"resourceType": "Practitioner", "id": "c" * 70}],
        multipleBirthInteger=2,
    )
    quiet["generalPractitioner"].append({"reference": "#" + "c" * 70})
    assert not _blocking(list(base.iter_findings(quiet)))


def _qualifier() -> dict[str, Any]:
    return {"url": EXT + "iso21090-EN-qualifier", "valueCode": "BR"}


def test_data_absent_reason_does_not_meet_a_required_binding(base: ProfileValidator) -> None:
    absent = {"extension": [{"url": EXT + "data-absent-reason", "valueCode": "unknown"}]}
    allergy = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "patient": {"reference": "Patient/p"},
        "category": [None],
        "_category": [absent],
    }
    assert ("FHIR-BINDING", "AllergyIntolerance.category[0]") in _blocking(
        list(base.iter_findings(allergy))
    )
    allergy.update(category=["food"], _category=[None])
    assert not _blocking(list(base.iter_findings(allergy)))


def test_extensions_context_and_identity(base: ProfileValidator) -> None:
    birth_place = {"url": EXT + "patient-birthPlace", "valueAddress": {"city": "Odense"}}
    assert not _blocking(list(base.iter_findings(_patient(extension=[birth_place]))))
    misplaced = _patient(name=[{"family": "x", "extension": [birth_place]}])
    assert ("FHIR-EXTENSION", "Patient.name[0].extension[0]") in _blocking(
        list(base.iter_findings(misplaced))
    )
    unknown = {"url": "http://unknown.kcert.test/x", "valueString": "x"}
    assert ("FHIR-EXTENSION", "Patient.extension[0]") in _blocking(
        list(base.iter_findings(_patient(extension=[unknown])))
    )
    example = {"url": "http://example.org/fhir/StructureDefinition/x", "valueString": "x"}
    assert "FHIR-EXTENSION" in _rules(list(base.iter_findings(_patient(extension=[example]))))
    lenient = ProfileValidator(base.index, allow_examples=True)
    assert not _blocking(list(lenient.iter_findings(_patient(extension=[example]))))
    versioned = {**birth_place, "url": birth_place["url"] + "|4.0.1"}
    assert "FHIR-EXTENSION" in _rules(list(base.iter_findings(_patient(extension=[versioned]))))
    relative = {"url": "birthPlace", "valueString": "x"}
    assert "FHIR-EXTENSION" in _rules(list(base.iter_findings(_patient(extension=[relative]))))


def test_narrative_rules(base: ProfileValidator) -> None:
    def text(div: str) -> dict[str, Any]:
        return {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{div}</div>',
        }

    good = _patient(
        text=text('<a name="top">Karen</a> <a href="#top">up</a> <a href="https://x.dk">x</a>')
    )
    assert not _blocking(list(base.iter_findings(good)))
    dangling = _patient(text=text('<a href="#nowhere">see</a>'))
    assert ("FHIR-NARRATIVE", "Patient.text.div") in _blocking(list(base.iter_findings(dangling)))
    urn = _patient(text=text('<a href="urn:uuid:1">see</a>'))
    assert ("FHIR-NARRATIVE", "Patient.text.div") in _blocking(list(base.iter_findings(urn)))
    active = _patient(text=text("<script>x</script>Karen"))
    assert "FHIR-INVARIANT-txt-1" in _rules(list(base.iter_findings(active)))


def _entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource}
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


def _bundle(kind: str, *entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": "b", "type": kind, "entry": list(entries), **extra}


def test_bundle_rules(base: ProfileValidator) -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    base_url = "https://kcert.test/fhir/"
    quiet = _bundle("collection", _entry(patient, base_url + "Patient/p1"))
    assert not _blocking(list(base.iter_findings(quiet)))
    relative = _bundle("collection", _entry(patient, "Patient/p1"))
    assert ("FHIR-BUNDLE", "Bundle.entry[0]") in _blocking(list(base.iter_findings(relative)))
    mismatch = _bundle("collection", _entry(patient, base_url + "Patient/p2"))
    assert ("FHIR-BUNDLE", "Bundle.entry[0]") in _blocking(list(base.iter_findings(mismatch)))
    typo = _bundle("collection", _entry(patient, base_url + "Patinet/p2"))  # not RESTful
    assert not _blocking(list(base.iter_findings(typo)))
    links = [{"relation": "self", "url": base_url}, {"relation": "self", "url": base_url}]
    assert "FHIR-BUNDLE" in _rules(list(base.iter_findings({**quiet, "link": links})))
    paging = [{"relation": "next", "url": base_url}]
    assert "FHIR-BUNDLE" in _rules(list(base.iter_findings({**quiet, "link": paging})))
    no_id = _bundle("searchset", _entry({"resourceType": "Patient"}, base_url + "x"))
    assert ("FHIR-BUNDLE", "Bundle.entry[0].resource") in _blocking(list(base.iter_findings(no_id)))


def _composition(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Composition",
        "id": "c1",
        "status": "final",
        "type": {"text": "note"},
        "date": "2026-12-01",
        "author": [{"display": "kcert"}],
        "title": "t",
        "subject": {"reference": subject},
    }


def test_documents_hang_together_and_references_resolve_by_bundle_rules(
    base: ProfileValidator,
) -> None:
    doc = {
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"},
        "timestamp": "2026-12-01T10:00:00Z",
    }
    patient = {"resourceType": "Patient", "id": "p1"}
    url = "https://kcert.test/fhir/"
    good = _bundle(
        "document",
        _entry(_composition("Patient/p1"), url + "Composition/c1"),
        _entry(patient, url + "Patient/p1"),
        **doc,
    )
    assert not _blocking(list(base.iter_findings(good))), _blocking(list(base.iter_findings(good)))
    orphan = copy.deepcopy(good)
    orphan["entry"].append(
        _entry({"resourceType": "Basic", "id": "x", "code": {"text": "x"}}, url + "Basic/x")
    )
    assert ("FHIR-BUNDLE", "Bundle.entry[2]") in _blocking(list(base.iter_findings(orphan)))
    # a relative reference from a urn:uuid entry resolves to nothing, whatever ids say
    urn = _bundle(
        "document",
        _entry(_composition("Patient/p1"), "urn:uuid:1b6b9d6e-0c3a-4f35-9c6a-3b1e0a1b2c3d"),
        _entry(patient, "urn:uuid:2b6b9d6e-0c3a-4f35-9c6a-3b1e0a1b2c3d"),
        **doc,
    )
    assert "FHIR-REF" in _rules(list(base.iter_findings(urn)))
    collection = {**urn, "type": "collection"}
    collection.pop("identifier")
    found = list(base.iter_findings(collection))
    assert "FHIR-REF" in _rules(found, blocking=False) and "FHIR-REF" not in _rules(found)


def test_vital_signs_are_held_to_their_profile(base: ProfileValidator) -> None:
    heart = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2026-12-01",
        "valueQuantity": {
            "value": 60,
            "unit": "beats/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }
    findings, _ = _judged(base, heart)
    assert any("heartrate" in f.message for f in findings if not f.is_problem)
    without_category = _blocking(findings)
    assert any(rule == "FHIR-SLICE" or rule == "FHIR-CARD" for rule, _ in without_category)
    heart["category"] = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ]
    assert not _blocking(list(base.iter_findings(heart))), _blocking(
        list(base.iter_findings(heart))
    )
    coarse = {**heart, "effectiveDateTime": "2026"}  # vs-1: precise to the day
    assert "FHIR-INVARIANT-vs-1" in _rules(list(base.iter_findings(coarse)))
    unitless = {**heart, "valueQuantity": {"value": 60, "code": "/min"}}  # qty-3
    assert "FHIR-INVARIANT-qty-3" in _rules(list(base.iter_findings(unitless)))
    other = {**heart, "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]}}
    assert not any("heartrate" in f.message for f in base.iter_findings(other))


def _limits_profile() -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": T + "limits",
        "name": "Limits",
        "status": "active",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": EXT + "Patient",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Patient", "path": "Patient"},
                {
                    "id": "Patient.multipleBirth[x]",
                    "path": "Patient.multipleBirth[x]",
                    "type": [{"code": "integer"}],
                    "minValueInteger": 1,
                    "maxValueInteger": 9,
                },
                {
                    "id": "Patient.birthDate",
                    "path": "Patient.birthDate",
                    "minValueDuration": {
                        "value": 150,
                        "code": "a",
                        "system": "http://unitsofmeasure.org",
                    },
                },
                {"id": "Patient.name.family", "path": "Patient.name.family", "maxLength": 5},
            ]
        },
    }


def test_value_limits_from_a_generated_snapshot(core: Package) -> None:
    own = _package("kcert.test.limits", [_limits_profile()], {"hl7.fhir.r4.core": "4.0.1"})
    validator = ProfileValidator(ProfileIndex([core, own]))
    profiled = _patient(meta={"profile": [T + "limits"]})
    assert not _blocking(list(validator.iter_findings(profiled)))
    for changes, path in (
        ({"multipleBirthInteger": 12}, "Patient.multipleBirth"),
        ({"birthDate": "1850-01-01"}, "Patient.birthDate"),
        ({"name": [{"family": "Jensen-Hansen"}]}, "Patient.name[0].family"),
    ):
        found = _blocking(list(validator.iter_findings({**profiled, **changes})))
        assert ("FHIR-VALUE", path) in found, (changes, found)


def test_a_profile_under_validation_must_expand(base: ProfileValidator) -> None:
    sd = _limits_profile()
    assert "FHIR-SNAPSHOT" not in _rules(list(base.iter_findings(sd)))
    sd["differential"]["element"].append({"id": "Patient.nosuch", "path": "Patient.nosuch"})
    assert "FHIR-SNAPSHOT" in _rules(list(base.iter_findings(sd)))


def test_contexts_take_the_nearest_declaration_and_name_what_is_missing(core: Package) -> None:
    def pkg(name: str, version: str, deps: dict[str, str]) -> Package:
        return Package(name, version, "", deps, (), name, ("4.0.1",))

    installed = {
        p.key: p
        for p in (
            core,
            pkg("a", "1.0.0", {"b": "2.0.0", "c": "1.0.0"}),
            pkg("b", "2.0.0", {"c": "9.9.9"}),
            pkg("c", "1.0.0", {}),
            pkg("c", "2.0.0", {}),
            pkg("d", "1.0.0", {"e": "1.0.0", "c": "current"}),
        )
    }
    context = closure(("a", "1.0.0"), installed)
    assert ("c", "1.0.0") in context.members and ("c", "2.0.0") not in context.members
    assert ("hl7.fhir.r4.core", "4.0.1") in context.members  # implied for an R4 package
    assert not context.missing  # c 9.9.9 is shadowed by a's own c 1.0.0
    other = closure(("d", "1.0.0"), installed)
    assert ("c", "2.0.0") in other.members  # current: the newest installed
    assert [str(m) for m in other.missing] == ["e 1.0.0, needed by d 1.0.0"]


def test_a_canonical_never_resolves_outside_its_context(core: Package) -> None:
    old = _package("kcert.test.old", [{**_limits_profile(), "version": "1.0.0"}], {})
    newer = Package("kcert.test.new", "2.0.0", "http://kcert.test/fhir", {}, (), "n", ("4.0.1",))
    user = Package(
        "kcert.test.user",
        "1.0.0",
        "http://kcert.test/fhir",
        {"kcert.test.absent": "1.0.0"},
        (),
        "u",
        ("4.0.1",),
    )
    index = ProfileIndex([core, old, newer, user])
    inside = index.context(old.key)
    assert index.profile(T + "limits", inside) is not None
    outside = index.context(user.key)
    assert index.profile(T + "limits", outside) is None
    reason, gap = index.why_missing(T + "limits", outside)
    assert gap and "kcert.test.absent 1.0.0, needed by kcert.test.user 1.0.0" in reason
    assert "kcert.test.old#1.0.0" in reason  # where it is, and that it was not taken
    assert index.profile(T + "limits|9.9.9", inside) is None  # a pinned version or nothing


def test_cross_version_extensions_are_a_named_gap(base: ProfileValidator) -> None:
    xver = {
        "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Patient.x",
        "valueString": "x",
    }
    findings, report = _judged(base, _patient(extension=[xver]))
    assert not _blocking(findings)
    assert any("cross-version" in gap for gap in report.not_run), report.not_run


def test_without_the_base_package_the_built_in_structure_check_runs() -> None:
    validator = ProfileValidator(ProfileIndex([]))
    findings, report = _judged(validator, _patient(foo="unknown"))
    assert "FHIR-STRUCTURE" in _rules(findings)
    assert any("hl7.fhir.r4.core" in gap for gap in report.not_run), report.not_run
    findings, quiet = _judged(validator, _patient())
    assert not _blocking(findings)
    assert not quiet.fhir_context.has_core


def test_operation_definition_against_its_parameters_profile(core: Package) -> None:
    profile = {
        "resourceType": "StructureDefinition",
        "url": T + "op-in",
        "name": "OpIn",
        "status": "active",
        "kind": "resource",
        "abstract": False,
        "type": "Parameters",
        "baseDefinition": EXT + "Parameters",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Parameters", "path": "Parameters"},
                {
                    "id": "Parameters.parameter",
                    "path": "Parameters.parameter",
                    "slicing": {
                        "discriminator": [{"type": "value", "path": "name"}],
                        "rules": "open",
                    },
                },
                {
                    "id": "Parameters.parameter:x",
                    "path": "Parameters.parameter",
                    "sliceName": "x",
                    "min": 1,
                    "max": "1",
                },
                {
                    "id": "Parameters.parameter:x.name",
                    "path": "Parameters.parameter.name",
                    "patternString": "x",
                },
            ]
        },
    }
    own = _package("kcert.test.op", [profile], {"hl7.fhir.r4.core": "4.0.1"})
    validator = ProfileValidator(ProfileIndex([core, own]))
    opdef = {
        "resourceType": "OperationDefinition",
        "url": "http://kcert.test/fhir/OperationDefinition/x",
        "name": "X",
        "status": "active",
        "kind": "operation",
        "code": "x",
        "system": False,
        "type": False,
        "instance": False,
        "inputProfile": T + "op-in",
        "parameter": [{"name": "x", "use": "in", "min": 1, "max": "1", "type": "string"}],
    }
    assert "FHIR-OPERATION" not in _rules(
        list(validator.iter_findings(opdef, ValidatorContext(package=own.key)))
    )
    opdef["parameter"][0]["min"] = 0
    assert "FHIR-OPERATION" in _rules(
        list(validator.iter_findings(opdef, ValidatorContext(package=own.key)))
    )


def test_xml_only_the_reader_sees_is_a_finding_at_its_line(base: ProfileValidator) -> None:
    ordered = (
        b'<Patient xmlns="http://hl7.org/fhir"><id value="p"/><active value="true"/></Patient>'
    )
    instance = read_instance(ordered, "p.xml", base.index)
    assert instance.resource is not None and not instance.findings
    swapped = (
        b'<Patient xmlns="http://hl7.org/fhir">\n<active value="true"/>\n<id value="p"/></Patient>'
    )
    instance = read_instance(swapped, "p.xml", base.index)
    assert [(f.rule_id, f.location.line) for f in instance.findings] == [("FHIR-XML", 3)]
    assert read_instance(b'{"resourceType": "Nope"}', "x.json", base.index).resource is not None
    with pytest.raises(Exception, match="comments"):
        read_instance(b"// a comment\n{}", "x.json", base.index)
