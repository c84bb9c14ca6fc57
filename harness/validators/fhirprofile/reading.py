"""Read a FHIR instance for validation: JSON as it is, XML with kcert's reader driven by the
base definitions of the index (or the built-in R4B models without them), what only the reader
can see (element order, misplaced text) as findings with their lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.fhir.resource import MODEL_TYPES, FhirReadError, read_resource
from harness.fhir.types import DefinitionTypes, TypeSource
from harness.fhir.xmlread import read_fhir_xml
from harness.model.finding import Finding
from harness.safeparse import DEFAULT_LIMITS, Limits, MalformedPayload, sniff_format
from harness.validators.fhirprofile import rules
from harness.validators.fhirprofile.index import ProfileIndex

PARSE = "FHIR-PARSE"
XML = "FHIR-XML"


@dataclass
class Instance:
    """A readable instance, or (resource None) the finding that says why it is not."""

    resource: dict[str, Any] | None
    format: str = ""
    lines: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def type_source(index: ProfileIndex | None) -> TypeSource:
    """The R4 base definitions when the index holds them, else kcert's built-in R4B models."""
    if index is None or not index.has_core:
        return MODEL_TYPES
    cached = index.memo.get("types")
    if cached is None:
        context = index.context(None)
        cached = DefinitionTypes(lambda url: index.resource(url, context))
        index.memo["types"] = cached
    return cached


def read_instance(
    data: bytes,
    evidence: str = "",
    index: ProfileIndex | None = None,
    content_type: str = "",
    limits: Limits = DEFAULT_LIMITS,
) -> Instance:
    """A well-formed body that is not FHIR is a FHIR-PARSE finding with its line; what is not
    even well-formed or safe raises PayloadError (with its line), for the caller to refuse."""
    head = data.lstrip()[:2]
    if head in (b"//", b"/*"):  # JSON5 and JavaScript allow comments; JSON does not
        first = data[: len(data) - len(data.lstrip())].count(b"\n") + 1
        raise MalformedPayload("comments are not allowed in JSON", first)
    try:
        if sniff_format(data, content_type) == "xml":
            read = read_fhir_xml(data, type_source(index), limits)
            findings = [
                rules.finding(XML, rules.ERROR, p.message, p.path, evidence, p.line)
                for p in read.problems
                if p.kind == "structure"  # the rest the validator judges on the JSON again
            ]
            return Instance(read.resource, "xml", dict(read.lines), findings)
        fmt, resource = read_resource(data, content_type, limits)
        return Instance(resource, fmt)
    except FhirReadError as exc:
        line = getattr(exc, "line", None)
        reason = getattr(exc, "reason", None) or str(exc)
        return Instance(
            None, findings=[rules.finding(PARSE, rules.ERROR, reason, "", evidence, line)]
        )
