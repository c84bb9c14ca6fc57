"""Compile a StructureDefinition snapshot into a tree of element nodes, once per profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# FHIRPath system types appear as the type of id/url elements in snapshots.
SYSTEM_STRING = "http://hl7.org/fhirpath/System.String"


@dataclass(frozen=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str
    # FHIR marks some warnings as best-practice advice (e.g. dom-6, "should have narrative"):
    # reported for information, not as a defect of the resource.
    best_practice: bool = False


@dataclass(frozen=True)
class Binding:
    strength: str
    value_set: str


@dataclass(frozen=True)
class Discriminator:
    type: str
    path: str


@dataclass(frozen=True)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    rules: str


@dataclass(eq=False)
class ElementNode:
    """One snapshot element; children by element name, slices in snapshot order."""

    id: str
    path: str
    name: str  # last path segment as in the snapshot, e.g. "content[x]"
    min: int
    max: int | None  # None = unbounded
    types: tuple[TypeRef, ...] = ()
    # the base element's max: whether the JSON form is an array does not change when a
    # profile narrows a repeating element to 0..1
    base_max: int | None = None
    fixed: tuple[str, Any] | None = None  # ("fixedUri", value)
    min_value: tuple[str, Any] | None = None  # ("minValueQuantity", value)
    max_value: tuple[str, Any] | None = None
    max_length: int | None = None
    pattern: tuple[str, Any] | None = None
    binding: Binding | None = None
    constraints: tuple[Constraint, ...] = ()
    slicing: Slicing | None = None
    slice_name: str | None = None
    content_reference: str | None = None
    children: dict[str, ElementNode] = field(default_factory=dict)
    slices: list[ElementNode] = field(default_factory=list)
    # what other modules derive from the node once and keep (compiled invariants)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    # Read for every instance value validated; the node no longer changes once the tree is
    # built, so these are computed on first use and kept.

    @cached_property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    @cached_property
    def json_name(self) -> str:
        return self.name[:-3] if self.is_choice else self.name

    @cached_property
    def type_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.types)

    @cached_property
    def child_keys(self) -> tuple[tuple[ElementNode, str | None, str], ...]:
        """(child, JSON key, key of its primitive extensions) per child; the key is None for a
        choice element, whose JSON keys carry the type."""
        return tuple(
            (c, None if c.is_choice else c.json_name, "_" + c.json_name)
            for c in self.children.values()
        )

    @cached_property
    def required_slices(self) -> tuple[ElementNode, ...]:
        return tuple(s for s in self.slices if s.min > 0)

    @cached_property
    def repeats(self) -> bool:
        return self.base_max is None or self.base_max > 1

    @cached_property
    def exact_keys(self) -> frozenset[str]:
        """JSON property names of the non-choice children, with their `_name` companions."""
        names = [c.json_name for c in self.children.values() if not c.is_choice]
        return frozenset(names + ["_" + n for n in names])

    @cached_property
    def choice_names(self) -> tuple[str, ...]:
        """JSON name stems of the choice children (`value` for value[x])."""
        return tuple(c.json_name for c in self.children.values() if c.is_choice)

    def cardinality(self) -> str:
        return f"{self.min}..{'*' if self.max is None else self.max}"


@dataclass(eq=False)
class ElementTree:
    root: ElementNode
    by_id: dict[str, ElementNode]

    def by_path(self, path: str) -> ElementNode | None:
        """The unsliced element with this path (for contentReference)."""
        return self.by_id.get(path)


def build_tree(structure: dict[str, Any]) -> ElementTree:
    """Link snapshot elements by their ids: `A.b:slice.c` is child c of slice `slice` of A.b."""
    elements = structure.get("snapshot", {}).get("element", [])
    if not elements:
        raise ValueError(f"{structure.get('url')}: StructureDefinition has no snapshot")
    by_id: dict[str, ElementNode] = {}
    root: ElementNode | None = None
    for raw in elements:
        node = _node(raw)
        by_id[node.id] = node
        if root is None:
            root = node
            continue
        parent_id, _, last = node.id.rpartition(".")
        name, _, slice_name = last.partition(":")
        if slice_name:
            base = by_id.get(f"{parent_id}.{name}" if parent_id else name)
            if base is not None:
                base.slices.append(node)
                continue
        parent = by_id.get(parent_id)
        if parent is not None:
            parent.children[name] = node
    assert root is not None
    return ElementTree(root, by_id)


def _node(raw: dict[str, Any]) -> ElementNode:
    element_id = str(raw.get("id") or raw["path"])
    path = str(raw["path"])
    last = element_id.rpartition(".")[2].partition(":")[0]
    max_text = str(raw.get("max", "*"))
    base = raw.get("base")
    base_text = str(base.get("max", max_text)) if isinstance(base, dict) else max_text
    fixed = pattern = low = high = None
    for key, value in raw.items():
        if key.startswith("fixed"):
            fixed = (key, value)
        elif key.startswith("pattern"):
            pattern = (key, value)
        elif key.startswith("minValue"):
            low = (key, value)
        elif key.startswith("maxValue"):
            high = (key, value)
    length = raw.get("maxLength")
    binding = None
    raw_binding = raw.get("binding")
    if isinstance(raw_binding, dict) and raw_binding.get("valueSet"):
        binding = Binding(str(raw_binding.get("strength", "")), str(raw_binding["valueSet"]))
    slicing = None
    raw_slicing = raw.get("slicing")
    if isinstance(raw_slicing, dict):
        slicing = Slicing(
            tuple(
                Discriminator(str(d.get("type", "")), str(d.get("path", "")))
                for d in raw_slicing.get("discriminator", [])
            ),
            str(raw_slicing.get("rules", "open")),
        )
    content_reference = raw.get("contentReference")
    return ElementNode(
        id=element_id,
        path=path,
        name=last,
        min=int(raw.get("min", 0)),
        max=None if max_text == "*" else int(max_text),
        base_max=None if base_text == "*" else int(base_text),
        types=tuple(
            TypeRef(
                _type_code(t),
                _profiles(t),
                tuple(str(p) for p in t.get("targetProfile", [])),
            )
            for t in raw.get("type", [])
        ),
        fixed=fixed,
        min_value=low,
        max_value=high,
        max_length=length if isinstance(length, int) and not isinstance(length, bool) else None,
        pattern=pattern,
        binding=binding,
        constraints=tuple(
            Constraint(
                str(c.get("key", "")),
                str(c.get("severity", "error")),
                str(c.get("human", "")),
                str(c.get("expression", "")),
                _best_practice(c),
            )
            for c in raw.get("constraint", [])
            if c.get("expression")
        ),
        slicing=slicing,
        slice_name=raw.get("sliceName"),
        # "#Provenance.agent" (or "url#Provenance.agent"): the element whose children repeat here
        content_reference=content_reference.partition("#")[2] or None
        if isinstance(content_reference, str)
        else None,
    )


BEST_PRACTICE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"
FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


PROFILE_ELEMENT = "http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element"


def _profiles(type_ref: dict[str, Any]) -> tuple[str, ...]:
    """The type's profiles; one that names an element of its profile (the profile-element
    extension) is kept as `url#element-id`."""
    urls = [str(p) for p in type_ref.get("profile", [])]
    companions = type_ref.get("_profile")
    if isinstance(companions, list):
        for number, companion in enumerate(companions[: len(urls)]):
            extensions = companion.get("extension") if isinstance(companion, dict) else None
            for extension in extensions if isinstance(extensions, list) else []:
                if isinstance(extension, dict) and extension.get("url") == PROFILE_ELEMENT:
                    element = extension.get("valueString")
                    if isinstance(element, str) and element:
                        urls[number] = f"{urls[number]}#{element}"
    return tuple(urls)


def _type_code(type_ref: dict[str, Any]) -> str:
    """The FHIR type of an element; the snapshot gives id, url and the like the FHIRPath system
    type and says their FHIR type (string, uri) in an extension."""
    code = str(type_ref.get("code", ""))
    if code.startswith("http://hl7.org/fhirpath/System."):
        for extension in type_ref.get("extension") or []:
            if isinstance(extension, dict) and extension.get("url") == FHIR_TYPE:
                named = extension.get("valueUrl") or extension.get("valueUri")
                if isinstance(named, str) and named:
                    return named
    return code


def _best_practice(constraint: dict[str, Any]) -> bool:
    return any(
        isinstance(e, dict) and e.get("url") == BEST_PRACTICE and e.get("valueBoolean") is True
        for e in constraint.get("extension") or []
    )
