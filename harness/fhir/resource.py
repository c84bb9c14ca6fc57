"""Read FHIR JSON or XML bodies into plain JSON-shaped dicts; write XML back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from harness.safeparse import (
    DEFAULT_LIMITS,
    Limits,
    MalformedPayload,
    parse_json,
    parse_xml,
    safe_xml_bytes,
    sniff_format,
)

FHIR_NS = "http://hl7.org/fhir"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


class FhirReadError(ValueError):
    """The body is well-formed but is not a FHIR resource kcert can read."""


@dataclass(frozen=True)
class StructureIssue:
    path: str
    message: str


def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, LookupError) as exc:
        raise FhirReadError(f"unknown FHIR resource type {resource_type!r}") from exc


def read_resource(
    body: bytes, content_type: str = "", limits: Limits = DEFAULT_LIMITS
) -> tuple[str, dict[str, Any]]:
    """Return (format, resource-as-JSON-dict) for a FHIR body in JSON or XML."""
    fmt = sniff_format(body, content_type)
    if fmt == "json":
        value = parse_json(body, limits)
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise FhirReadError("JSON body has no resourceType: not a FHIR resource")
        return fmt, value
    if fmt == "xml":
        root = parse_xml(body, limits)  # refuses DTDs/entities before the model sees it
        safe = safe_xml_bytes(body, limits)
        qname = root.tag if isinstance(root.tag, str) else ""
        if not qname.startswith("{" + FHIR_NS + "}"):
            raise FhirReadError(f"XML root {qname or '?'} is not in the FHIR namespace")
        resource_type = qname.split("}", 1)[1]
        cls = _model_class(resource_type)
        try:
            model = cls.model_validate_xml(safe)
        except ValidationError as exc:
            raise FhirReadError(_summarise(exc)) from None
        except Exception as exc:  # the XML binding raises assorted types on bad content
            raise FhirReadError(f"FHIR XML could not be read: {exc}") from None
        return fmt, json.loads(model.model_dump_json())
    raise MalformedPayload("body is neither JSON nor XML")


def structure_issues(resource: dict[str, Any]) -> list[StructureIssue]:
    """Check a resource against the R4B base model: types, required elements, names."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return [StructureIssue("", "missing resourceType")]
    try:
        cls = _model_class(resource_type)
    except FhirReadError as exc:
        return [StructureIssue("resourceType", str(exc))]
    try:
        cls.model_validate(resource)
    except ValidationError as exc:
        return [
            StructureIssue(_fhirpath_of(resource_type, err["loc"]), err["msg"])
            for err in exc.errors()
        ]
    return []


def to_xml(resource: dict[str, Any]) -> bytes:
    """Serialise a JSON-shaped resource as FHIR XML (through the R4B model)."""
    cls = _model_class(str(resource.get("resourceType")))
    try:
        model = cls.model_validate(resource)
    except ValidationError as exc:
        raise FhirReadError(_summarise(exc)) from None
    return bytes(model.model_dump_xml())


def _fhirpath_of(resource_type: str, loc: tuple[Any, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}"
    return path


def _summarise(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first['msg']}{more}"
