"""Read FHIR XML into the standard FHIR JSON representation, driven by type definitions.

What is not valid FHIR XML but can still be represented is kept and listed in `problems`
(unknown elements under their own name, out-of-order elements, invalid literals as strings),
so a validator reports it instead of the reader refusing the document. Only input that is not
well-formed, unsafe, or not a FHIR resource at all raises.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lxml import etree

from harness.fhir.errors import FhirReadError
from harness.fhir.types import FHIR_NS, XHTML_NS, Slot, TypeDef, TypeSource
from harness.safeparse import DEFAULT_LIMITS, Limits, MalformedPayload, UnsafePayload, parse_xml

_FHIR = "{" + FHIR_NS + "}"
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_XHTML_ONLY = {None: XHTML_NS}
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,11})")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# Longer decimal text is kept as a string (and reported) rather than converted at any cost.
_MAX_DECIMAL_TEXT = 64
_UTF32_STARTS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
)
_DECLARED_ENCODING = re.compile(
    r"""^(<\?xml[^>]{0,200}?encoding\s*=\s*["'])[A-Za-z0-9._-]*(["'])"""
)
# Problems beyond this many are counted in one last entry: a hostile document cannot flood.
MAX_PROBLEMS = 1000


class XmlProblem(NamedTuple):
    """Content that is not valid FHIR XML but was represented anyway."""

    path: str
    line: int | None
    message: str
    # "literal" (a value kept as a string) and "unknown" (an element kept under its name) are
    # in the JSON for a validator to judge again; "structure" only the reader can see
    kind: str = "structure"


@dataclass
class XmlResource:
    """A read FHIR XML document: the JSON-shaped resource, element lines and problems."""

    resource: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[XmlProblem] = field(default_factory=list)


def read_fhir_xml(data: bytes, types: TypeSource, limits: Limits = DEFAULT_LIMITS) -> XmlResource:
    """Read FHIR XML bytes (any declared encoding) as FHIR JSON, with lines and problems."""
    root = parse_xml(_utf32_as_utf8(data, limits), limits)  # no DTDs/entities, size/depth caps
    tag = root.tag if isinstance(root.tag, str) else ""
    line = root.sourceline
    if not tag.startswith(_FHIR):
        raise FhirReadError(f"XML root {tag or '?'} is not in the FHIR namespace", line)
    name = tag[len(_FHIR) :]
    definition = types.definition(name)
    if definition is None or definition.kind != "resource":
        raise FhirReadError(f"unknown FHIR resource type {name!r}", line)
    reader = _Reader(types)
    try:
        resource = reader.resource(root, definition, name)
    except RecursionError:
        raise UnsafePayload(f"XML nested too deeply to read ({limits.max_depth} allowed)") from None
    return XmlResource(resource, reader.lines, reader.problems)


def _utf32_as_utf8(data: bytes, limits: Limits) -> bytes:
    """UTF-32 XML re-encoded as UTF-8: libxml2's incremental parser cannot detect UTF-32."""
    codec = next((c for start, c in _UTF32_STARTS if data.startswith(start)), None)
    if codec is None or len(data) > limits.max_bytes:
        return data  # not UTF-32, or too large: parse_xml decides
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"not {codec.upper()} text: {exc.reason} at byte {exc.start}"
        ) from None
    text = _DECLARED_ENCODING.sub(r"\1UTF-8\2", text.lstrip("\ufeff"), count=1)
    return text.encode("utf-8")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _Reader:
    """One document's walk: the element lines and problems found on the way."""

    def __init__(self, types: TypeSource) -> None:
        self.types = types
        self.lines: dict[str, int] = {}
        self.problems: list[XmlProblem] = []
        self._defs: dict[str, TypeDef | None] = {}
        self._dropped = 0

    def problem(self, path: str, element: Any, message: str, kind: str = "structure") -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(XmlProblem(path, element.sourceline, message, kind))
            return
        self._dropped += 1
        note = XmlProblem("", None, f"{self._dropped} more problems not listed")
        if self._dropped == 1:
            self.problems.append(note)
        else:
            self.problems[-1] = note

    def definition(self, type_path: str) -> TypeDef | None:
        try:
            return self._defs[type_path]
        except KeyError:
            found = self._defs[type_path] = self.types.definition(type_path)
            return found

    # -- resources and complex content ---------------------------------------------------------

    def resource(self, element: Any, definition: TypeDef, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"resourceType": definition.path}
        self.lines[path] = element.sourceline
        self.content(element, definition, out, path)
        return out

    def content(self, element: Any, definition: TypeDef, out: dict[str, Any], path: str) -> None:
        """Attributes and child elements of a complex element into `out`."""
        if element.attrib:
            self.attributes(element, definition, out, path)
        text = element.text
        if text and not text.isspace():
            self.problem(path, element, "text content is not allowed here")
        last: Slot | None = None
        counts: dict[str, int] = {}
        primitives: dict[str, list[tuple[Any, dict[str, Any] | None]]] = {}
        for child in element:
            tail = child.tail
            if tail and not tail.isspace():
                self.problem(path, child, "text content is not allowed here")
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions are not content
            slot = definition.slot_by_tag(tag)
            if slot is None:
                slot = self.foreign(child, tag, definition, path)
                if slot is None:
                    self.unknown_into(child, _local(tag), out, counts, path)
                    continue
            if last is not None and slot.element.order < last.element.order:
                self.problem(
                    f"{path}.{slot.element.name}",
                    child,
                    f"element {slot.name} is out of order: it belongs before {last.name}",
                )
            last = slot
            self.child(child, slot, out, counts, primitives, path)
        for name, items in primitives.items():
            values = [v for v, _ in items]
            extras = [e for _, e in items]
            if any(v is not None for v in values):
                out[name] = values
            else:
                out.pop(name, None)
            if any(e is not None for e in extras):
                out["_" + name] = extras

    def foreign(self, child: Any, tag: str, definition: TypeDef, path: str) -> Slot | None:
        """The slot of an element in the wrong namespace (reported), or None if unknown."""
        local = _local(tag)
        slot = definition.slot(local)
        if slot is None:
            return None
        namespace = tag[1 : tag.index("}")] if tag.startswith("{") else ""
        self.problem(
            f"{path}.{local}",
            child,
            f"element {local} is in namespace {namespace or '(none)'!r}, not "
            + (XHTML_NS if slot.type_code == "xhtml" else FHIR_NS),
        )
        return slot

    def attributes(self, element: Any, definition: TypeDef, out: dict[str, Any], path: str) -> None:
        for key, value in element.attrib.items():
            slot = definition.slot(key)
            if slot is not None and slot.element.attribute:
                out[key] = value
            elif key.startswith(_XSI):
                continue  # xsi:schemaLocation and the like are hints to tools, not content
            elif key == "value":
                self.problem(path, element, "a complex element has no value attribute")
            else:
                self.problem(path, element, f"attribute {_local(key)} is not allowed here")

    def child(
        self,
        child: Any,
        slot: Slot,
        out: dict[str, Any],
        counts: dict[str, int],
        primitives: dict[str, list[tuple[Any, dict[str, Any] | None]]],
        path: str,
    ) -> None:
        info = slot.element
        name = slot.name
        definition = self.definition(slot.type_path)
        if definition is None:
            self.problem(f"{path}.{info.name}", child, f"no definition for type {slot.type_path}")
            self.unknown_into(child, name, out, counts, path)
            return
        primitive = definition.kind == "primitive-type"
        if primitive and definition.primitive != "xhtml" and self.empty(child):
            text = child.text
            detail = " (text content is not allowed: use the value attribute)"
            detail = detail if text and not text.isspace() else ""
            self.problem(
                f"{path}.{info.name}", child, f"{name} has neither value nor extensions{detail}"
            )
            return
        if info.choice:
            chosen = info.types.index(slot.type_code)  # counts also remembers the type chosen
            if counts.setdefault("[x]" + info.name, chosen) != chosen:
                self.problem(
                    f"{path}.{info.name}", child, f"{info.name}[x] is given with more than one type"
                )
        seen = counts.get(name, 0)
        counts[name] = seen + 1
        repeats = info.repeats or seen > 0
        child_path = (
            f"{path}.{info.name}[{seen}]" if info.repeats or seen else f"{path}.{info.name}"
        )
        if seen and not info.repeats:
            self.problem(child_path, child, f"{name} occurs more than once but may occur once")
        if info.attribute:
            self.problem(child_path, child, f"{name} must be an XML attribute, not an element")
        self.lines[child_path] = child.sourceline
        if definition.kind == "primitive-type":
            value, extra = self.primitive(child, definition, child_path)
            if repeats:
                if name not in primitives:
                    out.setdefault(name, None)  # keeps the element's place in the JSON order
                    items = primitives[name] = []
                    if seen:  # a second occurrence of a single element: keep the first one too
                        items.append((out.get(name), out.pop("_" + name, None)))
                primitives[name].append((value, extra))
                return
            if value is not None:
                out[name] = value
            if extra is not None:
                out["_" + name] = extra
            return
        if definition.kind == "resource":
            value = self.contained(child, child_path)
        else:
            value = {}
            self.content(child, definition, value, child_path)
        if value is None:
            return
        if info.repeats:
            out.setdefault(name, []).append(value)
        elif name not in out:
            out[name] = value
        elif seen == 1:  # a single element given twice: both kept, as an array, and reported
            out[name] = [out[name], value]
        else:
            out[name].append(value)

    # -- primitives ----------------------------------------------------------------------------

    def empty(self, element: Any) -> bool:
        if element.get("value") is not None or element.get("id") is not None:
            return False
        return not any(isinstance(c.tag, str) for c in element)

    def primitive(
        self, element: Any, definition: TypeDef, path: str
    ) -> tuple[Any, dict[str, Any] | None]:
        """(JSON value, `_name` object or None) of a primitive element."""
        if definition.primitive == "xhtml":
            return self.xhtml(element, path), None
        extra: dict[str, Any] = {}
        raw = None
        for key, text in element.attrib.items():
            if key == "value":
                raw = text
            elif key == "id":
                extra["id"] = text
            elif not key.startswith(_XSI):
                self.problem(path, element, f"attribute {_local(key)} is not allowed here")
        text = element.text
        if text and not text.isspace():
            self.problem(path, element, "text content is not allowed here: use the value attribute")
        if len(element):
            self.primitive_children(element, definition, extra, path)
        if raw is None:
            return None, extra or None
        return self.convert(raw, definition, element, path), extra or None

    def primitive_children(
        self, element: Any, definition: TypeDef, extra: dict[str, Any], path: str
    ) -> None:
        """A primitive's extensions into its `_name` object; anything else is unknown."""
        counts: dict[str, int] = {}
        extension = definition.slot("extension")
        ext_def = self.definition("Extension")
        for child in element:
            tail = child.tail
            if tail and not tail.isspace():
                self.problem(path, child, "text content is not allowed here")
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag == _FHIR + "extension" and extension is not None and ext_def is not None:
                seen = counts.get("extension", 0)
                counts["extension"] = seen + 1
                child_path = f"{path}.extension[{seen}]"
                self.lines[child_path] = child.sourceline
                value: dict[str, Any] = {}
                self.content(child, ext_def, value, child_path)
                extra.setdefault("extension", []).append(value)
            else:
                self.unknown_into(child, _local(tag), extra, counts, path)

    def convert(self, raw: str, definition: TypeDef, element: Any, path: str) -> Any:
        """The JSON value of a value attribute; an invalid literal stays a string (reported)."""
        kind = definition.primitive
        if raw == "":
            self.problem(path, element, "the value attribute is empty", "literal")
            return raw
        if kind == "boolean":
            if raw == "true":
                return True
            if raw == "false":
                return False
            self.problem(path, element, f"{raw!r} is not a boolean (true or false)", "literal")
            return raw
        if kind == "integer":
            if _INTEGER.fullmatch(raw):
                return int(raw)
            self.problem(path, element, f"{raw!r} is not a valid {definition.path}", "literal")
            return raw
        if kind == "decimal":
            if len(raw) <= _MAX_DECIMAL_TEXT and _DECIMAL.fullmatch(raw):
                if "." not in raw and "e" not in raw and "E" not in raw:
                    return int(raw)
                number = float(raw)
                if number not in (float("inf"), float("-inf")):
                    return number
            self.problem(path, element, f"{raw!r} is not a valid decimal", "literal")
            return raw
        return raw

    def xhtml(self, element: Any, path: str) -> str:
        """The Narrative div as an XHTML string, as FHIR JSON carries it."""
        if element.nsmap != _XHTML_ONLY:
            # Namespaces declared on ancestors (xsi, ...) would otherwise be copied into the div.
            element = copy.deepcopy(element)
            element.tail = None
            etree.cleanup_namespaces(element)
        return str(etree.tostring(element, encoding="unicode", with_tail=False))

    # -- contained resources and unknown content -----------------------------------------------

    def contained(self, element: Any, path: str) -> dict[str, Any] | None:
        """The one resource inside a resource-typed element (contained, entry.resource)."""
        if element.attrib:
            self.problem(path, element, "attributes are not allowed on a resource container")
        text = element.text
        if text and not text.isspace():
            self.problem(path, element, "text content is not allowed here")
        found: dict[str, Any] | None = None
        for child in element:
            tail = child.tail
            if tail and not tail.isspace():
                self.problem(path, child, "text content is not allowed here")
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if found is not None:
                self.problem(path, child, "only one resource is allowed here; the rest is dropped")
                continue
            name = _local(tag)
            definition = self.definition(name) if tag.startswith(_FHIR) else None
            if definition is None or definition.kind != "resource":
                self.problem(path, child, f"{name} is not a FHIR resource type")
                found = {"resourceType": name}
                self.unknown_content(child, found, path)
                continue
            found = self.resource(child, definition, path)
        if found is None:
            self.problem(path, element, "the element holds no resource")
        return found

    def unknown_into(
        self, element: Any, name: str, out: dict[str, Any], counts: dict[str, int], path: str
    ) -> None:
        """Keep an unknown element under its own name, so a validator can report it."""
        seen = counts.get(name, 0)
        counts[name] = seen + 1
        child_path = f"{path}.{name}[{seen}]" if seen else f"{path}.{name}"
        self.problem(child_path, element, f"unknown element {name}", "unknown")
        value = self.unknown_value(element, child_path)
        if seen == 0 or name not in out:
            out[name] = value
        elif isinstance(out[name], list) and seen > 1:
            out[name].append(value)
        else:
            out[name] = [out[name], value]

    def unknown_value(self, element: Any, path: str) -> Any:
        self.lines[path] = element.sourceline
        if not any(isinstance(c.tag, str) for c in element):
            value = element.get("value")
            if value is not None:
                return value
            text = (element.text or "").strip()
            return text or {}
        out: dict[str, Any] = {}
        self.unknown_content(element, out, path)
        return out

    def unknown_content(self, element: Any, out: dict[str, Any], path: str) -> None:
        counts: dict[str, int] = {}
        for key, value in element.attrib.items():
            out.setdefault(_local(key), value)
        for child in element:
            if isinstance(child.tag, str):
                name = _local(child.tag)
                seen = counts.get(name, 0)
                counts[name] = seen + 1
                child_path = f"{path}.{name}[{seen}]" if seen else f"{path}.{name}"
                value = self.unknown_value(child, child_path)
                if seen == 0:
                    out[name] = value
                elif seen == 1:
                    out[name] = [out[name], value]
                else:
                    out[name].append(value)
