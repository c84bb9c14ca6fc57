"""kcert's own FHIR XML reader and writer (issue 10, "Reading"): each case with one input that
fires and one that stays quiet, against both type sources (R4 base definitions, R4B models)."""

from __future__ import annotations

import functools
import json
import random
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.fhir.errors import FhirReadError, FhirWriteError
from harness.fhir.modeltypes import ModelTypes
from harness.fhir.resource import read_resource, to_xml
from harness.fhir.types import DefinitionTypes, TypeSource, children
from harness.fhir.xmlread import XmlResource, read_fhir_xml
from harness.fhir.xmlwrite import write_fhir_xml
from harness.safeparse import Limits, MalformedPayload, PayloadError, UnsafePayload, sniff_format

NS = 'xmlns="http://hl7.org/fhir"'
EXT = "http://example.org/ext"


@functools.lru_cache(maxsize=2)
def base_definitions(package: Path) -> dict[str, dict[str, Any]]:
    """The StructureDefinitions of a FHIR NPM package (.tgz), by canonical URL."""
    found: dict[str, dict[str, Any]] = {}
    with tarfile.open(package, "r:gz") as archive:
        for member in archive:
            name = member.name
            if not (name.startswith("package/StructureDefinition-") and name.endswith(".json")):
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            definition = json.loads(handle.read())
            found.setdefault(definition["url"], definition)
    return found


def definition_types(package: Path) -> DefinitionTypes:
    return DefinitionTypes(base_definitions(package).get)


@pytest.fixture(scope="module")
def r4_types(r4_core: Path) -> DefinitionTypes:
    return definition_types(r4_core)


@pytest.fixture(scope="module", params=["r4-definitions", "r4b-models"])
def types(request: pytest.FixtureRequest) -> TypeSource:
    if request.param == "r4b-models":
        return ModelTypes()
    return definition_types(request.getfixturevalue("r4_core"))


def read(xml: str, types: TypeSource, declaration: bool = True) -> XmlResource:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return read_fhir_xml((head + xml).encode("utf-8"), types)


def patient(body: str) -> str:
    return f"<Patient {NS}>\n{body}\n</Patient>"


def messages(result: XmlResource) -> list[str]:
    return [p.message for p in result.problems]


# -- primitives ------------------------------------------------------------------------------


def test_primitive_extension_inside_extension_value(types: TypeSource) -> None:
    fires = read(
        patient(
            f'<extension url="{EXT}"><valueBoolean value="true">'
            f'<extension url="{EXT}/x"><valueString value="x"/></extension>'
            "</valueBoolean></extension>"
        ),
        types,
    )
    assert fires.resource["extension"] == [
        {
            "url": EXT,
            "valueBoolean": True,
            "_valueBoolean": {"extension": [{"url": f"{EXT}/x", "valueString": "x"}]},
        }
    ]
    assert fires.problems == []
    quiet = read(
        patient(f'<extension url="{EXT}"><valueBoolean value="false"/></extension>'), types
    )
    assert quiet.resource["extension"] == [{"url": EXT, "valueBoolean": False}]


def test_id_on_a_primitive_is_kept(types: TypeSource) -> None:
    fires = read(patient('<birthDate id="b1" value="1970-01-01"/>'), types)
    assert fires.resource == {
        "resourceType": "Patient",
        "birthDate": "1970-01-01",
        "_birthDate": {"id": "b1"},
    }
    quiet = read(patient('<birthDate value="1970-01-01"/>'), types)
    assert "_birthDate" not in quiet.resource


def test_primitive_with_only_an_extension(types: TypeSource) -> None:
    absent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    fires = read(
        patient(f'<birthDate><extension url="{absent}"><valueCode value="unknown"/></extension>'
                "</birthDate>"),
        types,
    )  # fmt: skip
    assert "birthDate" not in fires.resource
    assert fires.resource["_birthDate"] == {"extension": [{"url": absent, "valueCode": "unknown"}]}
    assert fires.problems == []
    empty = read(patient("<birthDate/>"), types)
    assert "birthDate" not in empty.resource and "_birthDate" not in empty.resource
    assert messages(empty) == ["birthDate has neither value nor extensions"]


def test_repeating_primitives_with_null_placeholders(types: TypeSource) -> None:
    fires = read(
        patient(
            '<name><given value="A"/><given id="g2"/><given value="C">'
            f'<extension url="{EXT}"><valueInteger value="3"/></extension></given></name>'
        ),
        types,
    )
    assert fires.resource["name"] == [
        {
            "given": ["A", None, "C"],
            "_given": [None, {"id": "g2"}, {"extension": [{"url": EXT, "valueInteger": 3}]}],
        }
    ]
    assert fires.lines["Patient.name[0].given[2].extension[0].value"] == 3
    quiet = read(patient('<name><given value="A"/><given value="B"/></name>'), types)
    assert quiet.resource["name"] == [{"given": ["A", "B"]}]


def test_numbers_and_booleans_are_typed(types: TypeSource) -> None:
    fires = read(
        "<Observation "
        + NS
        + '><status value="final"/><code><text value="t"/></code>'
        + '<valueQuantity><value value="1.50"/><unit value="mg"/></valueQuantity>'
        + '<component><code><text value="a"/></code><valueInteger value="-7"/></component>'
        + '<component><code><text value="b"/></code><valueBoolean value="true"/></component>'
        + '<component><code><text value="c"/></code><valueQuantity><value value="100"/>'
        + "</valueQuantity></component></Observation>",
        types,
    )
    obs = fires.resource
    assert obs["valueQuantity"] == {"value": 1.5, "unit": "mg"}  # decimal text: float
    assert obs["component"][0]["valueInteger"] == -7
    assert obs["component"][1]["valueBoolean"] is True
    hundred = obs["component"][2]["valueQuantity"]["value"]
    assert hundred == 100 and isinstance(hundred, int)  # integral text without a dot: int
    assert fires.problems == []


@pytest.mark.parametrize(
    ("element", "literal"),
    [("active", "TRUE"), ("active", "yes"), ("multipleBirthInteger", "01"),
     ("multipleBirthInteger", "1.0")],
)  # fmt: skip
def test_invalid_literals_are_kept_as_strings(
    types: TypeSource, element: str, literal: str
) -> None:
    fires = read(patient(f'<{element} value="{literal}"/>'), types)
    assert fires.resource[element] == literal
    # FHIRPath-like paths name a choice by its base name: Patient.multipleBirth
    assert [p.path for p in fires.problems] == [f"Patient.{element.replace('Integer', '')}"]
    assert fires.problems[0].line == 3
    quiet = read(patient('<active value="true"/><multipleBirthInteger value="2"/>'), types)
    assert quiet.resource["active"] is True and quiet.resource["multipleBirthInteger"] == 2
    assert quiet.problems == []


def test_invalid_decimal_is_kept_as_string(types: TypeSource) -> None:
    fires = read(
        f'<Basic {NS}><extension url="{EXT}"><valueDecimal value="1,5"/></extension>'
        '<code><text value="x"/></code></Basic>',
        types,
    )
    assert fires.resource["extension"][0]["valueDecimal"] == "1,5"
    assert messages(fires) == ["'1,5' is not a valid decimal"]
    quiet = read(f'<Basic {NS}><extension url="{EXT}"><valueDecimal value="-0.5e3"/></extension>'
                 '<code><text value="x"/></code></Basic>', types)  # fmt: skip
    assert quiet.resource["extension"][0]["valueDecimal"] == -500.0 and quiet.problems == []


# -- encodings, comments and structure --------------------------------------------------------


SORENSEN = patient('<!-- a comment --><name><family value="Sørensen"/></name><?pi data?>')


def test_utf16_with_bom(types: TypeSource) -> None:
    doc = ('<?xml version="1.0" encoding="UTF-16"?>\n' + SORENSEN).encode("utf-16")
    assert doc.startswith(b"\xff\xfe")
    assert sniff_format(doc) == "xml"
    fires = read_fhir_xml(doc, types)
    assert fires.resource["name"] == [{"family": "Sørensen"}]
    assert fires.lines["Patient.name[0].family"] == 3
    assert read_resource(doc)[1] == fires.resource
    quiet = read(SORENSEN, types)
    assert quiet.resource == fires.resource


def test_iso_8859_1_declaration_is_honoured(types: TypeSource) -> None:
    doc = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n' + SORENSEN).encode("latin-1")
    assert read_fhir_xml(doc, types).resource["name"] == [{"family": "Sørensen"}]
    wrong = ('<?xml version="1.0" encoding="UTF-8"?>\n' + SORENSEN).encode("latin-1")
    with pytest.raises(MalformedPayload) as err:
        read_fhir_xml(wrong, types)
    assert err.value.line == 3


def test_utf8_bom_and_utf32_are_read(types: TypeSource) -> None:
    with_bom = b"\xef\xbb\xbf" + SORENSEN.encode("utf-8")
    assert read_fhir_xml(with_bom, types).resource["name"] == [{"family": "Sørensen"}]
    utf32 = ('<?xml version="1.0" encoding="UTF-32"?>\n' + SORENSEN).encode("utf-32")
    assert read_fhir_xml(utf32, types).resource["name"] == [{"family": "Sørensen"}]


def test_comments_and_processing_instructions_are_dropped(types: TypeSource) -> None:
    fires = read(SORENSEN, types)
    assert fires.resource == {"resourceType": "Patient", "name": [{"family": "Sørensen"}]}
    assert "fhir_comments" not in json.dumps(fires.resource) and fires.problems == []
    assert read(patient('<name><family value="Sørensen"/></name>'), types).resource == (
        fires.resource
    )


def test_contained_resources(types: TypeSource) -> None:
    fires = read(
        patient(
            '<contained><Organization><id value="o1"/><name value="Org"/></Organization>'
            '</contained><managingOrganization><reference value="#o1"/></managingOrganization>'
        ),
        types,
    )
    assert fires.resource["contained"] == [
        {"resourceType": "Organization", "id": "o1", "name": "Org"}
    ]
    assert fires.lines["Patient.contained[0].name"] == 3
    two = read(patient("<contained><Organization/><Patient/></contained>"), types)
    assert messages(two) == ["only one resource is allowed here; the rest is dropped"]
    assert read(patient("<contained/>"), types).resource == {"resourceType": "Patient"}


def test_bundle_entries(types: TypeSource) -> None:
    fires = read(
        f'<Bundle {NS}><type value="collection"/>'
        '<entry><fullUrl value="urn:uuid:1"/><resource><Patient><active value="true"/>'
        "</Patient></resource></entry>"
        '<entry><resource><Observation><status value="final"/></Observation></resource>'
        "</entry></Bundle>",
        types,
    )
    assert fires.resource["entry"] == [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "active": True}},
        {"resource": {"resourceType": "Observation", "status": "final"}},
    ]
    assert "Bundle.entry[1].resource.status" in fires.lines
    assert fires.problems == []
    unknown = read(f"<Bundle {NS}><entry><resource><Nope/></resource></entry></Bundle>", types)
    assert messages(unknown) == ["Nope is not a FHIR resource type"]


def test_narrative_div_is_an_xhtml_string(types: TypeSource) -> None:
    fires = read(
        '<Patient xmlns="http://hl7.org/fhir" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="a b">'
        '<text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">'
        '<p class="x">Hi &amp; <b>bye</b></p></div></text></Patient>',
        types,
    )
    assert fires.resource["text"] == {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p class="x">Hi &amp; <b>bye</b></p>'
        "</div>",
    }
    assert fires.problems == []
    wrong = read(patient('<text><status value="generated"/><div><p>x</p></div></text>'), types)
    assert [p.path for p in wrong.problems] == ["Patient.text.div"]
    assert "not http://www.w3.org/1999/xhtml" in wrong.problems[0].message


# -- problems --------------------------------------------------------------------------------


def test_unknown_element_is_kept_and_reported_with_its_line(types: TypeSource) -> None:
    fires = read(patient('<active value="true"/>\n<colour value="blue"/>'), types)
    assert fires.resource["colour"] == "blue"
    assert [(p.path, p.line, p.message) for p in fires.problems] == [
        ("Patient.colour", 4, "unknown element colour")
    ]
    assert read(patient('<active value="true"/>'), types).problems == []


def test_out_of_order_element_is_reported(types: TypeSource) -> None:
    fires = read(patient('<birthDate value="1970"/>\n<gender value="male"/>'), types)
    assert fires.resource == {"resourceType": "Patient", "birthDate": "1970", "gender": "male"}
    assert [(p.path, p.line) for p in fires.problems] == [("Patient.gender", 4)]
    assert "out of order" in fires.problems[0].message
    quiet = read(patient('<gender value="male"/>\n<birthDate value="1970"/>'), types)
    assert quiet.problems == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('<name value="x"><family value="F"/></name>', "a complex element has no value attribute"),
        ("<name><family>F</family></name>", "text content is not allowed"),
        ('<name colour="red"/>', "attribute colour is not allowed here"),
        ('<active value="true" x="1"/>', "attribute x is not allowed here"),
        ('<active xmlns="urn:other" value="true"/>', "element active is in namespace 'urn:other'"),
        ('<active value="true"/><active value="false"/>', "active occurs more than once"),
        ('<deceasedBoolean value="true"/><deceasedDateTime value="2020"/>', "more than one type"),
        ('<name><family value=""/></name>', "the value attribute is empty"),
    ],
)
def test_content_that_is_not_fhir_xml_is_reported(
    types: TypeSource, body: str, message: str
) -> None:
    fires = read(patient(body), types)
    assert any(message in m for m in messages(fires)), messages(fires)
    assert all(p.line == 3 for p in fires.problems)


def test_problems_are_capped(types: TypeSource) -> None:
    from harness.fhir.xmlread import MAX_PROBLEMS

    fires = read(patient('<x value="1"/>' * (MAX_PROBLEMS + 200)), types)
    assert len(fires.problems) == MAX_PROBLEMS + 1
    assert fires.problems[-1].message == "200 more problems not listed"
    quiet = read(patient('<x value="1"/>' * MAX_PROBLEMS), types)
    assert len(quiet.problems) == MAX_PROBLEMS


def test_single_element_given_twice_keeps_both(types: TypeSource) -> None:
    fires = read(patient('<gender value="male"/><gender value="female"/>'), types)
    assert fires.resource["gender"] == ["male", "female"]
    assert fires.lines["Patient.gender[1]"] == 3


# -- what raises -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "error", "line"),
    [
        ("<Patient " + NS + ">\n<active value='true'>\n</Patient>", MalformedPayload, 4),
        ('<ClinicalDocument xmlns="urn:hl7-org:v3"/>', FhirReadError, 2),
        (f"<HumanName {NS}/>", FhirReadError, 2),
        (f"<Nope {NS}/>", FhirReadError, 2),
        ('<!DOCTYPE x [<!ENTITY e "x">]><Patient/>', UnsafePayload, 2),
    ],
)
def test_refusals_carry_a_line(
    types: TypeSource, doc: str, error: type[Exception], line: int
) -> None:
    with pytest.raises(error) as err:
        read(doc, types)
    assert getattr(err.value, "line", None) == line


def test_nesting_is_capped(types: TypeSource) -> None:
    deep = patient('<extension url="u">' * 60 + "</extension>" * 60)
    with pytest.raises(UnsafePayload):
        read_fhir_xml(deep.encode(), types, Limits(max_depth=50))
    assert read_fhir_xml(deep.encode(), types).problems == []


def test_mutated_documents_never_raise_anything_else(types: TypeSource) -> None:
    """A bounded fuzz: byte flips, cuts and swaps of a valid document."""
    base = read(patient(""), types)  # warm the caches
    assert base.problems == []
    doc = (
        '<?xml version="1.0"?><Patient xmlns="http://hl7.org/fhir"><id value="p"/>'
        '<text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">x</div>'
        f'</text><extension url="{EXT}"><valueDecimal value="1.5"/></extension>'
        '<name><given value="a"/><given><extension url="u"><valueCode value="c"/></extension>'
        '</given></name><contained><Basic/></contained><active value="true"/></Patient>'
    ).encode()
    rng = random.Random(10)
    alphabet = b'<>/="x \n&;!?-'
    for _ in range(400):
        data = bytearray(doc)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.choice(alphabet)
            elif choice < 0.7:
                del data[at : at + rng.randint(1, 12)]
            else:
                data[at:at] = data[rng.randrange(len(data)) :][: rng.randint(1, 30)]
        try:
            result = read_fhir_xml(bytes(data), types)
        except (FhirReadError, PayloadError):
            continue
        assert isinstance(result.resource, dict)
        json.dumps(result.resource)


# -- writing ---------------------------------------------------------------------------------


FULL = {
    "resourceType": "Patient",
    "id": "p1",
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    "contained": [{"resourceType": "Organization", "id": "o1"}],
    "extension": [{"url": EXT, "valueBoolean": True, "_valueBoolean": {"id": "e"}}],
    "active": True,
    "name": [{"given": ["A", None], "_given": [None, {"extension": [{"url": EXT}]}]}],
    "birthDate": "1970",
    "managingOrganization": {"reference": "#o1"},
}


def test_writer_is_the_inverse_in_definition_order(types: TypeSource) -> None:
    scrambled = dict(reversed(list(FULL.items())))
    xml = write_fhir_xml(scrambled, types)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<Patient xmlns")
    text = xml.decode()
    order = ["<id ", "<text>", "<contained>", "<extension ", "<active ", "<name>", "<birthDate "]
    assert [text.index(tag) for tag in order] == sorted(text.index(tag) for tag in order)
    back = read_fhir_xml(xml, types)
    assert back.resource == FULL and back.problems == []
    assert to_xml(FULL, types) == xml


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "Patient.colour: no such element in Patient"),
        ({"active": "true"}, "Patient.active: must be true or false"),
        ({"birthDate": ["1970"]}, "Patient.birthDate: may occur once"),
        ({"name": {"family": "F"}}, "Patient.name: repeats"),
        ({"name": [{"given": ["A"], "_given": [None, None]}]}, "differ in length"),
        ({"text": {"status": "generated", "div": "<p>x</p>"}}, "one XHTML div"),
        ({"text": {"status": "generated", "div": "<div>&nbsp;</div>"}}, "not well-formed"),
        ({"birthDate": "19\x0070"}, "Patient.birthDate"),
        ({"contained": [{"resourceType": "Nope"}]}, "is not a FHIR resource type"),
    ],
)
def test_writer_refuses_what_xml_cannot_carry(
    types: TypeSource, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(FhirWriteError, match=message.replace("[", r"\[")):
        write_fhir_xml({**FULL, **change}, types)
    with pytest.raises(FhirReadError):
        to_xml({**FULL, **change}, types)


# -- the type sources and the wiring ---------------------------------------------------------


def test_type_sources_agree_on_common_types(r4_types: DefinitionTypes) -> None:
    models = ModelTypes()
    for path in ("Patient", "Patient.contact", "HumanName", "Extension", "boolean", "Bundle.entry",
                 "Questionnaire.item.item", "Observation.component.referenceRange"):  # fmt: skip
        mine = [(c.name, c.repeats, c.choice, c.attribute) for c in children(r4_types, path) or ()]
        theirs = [(c.name, c.repeats, c.choice, c.attribute) for c in children(models, path) or ()]
        assert mine and mine == theirs, path
    item = r4_types.definition("Questionnaire.item")
    assert item is not None and item.kind == "element"
    nested = item.slot("item")
    assert nested is not None and nested.type_path == "Questionnaire.item"  # contentReference
    value = r4_types.definition("Extension")
    assert value is not None and value.slot("valueQuantity") is not None
    assert r4_types.definition("boolean") is not None
    assert r4_types.definition("Patient.nope") is None and r4_types.definition("x y") is None


def test_definition_types_are_thread_safe(r4_core: Path) -> None:
    types = definition_types(r4_core)
    paths = ["Patient", "Observation", "Bundle.entry", "Questionnaire.item", "Extension"] * 8
    found: list[Any] = []

    def work() -> None:
        found.extend(types.definition(p) for p in paths)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    by_path: dict[str, set[int]] = {}
    for item in found:
        by_path.setdefault(item.path, set()).add(id(item))
    assert all(len(ids) == 1 for ids in by_path.values()) and len(by_path) == 5


def test_read_resource_uses_the_new_reader() -> None:
    xml = patient(
        '<!-- c --><extension url="u"><valueBoolean value="true"><extension url="v">'
        '<valueString value="x"/></extension></valueBoolean></extension>'
        '<birthDate id="b" value="1970"/>'
    ).encode("utf-16")
    fmt, resource = read_resource(xml)
    assert fmt == "xml"
    assert resource == {
        "resourceType": "Patient",
        "extension": [
            {
                "url": "u",
                "valueBoolean": True,
                "_valueBoolean": {"extension": [{"url": "v", "valueString": "x"}]},
            }
        ],
        "birthDate": "1970",
        "_birthDate": {"id": "b"},
    }
