"""Bytes on the wire <-> FHIR resources, for the reference LPS (JSON and XML)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response
from pydantic import ValidationError

from harness.safeparse import PayloadError, parse_json, parse_xml, safe_xml_bytes

FHIR_NS = "{http://hl7.org/fhir}"


class WireError(ValueError):
    """The body is not a readable FHIR resource."""

    def __init__(self, text: str, xml_ok: bool = False) -> None:
        super().__init__(text)
        self.xml_ok = xml_ok


def read_body(body: bytes, content_type: str) -> tuple[str, Any]:
    ct = content_type.lower()
    head = body.lstrip()[:1]
    if "xml" in ct or (not ct.strip() and head == b"<"):
        return "xml", _read_xml(body)
    if "json" in ct or head in (b"{", b"["):
        try:
            value = parse_json(body)
        except PayloadError as exc:
            raise WireError(f"body is not valid FHIR JSON: {exc}") from None
        if not isinstance(value, dict) or "resourceType" not in value:
            raise WireError("body is JSON but not a FHIR resource (no resourceType)")
        _check_structure(value)
        return "json", value
    raise WireError(f"unsupported content type {content_type or '(none)'}: not FHIR")


def _check_structure(resource: dict[str, Any]) -> None:
    """Types, cardinalities and element names per FHIR R4B, before the LPS looks inside."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(str(resource["resourceType"])).model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WireError(f"not valid FHIR: {where}: {first['msg']}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise WireError(f"not a known FHIR resource: {exc}") from None


def _read_xml(body: bytes) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        root = parse_xml(body)
        body = safe_xml_bytes(body)  # the model's own XML parser never sees the raw input
    except PayloadError as exc:
        raise WireError(f"body is not valid FHIR XML: {exc}", xml_ok=True) from None
    tag = root.tag if isinstance(root.tag, str) else ""
    if not tag.startswith(FHIR_NS):
        raise WireError("XML body is not in the FHIR namespace", xml_ok=True)
    try:
        cls = get_fhir_model_class(tag[len(FHIR_NS) :])
        model = cls.model_validate_xml(body)
    except (ValidationError, KeyError, ValueError) as exc:
        raise WireError(f"FHIR XML could not be read: {str(exc)[:300]}", xml_ok=True) from None
    return json.loads(model.model_dump_json())


def write_body(status: int, resource: dict[str, Any], as_xml: bool) -> Response:
    if as_xml:
        from fhir.resources.R4B import get_fhir_model_class

        try:
            cls = get_fhir_model_class(resource["resourceType"])
            data = cls.model_validate(resource).model_dump_xml()
            return Response(data, status_code=status, media_type="application/fhir+xml")
        except (ValidationError, KeyError, ValueError):
            pass  # fall back to JSON rather than fail the answer
    return Response(json.dumps(resource), status_code=status, media_type="application/fhir+json")
