"""Type information for reading and writing FHIR: which children a type path has, in which order.

`TypeSource` is the interface the XML reader and writer need; `DefinitionTypes` answers it from
FHIR StructureDefinition snapshots (the R4 base package), `harness.fhir.modeltypes.ModelTypes`
from the fhir.resources R4B models when no base package is installed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
BASE_URL = "http://hl7.org/fhir/StructureDefinition/"

# How a primitive's value is represented in JSON: boolean, number (integer or decimal) or string;
# xhtml is the Narrative div, an XHTML element in XML and a string in JSON.
PrimitiveClass = Literal["boolean", "integer", "decimal", "string", "xhtml"]
# "element" is an inline BackboneElement/Element path such as Patient.contact.
Kind = Literal["resource", "complex-type", "primitive-type", "element"]

PRIMITIVE_TYPES = frozenset(
    {
        "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
        "instant", "integer", "markdown", "oid", "positiveInt", "string", "time",
        "unsignedInt", "uri", "url", "uuid", "xhtml",
    }
)  # fmt: skip
_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt"})
# A type path is dotted FHIR names; anything else (from a hostile document) is not looked up.
TYPE_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}(\.[A-Za-z][A-Za-z0-9_]{0,63}){0,31}")
# Unknown names are remembered only up to this many, so hostile input cannot grow the cache.
MAX_NEGATIVE = 4096


def primitive_class(code: str) -> PrimitiveClass:
    """The JSON representation of a FHIR primitive type's value."""
    if code == "boolean":
        return "boolean"
    if code in _INTEGER_TYPES:
        return "integer"
    if code == "decimal":
        return "decimal"
    if code == "xhtml":
        return "xhtml"
    return "string"


def choice_name(base: str, type_code: str) -> str:
    """The element name of one type of a choice: value + Quantity -> valueQuantity."""
    return base + type_code[:1].upper() + type_code[1:]


@dataclass(frozen=True, slots=True)
class ElementInfo:
    """One child element of a type path, as its definition states it."""

    name: str  # JSON name; the base name ("value") for a choice value[x]
    repeats: bool  # max is not "1" (nor "0")
    types: tuple[str, ...]  # allowed type codes, in the definition's order
    choice: bool
    order: int  # position among the siblings in the definition
    path: str | None = None  # inline BackboneElement/Element: the type path of its children
    attribute: bool = False  # an XML attribute (Element.id, Extension.url), not an element


@dataclass(frozen=True, slots=True)
class Slot:
    """One concrete element name of a type path and the type it carries."""

    element: ElementInfo
    name: str  # "valueQuantity" for a choice, else the element's name
    type_code: str
    type_path: str  # where the content's own children are defined

    @property
    def order(self) -> int:
        return self.element.order


class TypeDef:
    """The children of one type path, with lookups by JSON name and by XML (Clark) name."""

    __slots__ = ("_by_name", "_by_tag", "children", "kind", "path", "primitive")

    def __init__(
        self,
        path: str,
        kind: Kind,
        children: Sequence[ElementInfo],
        primitive: PrimitiveClass | None = None,
    ) -> None:
        self.path = path
        self.kind: Kind = kind
        self.children = tuple(children)
        self.primitive = primitive
        by_name: dict[str, Slot] = {}
        for element in self.children:
            for code in element.types or ("Element",):
                name = choice_name(element.name, code) if element.choice else element.name
                type_path = element.path or code
                by_name.setdefault(name, Slot(element, name, code, type_path))
        self._by_name = by_name
        self._by_tag = {
            "{" + (XHTML_NS if s.type_code == "xhtml" else FHIR_NS) + "}" + name: s
            for name, s in by_name.items()
        }

    def slot(self, name: str) -> Slot | None:
        """The child slot of a concrete JSON/XML element name (valueQuantity, given, ...)."""
        return self._by_name.get(name)

    def slot_by_tag(self, tag: str) -> Slot | None:
        """The child slot of an lxml Clark name ({http://hl7.org/fhir}given)."""
        return self._by_tag.get(tag)

    def __repr__(self) -> str:
        return f"TypeDef({self.path!r}, {self.kind!r}, {len(self.children)} children)"


class TypeSource(Protocol):
    """Type information by type path: "Patient", "Patient.contact", "HumanName", "boolean"."""

    def definition(self, path: str) -> TypeDef | None:
        """The children of a type path, or None when the path is not known."""
        ...


def children(types: TypeSource, path: str) -> tuple[ElementInfo, ...] | None:
    """The children of a type path (None when unknown)."""
    found = types.definition(path)
    return found.children if found is not None else None


Lookup = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class _Structure:
    """One StructureDefinition's snapshot, indexed by element path."""

    name: str  # the type as asked for ("SimpleQuantity")
    root: str  # the snapshot's own root path ("Quantity")
    kind: str
    by_path: dict[str, Mapping[str, Any]]
    children_of: dict[str, list[Mapping[str, Any]]]


class CachedTypes:
    """A TypeSource that builds each type path's definition once (thread-safe), and remembers
    a bounded number of paths that have none."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._defs: dict[str, TypeDef | None] = {}
        self._negative = 0

    def definition(self, path: str) -> TypeDef | None:
        """The children of a type path, built once and cached."""
        found = self._defs.get(path, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        with self._lock:
            if path in self._defs:
                return self._defs[path]
            built = self._build(path) if TYPE_PATH.fullmatch(path) else None
            if built is not None or self._negative < MAX_NEGATIVE:
                self._negative += built is None
                self._defs[path] = built
            return built

    def _build(self, path: str) -> TypeDef | None:
        raise NotImplementedError


class DefinitionTypes(CachedTypes):
    """TypeSource from StructureDefinition snapshots; lookup(url) gives a base definition."""

    def __init__(self, lookup: Lookup) -> None:
        super().__init__()
        self._lookup = lookup
        self._structures: dict[str, _Structure | None] = {}

    def _build(self, path: str) -> TypeDef | None:
        name, _, rest = path.partition(".")
        structure = self._structure(name)
        if structure is None:
            return None
        internal = self._walk(structure, rest.split(".")) if rest else structure.root
        if internal is None:
            return None
        elements = structure.children_of.get(internal, [])
        infos = [self._info(e, order, structure) for order, e in enumerate(elements)]
        if rest:
            return TypeDef(path, "element", infos)
        if structure.kind == "primitive-type":
            return TypeDef(path, "primitive-type", infos, self._primitive(structure))
        kind: Kind = "resource" if structure.kind == "resource" else "complex-type"
        return TypeDef(path, kind, infos)

    def _walk(self, structure: _Structure, segments: list[str]) -> str | None:
        """The snapshot path of an inline element, following contentReferences on the way."""
        current = structure.root
        for segment in segments:
            element = structure.by_path.get(f"{current}.{segment}")
            if element is None:
                return None
            reference = element.get("contentReference")
            target, holder = (element, structure)
            if isinstance(reference, str) and "#" in reference:
                target, holder = self._referenced(reference, structure)
            if holder is not structure:
                return None  # another definition's element: not addressable from this root
            current = str(target.get("path", ""))
            if current not in structure.children_of:
                return None  # not an inline element with children of its own
        return current

    def _structure(self, name: str) -> _Structure | None:
        if name in self._structures:
            return self._structures[name]
        definition = self._lookup(BASE_URL + name)
        structure = _index(name, definition) if definition is not None else None
        if structure is not None or len(self._structures) < MAX_NEGATIVE:
            self._structures[name] = structure
        return structure

    def _info(self, element: Mapping[str, Any], order: int, structure: _Structure) -> ElementInfo:
        element_path = str(element.get("path", ""))
        last = element_path.rsplit(".", 1)[-1]
        choice = last.endswith("[x]")
        name = last[:-3] if choice else last
        max_ = str(element.get("max", "1"))
        repeats = max_ not in ("0", "1")
        attribute = "xmlAttr" in (element.get("representation") or ())
        reference = element.get("contentReference")
        source, source_structure = element, structure
        if isinstance(reference, str) and "#" in reference:
            source, source_structure = self._referenced(reference, structure)
        source_path = str(source.get("path", ""))
        codes = tuple(_type_code(t) for t in source.get("type") or () if isinstance(t, Mapping))
        inline = None
        if source_path in source_structure.children_of:
            inline = source_structure.name + source_path[len(source_structure.root) :]
        return ElementInfo(name, repeats, codes, choice, order, inline, attribute)

    def _referenced(
        self, reference: str, structure: _Structure
    ) -> tuple[Mapping[str, Any], _Structure]:
        """The element a contentReference (#Questionnaire.item) points to, and its structure."""
        url, _, target = reference.partition("#")
        holder: _Structure | None = structure
        if url:
            holder = self._structure(url.rsplit("/", 1)[-1]) if url.startswith(BASE_URL) else None
        if holder is None:
            return {}, structure
        if not target.startswith(holder.root) and target.split(".", 1)[0] == holder.name:
            target = holder.root + target[len(holder.name) :]
        return holder.by_path.get(target, {}), holder

    def _primitive(self, structure: _Structure) -> PrimitiveClass:
        if structure.name == "xhtml":
            return "xhtml"
        value = structure.by_path.get(structure.root + ".value", {})
        for type_ref in value.get("type") or ():
            code = str(type_ref.get("code", "")) if isinstance(type_ref, Mapping) else ""
            system = code.rsplit(".", 1)[-1] if code.startswith(_SYSTEM) else ""
            if system in _SYSTEM_CLASSES:
                return _SYSTEM_CLASSES[system]
        return primitive_class(structure.name)


_MISSING = object()
_SYSTEM = "http://hl7.org/fhirpath/System."
_SYSTEM_CLASSES: dict[str, PrimitiveClass] = {
    "Boolean": "boolean",
    "Integer": "integer",
    "Decimal": "decimal",
}
_SYSTEM_CODES = {"Boolean": "boolean", "Integer": "integer", "Decimal": "decimal",
                 "Date": "date", "DateTime": "dateTime", "Time": "time"}  # fmt: skip
_FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


def _type_code(type_ref: Mapping[str, Any]) -> str:
    """A FHIR type code; System.String and the like (id, url, values) by their FHIR type."""
    code = str(type_ref.get("code", ""))
    if not code.startswith(_SYSTEM):
        return code
    for extension in type_ref.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == _FHIR_TYPE_EXTENSION:
            value = extension.get("valueUrl") or extension.get("valueUri")
            if isinstance(value, str) and value:
                return value
    return _SYSTEM_CODES.get(code[len(_SYSTEM) :], "string")


def _index(name: str, definition: Mapping[str, Any]) -> _Structure | None:
    """Index a snapshot by path, skipping slices (base definitions have none that matter)."""
    snapshot = definition.get("snapshot")
    elements = snapshot.get("element") if isinstance(snapshot, Mapping) else None
    if not isinstance(elements, list) or not elements or not isinstance(elements[0], Mapping):
        return None
    root = str(elements[0].get("path", ""))
    by_path: dict[str, Mapping[str, Any]] = {}
    children_of: dict[str, list[Mapping[str, Any]]] = {}
    for element in elements:
        if not isinstance(element, Mapping) or element.get("sliceName"):
            continue
        path = element.get("path")
        if not isinstance(path, str) or ":" in str(element.get("id", "")) or path in by_path:
            continue
        by_path[path] = element
        parent, dot, _ = path.rpartition(".")
        if dot:
            children_of.setdefault(parent, []).append(element)
    return _Structure(name, root, str(definition.get("kind", "")), by_path, children_of)
