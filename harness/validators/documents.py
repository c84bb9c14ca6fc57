"""Tell what a document is (CDA, FHIR, OIOXML) and run every check that applies to it.

Checks per kind, each from the installed packs (kcert packs install / make packs-dev):

- CDA: XML Schema (cda-schema pack), Schematron (schematron packs, chosen by the
  ClinicalDocument's templateIds), kcert's own header rules (always).
- FHIR (JSON or XML): R4B base structure (always, built into kcert), MedCom profiles from the
  fhir-package packs (ProfileValidator).
- OIOXML: XML Schema from the oioxml-schema pack, chosen by the root element.

A *required* pack is the one holding the base schema of the document's kind: cda-schema for
CDA, oioxml-schema for OIOXML. Without it kcert cannot tell whether the document is even
well-structured, so the file is INCOMPLETE and the call ends with exit 2. FHIR has no required
pack (its base structure is built in). Every other missing pack (schematron, FHIR packages) is
a "not run" note on the file: a visible gap, but the checks that did run decide the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from harness.fhir.resource import structure_issues
from harness.inputfile import InputFileError, read_limited
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.packs.store import Pack, PackError, PackStore
from harness.safeparse import MAX_BYTES, PayloadError, parse_xml, sniff_format
from harness.synthetic import birth_date
from harness.validators.api import ContextArg, ValidatorContext, as_context
from harness.validators.fhirprofile import (
    PackageError,
    ProfileIndex,
    ProfileValidator,
    read_package,
)
from harness.validators.fhirprofile.index import version_key
from harness.validators.fhirprofile.reading import read_instance
from harness.validators.kinds import KINDS
from harness.validators.oioxml import OioxmlSchemas
from harness.validators.schematron import (
    DOCUMENT_SCHEMATRONS,
    SchematronError,
    SchematronRunError,
    SchematronValidator,
    document_template_ids,
)
from harness.validators.xsd import SchemaLoadError, XsdValidator

CDA_NS = "{urn:hl7-org:v3}"
FHIR_NS = "{http://hl7.org/fhir}"
REQUIRED_PACK = {"cda": "cda-schema", "oioxml": "oioxml-schema"}

# kcert's own CDA rules
CPR_RULE = "CDA-CPR"
CPR_OID_RULE = "CDA-CPR-OID"
PROFILE_RULE = "CDA-PROFILE"
SCHEMATRON_RUN_RULE = "SCH-RUN"
CPR_ROOT = "1.2.208.176.1.2"
LEGACY_CPR_ROOT = "2.16.840.1.113883.3.4208.100.2"  # MedCom's OID before 1.2.208.176.1.2


class UnusableInput(ValueError):
    """A file could not be read as a document at all (missing, unsafe, not XML or JSON)."""


class PackProblem(RuntimeError):
    """An installed pack cannot be used (a schema, schematron or FHIR package in it does not
    load): the pack is broken, not the document. Reinstall it or check `kcert packs verify`."""


@dataclass
class DocumentReport:
    """What `kcert validate` says about one file: its kind, findings and notes."""

    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # checks skipped, and why
    missing: list[str] = field(default_factory=list)  # required pack kinds not installed
    context: str = ""  # FHIR: the validation context (package and its dependencies) used
    packs: list[str] = field(default_factory=list)  # the packs that judged this file

    @property
    def errors(self) -> int:
        return sum(f.blocking for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.is_problem and not f.blocking for f in self.findings)

    @property
    def verdict(self) -> str:
        counts = f"{self.errors} errors, {self.warnings} warnings"
        if self.missing:
            return f"INCOMPLETE (pack missing: {', '.join(self.missing)}; {counts})"
        return "OK" if not self.errors else f"FAIL ({counts})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "verdict": self.verdict.split(" ", 1)[0],
            "errors": self.errors,
            "warnings": self.warnings,
            "missing_packs": self.missing,
            "context": self.context,
            "packs": self.packs,
            "not_run": self.not_run,
            "findings": [f.to_dict() for f in self.findings],
        }


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


def newest(packs: Iterable[Pack]) -> list[Pack]:
    """The most recently installed pack of each id (older versions stay installed, unused)."""
    chosen: dict[str, Pack] = {}
    for pack in packs:
        if pack.id not in chosen or pack.installed >= chosen[pack.id].installed:
            chosen[pack.id] = pack
    return [chosen[k] for k in sorted(chosen)]


def _where(pack: Pack) -> str:
    return f"pack {pack.id} {pack.version}"


class DocumentValidator:
    """Compiles each validator once per call, so many files share it.

    Args:
        store: where the packs are installed.
        cache_dir: the Schematron stylesheet cache (default: KCERT_CACHE or ~/.kcert/cache).
        fhir_package: "name#version" (or "name": its newest) of an installed FHIR package;
            unversioned profile canonicals then resolve as that package would resolve them
            (within its dependencies) instead of to the newest version installed.
    """

    def __init__(
        self, store: PackStore, cache_dir: Path | None = None, fhir_package: str | None = None
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.fhir_package = fhir_package
        self._fhir_context: tuple[str, str] | None = None
        self._xsd: dict[str, XsdValidator | None] = {}
        self._schematron: list[tuple[Pack, SchematronValidator]] | None = None
        self._profiles: ProfileValidator | None = None
        self._fhir_packs: list[Pack] | None = None
        self._pack_of: dict[tuple[str, str], Pack] = {}
        self._oioxml_packs: dict[str, OioxmlSchemas | None] = {}
        self._used: dict[tuple[str, str], Pack] = {}

    # -- packs and compiled validators, once per call -------------------------------------------

    @property
    def packs_used(self) -> list[Pack]:
        """Every pack a check of this call drew on, for the report."""
        return [self._used[k] for k in sorted(self._used)]

    def _use(self, pack: Pack) -> None:
        self._used[(pack.id, pack.version)] = pack

    def _latest(self, kind: str) -> Pack | None:
        packs = sorted(self.store.of_kind(kind), key=lambda p: p.installed)
        return packs[-1] if packs else None

    def _cda_schema(self) -> XsdValidator | None:
        if "cda-schema" not in self._xsd:
            pack = self._latest("cda-schema")
            try:
                self._xsd["cda-schema"] = XsdValidator(pack) if pack else None
            except SchemaLoadError as exc:
                raise PackProblem(str(exc)) from None
        return self._xsd["cda-schema"]

    def _schematrons(self) -> list[tuple[Pack, SchematronValidator]]:
        if self._schematron is None:
            self._schematron = [
                (pack, SchematronValidator.from_pack(pack, self.cache_dir))
                for pack in newest(self.store.of_kind("schematron"))
            ]
        return self._schematron

    def _profile_validator(self) -> ProfileValidator | None:
        if self._fhir_packs is None:
            self._fhir_packs = self.store.of_kind("fhir-package")
            if self._fhir_packs:
                try:
                    packages = [(p, read_package(p.root)) for p in self._fhir_packs]
                except PackageError as exc:
                    raise PackProblem(f"FHIR package pack: {exc}") from None
                self._pack_of = {package.key: pack for pack, package in packages}
                index = ProfileIndex(package for _, package in packages)
                self._profiles = ProfileValidator(index)
                self._fhir_context = self._context(index)
        return self._profiles

    def _context(self, index: ProfileIndex) -> tuple[str, str] | None:
        if not self.fhir_package:
            return None
        name, _, version = self.fhir_package.partition("#")
        keys = [k for k in index.packages if k[0] == name and version in ("", k[1])]
        if not keys:
            installed = ", ".join(f"{n}#{v}" for n, v in sorted(index.packages))
            raise PackProblem(
                f"no FHIR package {self.fhir_package} is installed (installed: {installed})"
            )
        return max(keys, key=lambda k: version_key(k[1]))

    def _oioxml_schemas(self) -> OioxmlSchemas | None:
        if "oioxml-schema" not in self._oioxml_packs:
            pack = self._latest("oioxml-schema")
            self._oioxml_packs["oioxml-schema"] = OioxmlSchemas(pack) if pack else None
        return self._oioxml_packs["oioxml-schema"]

    # -- documents ------------------------------------------------------------------------------

    def report(self, path: Path, kind: str | None = None) -> DocumentReport:
        """Every applicable check on one file; UnusableInput when it cannot be read at all."""
        try:
            # read from the open file with a hard cap: a device or FIFO has no honest st_size
            data = read_limited(path, MAX_BYTES)
        except InputFileError as exc:
            raise UnusableInput(f"{path}: {exc.reason}") from None
        return self.report_bytes(data, str(path), kind)

    def report_bytes(self, data: bytes, path: str, kind: str | None = None) -> DocumentReport:
        """As report(), for a document already in memory; `path` names it in the findings."""
        context = ValidatorContext(Path(path).name, kind=kind)
        try:
            findings = list(self._findings(data, context))
        except PayloadError as exc:
            raise UnusableInput(f"{path}: {exc}") from None
        return DocumentReport(
            path,
            context.kind or "",
            findings,
            context.not_run,
            context.missing,
            context.fhir_context.describe() if context.fhir_context else "",
            [f"{p.id}#{p.version}" for p in context.packs],
        )

    def iter_findings(self, document: bytes, context: ContextArg = None) -> Iterator[Finding]:
        """Every applicable check on one document, of `context.kind` (None: detected; the kind
        found is set there). UnusableInput when it is neither safe XML nor JSON; PackProblem
        when an installed pack does not load. The notes go to the context (see api.py)."""
        context = as_context(context)
        try:
            yield from self._findings(document, context)
        except PayloadError as exc:
            raise UnusableInput(f"{context.evidence or 'document'}: {exc}") from None

    def _findings(self, data: bytes, context: ValidatorContext) -> Iterator[Finding]:
        context.kind = context.kind or detect(data)
        if context.kind == "fhir":
            yield from self._fhir(data, context)
        elif context.kind == "cda":
            yield from self._cda(parse_xml(data), context)
        else:
            yield from self._oioxml(parse_xml(data), context)
        for pack in context.packs:
            self._use(pack)

    def _cda(self, root: etree._Element, context: ValidatorContext) -> Iterator[Finding]:
        schema = self._cda_schema()
        if schema is None:
            context.missing.append(REQUIRED_PACK["cda"])
            context.note_not_run("XML Schema: pack missing (cda-schema)")
        else:
            yield from schema.iter_findings(root, context)
        yield from self._run_schematrons(root, context)
        yield from cda_rules(root, context.evidence)

    def _run_schematrons(
        self, root: etree._Element, context: ValidatorContext
    ) -> Iterator[Finding]:
        validators = self._schematrons()
        if not validators:
            context.note_not_run("pack missing (schematron)")
            return
        ran = False
        for pack, validator in validators:
            for relative in validator.schematrons_for(root):
                ran = True
                context.used(pack)
                try:
                    compiled = validator.compiled(relative)
                except SchematronError as exc:
                    raise PackProblem(f"{_where(pack)}: schematron {relative}: {exc}") from None
                try:
                    # drained here: a run error ends this schematron, not the document's checks
                    found = list(compiled.iter_findings(root, context))
                except SchematronRunError as exc:
                    found = [
                        Finding(
                            SCHEMATRON_RUN_RULE,
                            Severity.F2,
                            f"{_where(pack)}: {exc}",
                            Location("/", "xpath", None, context.evidence),
                        )
                    ]
                yield from found
        if not ran:
            ids = ", ".join(document_template_ids(root)) or "(none)"
            packs = ", ".join(_where(p) for p, _ in validators)
            context.note_not_run(
                f"schematron: none in {packs} applies to ClinicalDocument templateId {ids}"
            )

    def _fhir(self, data: bytes, context: ValidatorContext) -> Iterator[Finding]:
        validator = self._profile_validator()
        name = context.evidence
        instance = read_instance(data, name, validator.index if validator else None)
        yield from instance.findings
        if instance.resource is None:
            return
        if validator is None:
            context.note_not_run("pack missing (FHIR packages): base and profile checks")
            for issue in structure_issues(instance.resource):
                yield Finding(
                    "FHIR-STRUCTURE",
                    Severity.F2,
                    issue.message,
                    Location(issue.path, "fhirpath", None, name),
                )
            return
        if context.package is None:
            context.package = self._fhir_context
        context.lines = instance.lines
        found = list(validator.iter_findings(instance.resource, context))
        for key in context.fhir_context.members if context.fhir_context else ():
            pack = self._pack_of.get(key)
            if pack is not None:
                context.used(pack)
        yield from found

    def _oioxml(self, root: etree._Element, context: ValidatorContext) -> Iterator[Finding]:
        schemas = self._oioxml_schemas()
        if schemas is None:
            context.missing.append(REQUIRED_PACK["oioxml"])
            context.note_not_run("XML Schema: pack missing (oioxml-schema)")
            return
        try:
            # drained here, so a schema that does not compile is a PackProblem at once
            found = list(schemas.iter_findings(root, context))
        except SchemaLoadError as exc:
            raise PackProblem(str(exc)) from None
        yield from found


# -- kcert's own CDA rules (always run) -----------------------------------------------------------


def cda_rules(root: etree._Element, name: str) -> Iterator[Finding]:
    """Header rules no pack carries: the patient's CPR (MedCom leaves it to code, see
    CONF-PHMR-DK-4) and whether the document declares a Danish profile at all."""
    yield from _cpr_rules(root, name)
    template_ids = document_template_ids(root)
    if not any(t in DOCUMENT_SCHEMATRONS for t in template_ids):
        yield Finding(
            PROFILE_RULE,
            Severity.F4,
            "the ClinicalDocument declares no templateId of a document profile kcert knows "
            f"({', '.join(template_ids) or 'none'}); only the CDA schema and kcert's own rules "
            "apply",
            Location("/ClinicalDocument/templateId", "xpath", root.sourceline, name),
        )


def _cpr_rules(root: etree._Element, name: str) -> Iterator[Finding]:
    ns = {"v3": CDA_NS.strip("{}")}
    ids = root.xpath("v3:recordTarget/v3:patientRole/v3:id", namespaces=ns)
    for position, element in enumerate(ids if isinstance(ids, list) else [], start=1):
        if not isinstance(element, etree._Element):
            continue
        id_root = element.get("root", "")
        if id_root not in (CPR_ROOT, LEGACY_CPR_ROOT):
            continue
        where = Location(
            f"/ClinicalDocument/recordTarget/patientRole/id[{position}]",
            "xpath",
            element.sourceline,
            name,
        )
        if id_root == LEGACY_CPR_ROOT:
            yield Finding(
                CPR_OID_RULE,
                Severity.F4,
                f"the patient's CPR uses MedCom's retired OID {LEGACY_CPR_ROOT}; use {CPR_ROOT}",
                where,
            )
        cpr = element.get("extension", "")
        if birth_date(cpr) is None:
            shown = f"{cpr[:6]}-xxxx" if len(cpr) == 10 and cpr.isdigit() else repr(cpr)
            yield Finding(
                CPR_RULE,
                Severity.F2,
                f"the patient's CPR {shown} is not a CPR number: 10 digits whose first six are "
                "a calendar date DDMMYY (CONF-PHMR-DK-4 / CPR rules)",
                where,
            )


def files_of(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders expand to the .xml and .json files inside them, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".xml", ".json")
            )
        else:
            found.append(path)
    return found


__all__ = [
    "KINDS",
    "REQUIRED_PACK",
    "DocumentReport",
    "DocumentValidator",
    "PackError",
    "PackProblem",
    "SchemaLoadError",
    "UnusableInput",
    "ValidatorContext",
    "cda_rules",
    "detect",
    "files_of",
]
