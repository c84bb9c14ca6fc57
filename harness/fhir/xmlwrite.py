"""Write FHIR JSON as FHIR XML in definition order: the inverse of harness.fhir.xmlread."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lxml import etree

from harness.fhir.errors import FhirWriteError
from harness.fhir.types import FHIR_NS, XHTML_NS, Slot, TypeDef, TypeSource
from harness.safeparse import PayloadError, parse_xml

_FHIR = "{" + FHIR_NS + "}"
_XHTML_DIV = "{" + XHTML_NS + "}div"


def write_fhir_xml(resource: Mapping[str, Any], types: TypeSource) -> bytes:
    """FHIR XML (UTF-8, with declaration) of a JSON-shaped resource, or FhirWriteError."""
    writer = _Writer(types)
    try:
        root = writer.root(resource)
        return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))
    except FhirWriteError:
        raise
    except RecursionError:
        raise FhirWriteError("the resource is nested too deeply to write") from None
    except (ValueError, TypeError) as exc:  # lxml refuses text XML cannot carry (control chars)
        raise FhirWriteError(f"{writer.where}: {exc}") from None


class _Writer:
    """One resource's serialisation; `where` is the JSON path being written (for errors)."""

    def __init__(self, types: TypeSource) -> None:
        self.types = types
        self.where = ""

    def fail(self, path: str, message: str) -> FhirWriteError:
        return FhirWriteError(f"{path}: {message}")

    def resource_def(self, resource: Any, path: str) -> TypeDef:
        if not isinstance(resource, Mapping):
            raise self.fail(path, "a resource must be a JSON object")
        name = resource.get("resourceType")
        definition = self.types.definition(name) if isinstance(name, str) else None
        if definition is None or definition.kind != "resource":
            raise self.fail(path, f"resourceType {name!r} is not a FHIR resource type")
        return definition

    def root(self, resource: Mapping[str, Any]) -> Any:
        definition = self.resource_def(resource, "")
        element = etree.Element(_FHIR + definition.path, nsmap={None: FHIR_NS})
        self.content(element, resource, definition, definition.path)
        return element

    def content(self, element: Any, obj: Mapping[str, Any], definition: TypeDef, path: str) -> None:
        """The members of a JSON object as attributes and child elements, in definition order."""
        present: list[tuple[int, int, str, Slot]] = []
        for key in obj:
            if key == "resourceType" and definition.kind == "resource":
                continue
            name = key[1:] if key.startswith("_") else key
            slot = definition.slot(name)
            if slot is None:
                raise self.fail(f"{path}.{key}", "no such element in " + definition.path)
            if key.startswith("_") and name in obj:
                continue  # written together with the value
            rank = slot.element.types.index(slot.type_code) if slot.element.choice else 0
            present.append((slot.order, rank, name, slot))
        present.sort(key=lambda entry: entry[:3])
        for _, _, name, slot in present:
            self.where = f"{path}.{name}"
            if slot.element.attribute:
                self.attribute(element, obj, name, path)
            else:
                self.member(element, obj, name, slot, path)

    def attribute(self, element: Any, obj: Mapping[str, Any], name: str, path: str) -> None:
        value = obj.get(name)
        if "_" + name in obj:
            raise self.fail(f"{path}._{name}", "an XML attribute cannot carry extensions")
        if not isinstance(value, str):
            raise self.fail(f"{path}.{name}", "must be a string")
        element.set(name, value)

    def member(
        self, element: Any, obj: Mapping[str, Any], name: str, slot: Slot, path: str
    ) -> None:
        definition = self.types.definition(slot.type_path)
        if definition is None:
            raise self.fail(f"{path}.{name}", f"no definition for type {slot.type_path}")
        value, extra = obj.get(name), obj.get("_" + name)
        repeats = slot.element.repeats
        if definition.kind == "primitive-type":
            if not repeats:
                self.items(value, False, f"{path}.{name}")
                self.items(extra, False, f"{path}._{name}")
                self.primitive(element, name, value, extra, definition, f"{path}.{name}")
                return
            values, extras = self.parallel(value, extra, f"{path}.{name}")
            for index, (item, item_extra) in enumerate(zip(values, extras, strict=True)):
                item_path = f"{path}.{name}[{index}]"
                self.primitive(element, name, item, item_extra, definition, item_path)
            return
        if extra is not None:
            raise self.fail(f"{path}._{name}", "only primitive elements have a _ object")
        items = self.items(value, repeats, f"{path}.{name}")
        for index, item in enumerate(items):
            item_path = f"{path}.{name}[{index}]" if repeats else f"{path}.{name}"
            if not isinstance(item, Mapping):
                raise self.fail(item_path, "must be a JSON object")
            child = etree.SubElement(element, _FHIR + name)
            if definition.kind == "resource":
                inner = self.resource_def(item, item_path)
                holder = etree.SubElement(child, _FHIR + inner.path)
                self.content(holder, item, inner, item_path)
            else:
                self.content(child, item, definition, item_path)

    def items(self, value: Any, repeats: bool, path: str) -> list[Any]:
        if not repeats:
            if isinstance(value, list):
                raise self.fail(path, "may occur once: an array is not allowed")
            return [value]
        if not isinstance(value, list) or not value:
            raise self.fail(path, "repeats: must be a non-empty array")
        return value

    def parallel(self, value: Any, extra: Any, path: str) -> tuple[list[Any], list[Any]]:
        """The value array and the `_` array of a repeating primitive, of equal length."""
        values = self.items(value, True, path) if value is not None else None
        extras = self.items(extra, True, "_" + path) if extra is not None else None
        if values is not None and extras is not None and len(values) != len(extras):
            raise self.fail(path, "the value array and the _ array differ in length")
        size = len(values if values is not None else extras or [])
        return values or [None] * size, extras or [None] * size

    def primitive(
        self,
        parent: Any,
        name: str,
        value: Any,
        extra: Any,
        definition: TypeDef,
        path: str,
    ) -> None:
        if definition.primitive == "xhtml":
            if extra is not None:
                raise self.fail(path, "the narrative div has no _ object in kcert's writer")
            parent.append(self.xhtml(value, path))
            return
        if value is None and extra is None:
            raise self.fail(path, "null with neither a value nor extensions")
        element = etree.SubElement(parent, _FHIR + name)
        if extra is not None:
            if not isinstance(extra, Mapping):
                raise self.fail(path, "the _ object must be a JSON object")
            unknown = set(extra) - {"id", "extension"}
            if unknown:
                raise self.fail(path, f"the _ object holds {', '.join(sorted(unknown))}")
            if "id" in extra:
                if not isinstance(extra["id"], str):
                    raise self.fail(path + ".id", "must be a string")
                element.set("id", extra["id"])
        if value is not None:
            element.set("value", self.literal(value, definition, path))
        extensions = extra.get("extension") if extra is not None else None
        if extensions is not None:
            extension_def = self.types.definition("Extension")
            if extension_def is None:
                raise self.fail(path, "no definition for type Extension")
            for index, item in enumerate(self.items(extensions, True, path + ".extension")):
                item_path = f"{path}.extension[{index}]"
                if not isinstance(item, Mapping):
                    raise self.fail(item_path, "must be a JSON object")
                self.where = item_path
                child = etree.SubElement(element, _FHIR + "extension")
                self.content(child, item, extension_def, item_path)

    def literal(self, value: Any, definition: TypeDef, path: str) -> str:
        """The value attribute's text; the JSON type must match the primitive's."""
        kind = definition.primitive
        if kind == "boolean":
            if isinstance(value, bool):
                return "true" if value else "false"
        elif kind == "integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
        elif kind == "decimal":
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            if isinstance(value, float) and math.isfinite(value):
                return repr(value)
        elif isinstance(value, str):
            return value
        expected = {"boolean": "true or false", "integer": "an integer", "decimal": "a number"}
        raise self.fail(
            path, f"must be {expected.get(str(kind), 'a string')} for {definition.path}"
        )

    def xhtml(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise self.fail(path, "the narrative div must be a string of XHTML")
        try:
            div = parse_xml(value.encode("utf-8"))
        except PayloadError as exc:
            raise self.fail(path, f"the narrative div is not well-formed XHTML: {exc}") from None
        if div.tag != _XHTML_DIV:
            raise self.fail(path, "the narrative must be one XHTML div element")
        return div
