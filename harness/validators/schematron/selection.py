"""Which schematrons apply to a CDA document: by the ClinicalDocument's templateId roots."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from lxml import etree

from harness.model.finding import Finding
from harness.packs.store import Pack
from harness.safeparse import parse_xml
from harness.validators.api import ContextArg, as_context
from harness.validators.schematron.compiler import CompiledSchematron, compile_schematron
from harness.validators.schematron.scope import ART_DECOR, STRICT, check_leniency

CDA_NS = "urn:hl7-org:v3"

# Document templateId root -> schematron file names (matched by name anywhere in the pack).
# Kept as data so a new MedCom profile needs one line, not code.
# Installed packs are MedCom's official material, whose ART-DECOR schematrons break two ISO rules
# on purpose (scope.ART_DECOR): packs are compiled with exactly those two tolerated, each case
# recorded as a warning on the compiled schematron.
PACK_LENIENCY = ART_DECOR
DOCUMENT_SCHEMATRONS: dict[str, tuple[str, ...]] = {
    # MedCom ART-DECOR scenarios
    "1.2.208.184.14.1": ("medcom-documents-appointment_s_r.sch",),  # DK-APD appointment
    "1.2.208.184.15.1": ("medcom-documents-S_R.sch",),  # DK-CPD care plan
    "1.2.208.184.16.1": ("medcom-documents-PDC_s_r.sch", "conf-pdc-sch-dk.xml"),  # DK-PDC
    # MedCom hand-written profiles
    "1.2.208.184.11.1": ("conf-phmr-dk.sch.xml",),  # DK-PHMR
    "1.2.208.184.12.1": ("conf-qfdd-sch-dk.xml",),  # DK-QFDD
    "1.2.208.184.13.1": ("conf-qrd-sch-dk.xml",),  # DK-QRD
    # The HL7 international bases some DK documents also declare
    "2.16.840.1.113883.10.20.32": ("conf-qfdd-sch.xml",),  # HL7 QFDD
    "2.16.840.1.113883.10.20.33": ("conf-qrd-sch.xml",),  # HL7 QRD
    "2.16.840.1.113883.10.20.36": ("Personal Healthcare Monitoring Report 1.2.sch.xml",),
}


def document_template_ids(root: etree._Element) -> list[str]:
    """templateId/@root of the ClinicalDocument itself (not of sections or entries)."""
    return [
        child.get("root", "")
        for child in root
        if isinstance(child.tag, str) and child.tag == f"{{{CDA_NS}}}templateId"
    ]


def choose(
    template_ids: Iterable[str], files: Iterable[str], mapping: Mapping[str, tuple[str, ...]]
) -> list[str]:
    """Relative paths (of `files`) of the schematrons for these template ids, no duplicates."""
    by_name: dict[str, str] = {}
    for name in sorted(files):
        by_name.setdefault(PurePosixPath(name).name, name)
    chosen: dict[str, None] = {}
    for template_id in template_ids:
        for wanted in mapping.get(template_id, ()):
            if wanted in by_name:
                chosen[by_name[wanted]] = None
    return list(chosen)


class SchematronValidator:
    """Validates CDA documents against the schematrons of one folder (usually a pack).

    Each schematron is compiled once per process (see compiler.py), so many documents in one
    call share the compile.
    """

    def __init__(
        self,
        folder: Path,
        content_key: str | None = None,
        mapping: Mapping[str, tuple[str, ...]] = DOCUMENT_SCHEMATRONS,
        cache_dir: Path | None = None,
        phase: str | None = None,
        leniency: Iterable[str] = STRICT,
    ) -> None:
        self.folder = folder
        self.leniency = check_leniency(leniency)
        self.content_key = content_key
        self.mapping = mapping
        self.cache_dir = cache_dir
        self.phase = phase
        self.files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        self.pack: Pack | None = None  # the pack the folder is, when built from one

    @classmethod
    def from_pack(cls, pack: Pack, cache_dir: Path | None = None) -> SchematronValidator:
        # The pack hash vouches for every file, so the disk cache needs no file checks.
        validator = cls(pack.files_dir, pack.sha256, cache_dir=cache_dir, leniency=PACK_LENIENCY)
        validator.files = sorted(pack.files)
        validator.pack = pack
        return validator

    def schematrons_for(self, root: etree._Element) -> list[str]:
        """Relative paths of the schematrons that apply; empty when none does."""
        return choose(document_template_ids(root), self.files, self.mapping)

    def compiled(self, relative: str) -> CompiledSchematron:
        return compile_schematron(
            self.folder / relative,
            self.phase,
            self.cache_dir,
            content_key=self.content_key,
            leniency=self.leniency,
        )

    def iter_findings(
        self, document: bytes | Path | etree._Element, context: ContextArg = None
    ) -> Iterator[Finding]:
        """Findings of every applicable schematron (none applies: no findings and no note; a
        caller judging with several packs knows whether any applied, see schematrons_for)."""
        context = as_context(context)
        if isinstance(document, etree._Element):
            root = document
        else:
            root = parse_xml(document.read_bytes() if isinstance(document, Path) else document)
        chosen = self.schematrons_for(root)
        if chosen and self.pack is not None:
            context.used(self.pack)
        for relative in chosen:
            yield from self.compiled(relative).iter_findings(root, context)
