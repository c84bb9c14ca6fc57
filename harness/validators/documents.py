"""Tell what a document is (CDA, FHIR, OIOXML) and run every check that applies to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.fhir.resource import FhirReadError, read_resource, structure_issues
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.packs.store import PackStore
from harness.safeparse import PayloadError, parse_xml, sniff_format
from harness.validators.xsd import SchemaLoadError, XsdValidator

CDA_NS = "{urn:hl7-org:v3}"
FHIR_NS = "{http://hl7.org/fhir}"
KINDS = ("cda", "fhir", "oioxml")


class UnusableInput(ValueError):
    """A file could not be read as a document at all (missing, unsafe, not XML or JSON)."""


@dataclass
class Outcome:
    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # checks skipped: which pack is missing

    @property
    def errors(self) -> int:
        return sum(f.blocking for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.is_problem and not f.blocking for f in self.findings)


def detect(data: bytes) -> str:
    fmt = sniff_format(data)
    if fmt == "json":
        return "fhir"
    if fmt != "xml":
        raise UnusableInput("neither XML nor JSON")
    tag = parse_xml(data).tag
    tag = tag if isinstance(tag, str) else ""
    if tag.startswith(CDA_NS):
        return "cda"
    if tag.startswith(FHIR_NS):
        return "fhir"
    return "oioxml"


class DocumentValidator:
    """Compiles each validator once per call, so many files share it."""

    def __init__(self, store: PackStore) -> None:
        self.store = store
        self._xsd: dict[str, XsdValidator | None] = {}

    def _schema(self, kind: str) -> XsdValidator | None:
        if kind not in self._xsd:
            packs = self.store.of_kind(kind)
            self._xsd[kind] = XsdValidator(packs[-1]) if packs else None
        return self._xsd[kind]

    def validate(self, path: Path, kind: str | None = None) -> Outcome:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnusableInput(f"{path}: {exc.strerror}") from None
        try:
            kind = kind or detect(data)
        except PayloadError as exc:
            raise UnusableInput(f"{path}: {exc}") from None
        outcome = Outcome(str(path), kind)
        name = path.name
        if kind == "fhir":
            try:
                _, resource = read_resource(data)
            except (PayloadError, FhirReadError) as exc:
                outcome.findings.append(
                    Finding(
                        "FHIR-PARSE", Severity.F2, str(exc), Location("", "fhirpath", None, name)
                    )
                )
                return outcome
            for issue in structure_issues(resource):
                outcome.findings.append(
                    Finding(
                        "FHIR-STRUCTURE",
                        Severity.F2,
                        issue.message,
                        Location(issue.path, "fhirpath", None, name),
                    )
                )
            outcome.not_run.append("MedCom profiles (issue 5: FHIR profile validator)")
            return outcome
        try:
            root = parse_xml(data) if kind != "fhir" else None
        except PayloadError as exc:
            raise UnusableInput(f"{path}: {exc}") from None
        if kind == "cda":
            schema = self._schema("cda-schema")
            if schema is None:
                outcome.not_run.append("XML Schema: pack missing (cda-schema)")
            elif root is not None:
                outcome.findings.extend(schema.iter_findings(root, name))
            outcome.not_run.append("Schematron: not yet implemented (issue 4)")
        else:
            outcome.not_run.append("OIOXML schema selection: not yet implemented (issue 5)")
        return outcome


__all__ = ["KINDS", "DocumentValidator", "Outcome", "SchemaLoadError", "UnusableInput", "detect"]
