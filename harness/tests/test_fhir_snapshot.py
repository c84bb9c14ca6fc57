"""kcert's snapshot generator on hand-made profiles: each rule, and a case it must not touch."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.validators.fhirprofile.snapshot import SnapshotError, generate_snapshot

CORE = "http://hl7.org/fhir/StructureDefinition/"
STRING_ID = [{"code": "http://hl7.org/fhirpath/System.String"}]
EXT_SLICING = {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}


def el(
    path: str, min_: int = 0, max_: str = "1", types: list[str] | None = None, **more: Any
) -> dict[str, Any]:
    element: dict[str, Any] = {"id": path, "path": path, "min": min_, "max": max_}
    if types is not None:
        element["type"] = [{"code": t} for t in types]
    element.update(more)
    return element


def sd(url: str, type_: str, elements: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "type": type_,
        "derivation": "specialization",
        "snapshot": {"element": elements},
        **more,
    }


IDENTIFIER = sd(
    CORE + "Identifier",
    "Identifier",
    [
        el("Identifier", 0, "*", constraint=[{"key": "ele-1"}]),
        el("Identifier.id", 0, "1", None, type=STRING_ID),
        el("Identifier.extension", 0, "*", ["Extension"], slicing=EXT_SLICING),
        el("Identifier.system", 0, "1", ["uri"]),
        el("Identifier.value", 0, "1", ["string"]),
    ],
)
ELEMENT = sd(
    CORE + "Element",
    "Element",
    [
        el("Element", 0, "*"),
        el("Element.id", 0, "1", None, type=STRING_ID),
        el("Element.extension", 0, "*", ["Extension"], slicing=EXT_SLICING),
    ],
)
EXTENSION = sd(
    CORE + "Extension",
    "Extension",
    [
        el("Extension", 0, "*", constraint=[{"key": "ele-1"}, {"key": "ext-1"}]),
        el("Extension.id", 0, "1", None, type=STRING_ID),
        el("Extension.extension", 0, "*", ["Extension"], slicing=EXT_SLICING),
        el("Extension.url", 1, "1", None, type=STRING_ID),
        el("Extension.value[x]", 0, "1", ["string", "boolean", "Identifier"]),
    ],
)
MY_EXTENSION = sd(
    "http://example.org/ext/colour",
    "Extension",
    [
        el("Extension", 0, "1", constraint=[{"key": "ele-1"}, {"key": "ext-1"}]),
        el("Extension.id", 0, "1", None, type=STRING_ID),
        el("Extension.extension", 0, "0", ["Extension"], slicing=EXT_SLICING),
        el("Extension.url", 1, "1", None, type=STRING_ID, fixedUri="http://example.org/ext/colour"),
        el("Extension.value[x]", 1, "1", ["string"]),
    ],
    derivation="constraint",
    baseDefinition=CORE + "Extension",
)
PATIENT = sd(
    CORE + "Patient",
    "Patient",
    [
        el("Patient", 0, "*", constraint=[{"key": "dom-2"}]),
        el("Patient.id", 0, "1", None, type=STRING_ID),
        el("Patient.extension", 0, "*", ["Extension"]),
        el("Patient.identifier", 0, "*", ["Identifier"], constraint=[{"key": "ele-1"}]),
        el(
            "Patient.gender",
            0,
            "1",
            ["code"],
            binding={"strength": "required", "valueSet": "http://example.org/vs/gender"},
        ),
        el("Patient.deceased[x]", 0, "1", ["boolean", "dateTime"]),
        el("Patient.link", 0, "*", ["BackboneElement"]),
        el("Patient.link.id", 0, "1", None, type=STRING_ID),
        el("Patient.link.other", 1, "1", ["Reference"]),
        el("Patient.link.type", 1, "1", ["code"]),
        el("Patient.link.next", 0, "*", None, contentReference="#Patient.link"),
    ],
)
WORLD = {d["url"]: d for d in (IDENTIFIER, ELEMENT, EXTENSION, MY_EXTENSION, PATIENT)}


def resolve(canonical: str) -> dict[str, Any] | None:
    return WORLD.get(canonical.partition("|")[0])


def profile(
    *diff: dict[str, Any], base: str = CORE + "Patient", type_: str = "Patient"
) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": "http://example.org/profile/p",
        "type": type_,
        "derivation": "constraint",
        "baseDefinition": base,
        "differential": {"element": [{"id": type_, "path": type_}, *diff]},
    }


def d(element_id: str, **props: Any) -> dict[str, Any]:
    """A differential element; its path is the id without slice names."""
    path = ".".join(part.partition(":")[0] for part in element_id.split("."))
    return {"id": element_id, "path": path, **props}


def snapshot(*diff: dict[str, Any], **kw: Any) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in generate_snapshot(profile(*diff, **kw), resolve)}


def ids(*diff: dict[str, Any]) -> list[str]:
    return [e["id"] for e in generate_snapshot(profile(*diff), resolve)]


def test_min_max_replace_the_base() -> None:
    out = snapshot(d("Patient.identifier", min=1, max="3"))
    assert (out["Patient.identifier"]["min"], out["Patient.identifier"]["max"]) == (1, "3")
    assert (out["Patient.gender"]["min"], out["Patient.gender"]["max"]) == (0, "1")


def test_types_only_narrow() -> None:
    out = snapshot(d("Patient.deceased[x]", type=[{"code": "boolean"}]))
    assert [t["code"] for t in out["Patient.deceased[x]"]["type"]] == ["boolean"]
    untouched = snapshot()
    assert [t["code"] for t in untouched["Patient.deceased[x]"]["type"]] == ["boolean", "dateTime"]
    with pytest.raises(SnapshotError, match=r"Patient\.gender: type string is not one the base"):
        snapshot(d("Patient.gender", type=[{"code": "string"}]))


def test_fixed_value() -> None:
    out = snapshot(d("Patient.gender", fixedCode="female"))
    assert out["Patient.gender"]["fixedCode"] == "female"
    assert not any(k.startswith("fixed") for k in snapshot()["Patient.gender"])


def test_binding_merges_into_the_base_binding() -> None:
    out = snapshot(d("Patient.gender", binding={"strength": "extensible"}))
    assert out["Patient.gender"]["binding"] == {
        "strength": "extensible",
        "valueSet": "http://example.org/vs/gender",
    }
    assert snapshot()["Patient.gender"]["binding"]["strength"] == "required"


def test_constraints_are_added_by_key() -> None:
    extra = {"key": "my-1", "severity": "error", "human": "x", "expression": "true"}
    out = snapshot(d("Patient.identifier", constraint=[extra]))
    assert [c["key"] for c in out["Patient.identifier"]["constraint"]] == ["ele-1", "my-1"]
    replaced = snapshot(d("Patient.identifier", constraint=[{"key": "ele-1", "human": "new"}]))
    assert replaced["Patient.identifier"]["constraint"] == [{"key": "ele-1", "human": "new"}]
    assert [c["key"] for c in snapshot()["Patient.identifier"]["constraint"]] == ["ele-1"]


SLICED = (
    d(
        "Patient.identifier",
        slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
    ),
    d("Patient.identifier:a", sliceName="a", min=1, max="1"),
    d("Patient.identifier:a.system", fixedUri="urn:a"),
    d("Patient.identifier:b", sliceName="b", max="1"),
)


def test_two_slices_one_with_a_child_constraint() -> None:
    order = ids(*SLICED)
    start = order.index("Patient.identifier")
    assert order[start : start + 7] == [
        "Patient.identifier",
        "Patient.identifier:a",
        "Patient.identifier:a.id",
        "Patient.identifier:a.extension",
        "Patient.identifier:a.system",
        "Patient.identifier:a.value",
        "Patient.identifier:b",
    ]
    assert order[start + 7] == "Patient.gender"  # slice b lists no children: none constrained
    out = snapshot(*SLICED)
    assert out["Patient.identifier:a"]["sliceName"] == "a"
    assert out["Patient.identifier:a"]["path"] == "Patient.identifier"
    assert "slicing" not in out["Patient.identifier:a"]
    assert out["Patient.identifier:a.system"]["fixedUri"] == "urn:a"
    assert out["Patient.identifier:a.system"]["path"] == "Patient.identifier.system"
    assert (out["Patient.identifier:b"]["min"], out["Patient.identifier:b"]["max"]) == (0, "1")


def test_a_slice_needs_a_slicing_unless_r4_implies_one() -> None:
    with pytest.raises(SnapshotError, match=r"Patient\.identifier:a: slices Patient\.identifier"):
        snapshot(d("Patient.identifier:a", sliceName="a"))
    # extensions are always sliced by url
    out = snapshot(
        d(
            "Patient.extension:c",
            sliceName="c",
            type=[{"code": "Extension", "profile": [MY_EXTENSION["url"]]}],
        )
    )
    assert out["Patient.extension"]["slicing"]["discriminator"] == [
        {"type": "value", "path": "url"}
    ]


def test_expanding_into_the_datatype() -> None:
    out = snapshot(d("Patient.identifier.system", min=1))
    assert [i for i in out if i.startswith("Patient.identifier.")] == [
        "Patient.identifier.id",
        "Patient.identifier.extension",
        "Patient.identifier.system",
        "Patient.identifier.value",
    ]
    assert out["Patient.identifier.system"]["min"] == 1
    assert out["Patient.identifier.value"]["path"] == "Patient.identifier.value"
    assert not [i for i in snapshot() if i.startswith("Patient.identifier.")]


def test_a_renamed_choice_is_a_closed_type_slice() -> None:
    out = snapshot(d("Patient.deceasedBoolean", min=1))
    choice = out["Patient.deceased[x]"]
    assert [t["code"] for t in choice["type"]] == ["boolean"]
    assert choice["slicing"]["rules"] == "closed"
    assert out["Patient.deceased[x]:deceasedBoolean"]["min"] == 1
    assert out["Patient.deceased[x]:deceasedBoolean"]["sliceName"] == "deceasedBoolean"
    assert "slicing" not in snapshot()["Patient.deceased[x]"]
    with pytest.raises(SnapshotError, match="deceasedString names no type"):
        snapshot(d("Patient.deceasedString"))


def test_type_slices_close_only_when_one_is_required() -> None:
    slicing = {"discriminator": [{"type": "type", "path": "$this"}], "rules": "open"}
    optional = snapshot(
        d("Patient.deceased[x]", slicing=slicing),
        d(
            "Patient.deceased[x]:deceasedBoolean",
            sliceName="deceasedBoolean",
            type=[{"code": "boolean"}],
        ),
    )
    assert optional["Patient.deceased[x]"]["slicing"]["rules"] == "open"
    assert len(optional["Patient.deceased[x]"]["type"]) == 2
    required = snapshot(
        d("Patient.deceased[x]", slicing=slicing, min=1),
        d(
            "Patient.deceased[x]:deceasedBoolean",
            sliceName="deceasedBoolean",
            min=1,
            type=[{"code": "boolean"}],
        ),
    )
    assert required["Patient.deceased[x]"]["slicing"]["rules"] == "closed"
    assert [t["code"] for t in required["Patient.deceased[x]"]["type"]] == ["boolean"]


def test_re_slicing() -> None:
    reslice = (
        *SLICED[:3],
        d(
            "Patient.identifier:a",
            slicing={"discriminator": [{"type": "value", "path": "value"}], "rules": "open"},
        ),
        d("Patient.identifier:a/x", sliceName="a/x", min=1),
        SLICED[3],
    )
    order = ids(*reslice)
    assert order.index("Patient.identifier:a.value") < order.index("Patient.identifier:a/x")
    assert order.index("Patient.identifier:a/x") < order.index("Patient.identifier:b")
    out = snapshot(*reslice)
    assert out["Patient.identifier:a/x"]["sliceName"] == "a/x"
    assert out["Patient.identifier:a/x.system"]["fixedUri"] == "urn:a"  # a re-slice is within a
    assert "Patient.identifier:a/x" not in ids(*SLICED)
    with pytest.raises(SnapshotError, match=r"slice 'a' of Patient\.identifier is used before"):
        snapshot(SLICED[0], d("Patient.identifier:a/x", sliceName="a/x"))


def test_extension_slice_children_come_from_the_extension() -> None:
    typed = {"type": [{"code": "Extension", "profile": [MY_EXTENSION["url"]]}]}
    out = snapshot(d("Patient.extension:colour", sliceName="colour", min=1, **typed))
    assert (out["Patient.extension:colour"]["min"], out["Patient.extension:colour"]["max"]) == (
        1,
        "*",
    )
    assert "Patient.extension:colour.url" not in out  # nothing below it was constrained
    deep = snapshot(
        d("Patient.extension:colour", sliceName="colour", **typed),
        d("Patient.extension:colour.value[x]", short="the colour"),
    )
    assert deep["Patient.extension:colour.url"]["fixedUri"] == MY_EXTENSION["url"]
    assert deep["Patient.extension:colour.value[x]"]["type"] == [{"code": "string"}]


def test_an_extension_profile() -> None:
    ext = profile(
        d("Extension.extension", max="0"),
        d("Extension.url", fixedUri="http://example.org/ext/flag"),
        d("Extension.value[x]", type=[{"code": "boolean"}], min=1),
        base=CORE + "Extension",
        type_="Extension",
    )
    out = {e["id"]: e for e in generate_snapshot(ext, resolve)}
    assert out["Extension.url"]["fixedUri"] == "http://example.org/ext/flag"
    assert out["Extension.value[x]"]["type"] == [{"code": "boolean"}]
    assert out["Extension.extension"]["max"] == "0"


def test_content_reference_children_are_listed_from_the_element_named() -> None:
    out = snapshot(d("Patient.link.next.type", fixedCode="seealso"))
    assert out["Patient.link.next.type"]["fixedCode"] == "seealso"
    assert out["Patient.link.next.type"]["path"] == "Patient.link.next.type"
    assert "contentReference" not in out["Patient.link.next"]
    assert snapshot()["Patient.link.next"]["contentReference"] == "#Patient.link"


def test_what_every_type_of_a_choice_shares() -> None:
    out = snapshot(d("Patient.deceased[x].extension", max="0"))
    assert out["Patient.deceased[x].extension"]["max"] == "0"
    with pytest.raises(SnapshotError, match=r"Patient\.deceased\[x\] has no element 'value'"):
        snapshot(d("Patient.deceased[x].value"))


def test_an_unknown_path_is_named() -> None:
    with pytest.raises(SnapshotError, match=r"Patient\.colour: Patient has no element 'colour'"):
        snapshot(d("Patient.colour", min=1))
    with pytest.raises(SnapshotError, match=r"Patient\.identifier\.colour"):
        snapshot(d("Patient.identifier.colour"))
    assert snapshot(d("Patient.gender", min=1))["Patient.gender"]["min"] == 1


def test_base_definition_cycles_are_refused() -> None:
    def chain(urls: dict[str, str]) -> Any:
        defs = {
            u: {**profile(d("Patient.gender", min=1), base=b), "url": u} for u, b in urls.items()
        }

        def resolve_generating(canonical: str) -> dict[str, Any] | None:
            if canonical in defs:  # as a caller would: give the base a snapshot first
                found = defs[canonical]
                return {
                    **found,
                    "snapshot": {"element": generate_snapshot(found, resolve_generating)},
                }
            return resolve(canonical)

        return defs, resolve_generating

    defs, looping = chain({"urn:a": "urn:b", "urn:b": "urn:a"})
    with pytest.raises(SnapshotError, match="baseDefinition loop"):
        generate_snapshot(defs["urn:a"], looping)
    with pytest.raises(SnapshotError, match="its own baseDefinition"):
        generate_snapshot({**profile(), "baseDefinition": "http://example.org/profile/p"}, resolve)
    defs, fine = chain({"urn:a": "urn:b", "urn:b": CORE + "Patient"})
    assert generate_snapshot(defs["urn:a"], fine)[0]["id"] == "Patient"


def test_what_is_out_of_scope_says_so() -> None:
    with pytest.raises(SnapshotError, match="specialization"):
        generate_snapshot({**profile(), "derivation": "specialization"}, resolve)
    with pytest.raises(SnapshotError, match=r"cannot resolve http://example\.org/nowhere"):
        generate_snapshot(profile(base="http://example.org/nowhere"), resolve)
    with pytest.raises(SnapshotError, match=r"Patient\.gender: constraint is malformed"):
        generate_snapshot(profile(d("Patient.gender", constraint=5)), resolve)


def test_inputs_are_not_changed_and_outputs_share_nothing() -> None:
    source = profile(*SLICED, d("Patient.deceasedBoolean"))
    before, world_before = copy.deepcopy(source), copy.deepcopy(WORLD)
    first = generate_snapshot(source, resolve)
    assert source == before and world_before == WORLD
    first[0]["constraint"].append({"key": "changed"})
    assert generate_snapshot(source, resolve)[0]["constraint"] == [{"key": "dom-2"}]


def test_a_type_slice_is_typed_by_its_name() -> None:
    slicing = {"discriminator": [{"type": "type", "path": "$this"}], "rules": "open"}
    out = snapshot(
        d("Patient.deceased[x]", slicing=slicing),
        d("Patient.deceased[x]:deceasedDateTime", sliceName="deceasedDateTime"),
    )
    assert out["Patient.deceased[x]:deceasedDateTime"]["type"] == [{"code": "dateTime"}]
    other = snapshot(
        d("Patient.identifier", slicing=slicing), d("Patient.identifier:x", sliceName="x")
    )
    assert other["Patient.identifier:x"]["type"] == [{"code": "Identifier"}]
