"""Read FHIR JSON or XML bodies into plain JSON-shaped dicts; write XML back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from harness.fhir.errors import FhirReadError, FhirWriteError
from harness.fhir.modeltypes import ModelTypes
from harness.fhir.types import FHIR_NS, TypeSource
from harness.fhir.xmlread import read_fhir_xml
from harness.fhir.xmlwrite import write_fhir_xml
from harness.safeparse import (
    DEFAULT_LIMITS,
    Limits,
    MalformedPayload,
    parse_json,
    sniff_format,
)

__all__ = [
    "FHIR_JSON",
    "FHIR_NS",
    "FHIR_XML",
    "MODEL_TYPES",
    "FhirReadError",
    "StructureIssue",
    "read_resource",
    "structure_issues",
    "to_xml",
]

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
# The built-in type information (fhir.resources R4B); callers holding the R4 base package pass
# a harness.fhir.types.DefinitionTypes instead.
MODEL_TYPES = ModelTypes()


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
    body: bytes,
    content_type: str = "",
    limits: Limits = DEFAULT_LIMITS,
    types: TypeSource | None = None,
) -> tuple[str, dict[str, Any]]:
    """Return (format, resource-as-JSON-dict) for a FHIR body in JSON or XML."""
    fmt = sniff_format(body, content_type)
    if fmt == "json":
        value = parse_json(body, limits)
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise FhirReadError("JSON body has no resourceType: not a FHIR resource")
        return fmt, value
    if fmt == "xml":
        # Content that is not valid FHIR XML is kept (unknown elements under their name, bad
        # literals as strings) for structure_issues and the validators to report.
        return fmt, read_fhir_xml(body, types or MODEL_TYPES, limits).resource
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


def to_xml(resource: dict[str, Any], types: TypeSource | None = None) -> bytes:
    """Serialise a JSON-shaped resource as FHIR XML, in definition order."""
    try:
        return write_fhir_xml(resource, types or MODEL_TYPES)
    except FhirWriteError as exc:
        raise FhirReadError(str(exc)) from None


def _fhirpath_of(resource_type: str, loc: tuple[Any, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}"
    return path
