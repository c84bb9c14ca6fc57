"""OIOXML (MedCom's XML letters: REF, CTL, DIS ...): the schema for a document, found by the
namespace and name of its root element in an installed oioxml-schema pack."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import PurePosixPath

from lxml import etree

from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.packs.store import Pack
from harness.validators.api import ContextArg, as_context
from harness.validators.xsd import SchemaLoadError, XsdValidator

XS = "{http://www.w3.org/2001/XMLSchema}"
ROOT_RULE = "OIOXML-ROOT"

Key = tuple[str, str]  # (target namespace, element name)


class OioxmlXsd(XsdValidator):
    """One OIOXML schema: lxml decides, xmlschema explains (as for CDA)."""

    rule_prefix = "OIOXML-XSD"


class OioxmlSchemas:
    """The schemas of one oioxml-schema pack, indexed by the global elements they declare.

    The index is read once; each schema is compiled on first use and then shared by every
    document of the call.
    """

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self._index: dict[Key, list[str]] | None = None
        self._compiled: dict[str, OioxmlXsd] = {}

    @property
    def index(self) -> dict[Key, list[str]]:
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def _read_index(self) -> dict[Key, list[str]]:
        parser = etree.XMLParser(
            no_network=True, resolve_entities=False, load_dtd=False, remove_comments=True
        )
        index: dict[Key, list[str]] = {}
        for relative in sorted(self.pack.files):
            if not relative.lower().endswith(".xsd"):
                continue
            try:
                schema = etree.parse(str(self.pack.path(relative)), parser).getroot()
            except (etree.XMLSyntaxError, OSError):
                continue  # a broken side file only matters if a document needs it
            namespace = schema.get("targetNamespace", "")
            for child in schema:
                if child.tag == f"{XS}element" and child.get("name"):
                    index.setdefault((namespace, str(child.get("name"))), []).append(relative)
        for files in index.values():
            # the message envelope schema (EMessage.xsd) first, then the shallowest file
            files.sort(
                key=lambda f: (
                    PurePosixPath(f).name.lower() != "emessage.xsd",
                    f.count("/"),
                    f,
                )
            )
        return index

    def schema_for(self, root: etree._Element) -> str | None:
        """The pack-relative path of the schema that declares the document's root element."""
        qname = etree.QName(root)
        files = self.index.get((qname.namespace or "", qname.localname))
        return files[0] if files else None

    def validator(self, relative: str) -> OioxmlXsd:
        if relative not in self._compiled:
            self._compiled[relative] = OioxmlXsd(dataclasses.replace(self.pack, entry=relative))
        return self._compiled[relative]

    def iter_findings(
        self, document: etree._Element, context: ContextArg = None
    ) -> Iterator[Finding]:
        """`document`: the root element of a tree parsed by harness.safeparse. Raises
        SchemaLoadError when the schema that declares it does not compile (a broken pack)."""
        context = as_context(context)
        context.used(self.pack)
        root, name = document, context.evidence
        relative = self.schema_for(root)
        if relative is None:
            qname = etree.QName(root)
            yield Finding(
                ROOT_RULE,
                Severity.F2,
                f"no schema in pack {self.pack.id} {self.pack.version} declares the root element "
                f"{qname.localname!r} in namespace {qname.namespace or '(none)'!r}: not a known "
                "OIOXML document",
                Location(f"/{qname.localname}", "xpath", root.sourceline, name),
            )
            return
        yield from self.validator(relative).iter_findings(root, context)


__all__ = ["ROOT_RULE", "OioxmlSchemas", "OioxmlXsd", "SchemaLoadError"]
