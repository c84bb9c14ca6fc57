"""XML Schema validation: lxml decides, xmlschema explains the failures (paths and lines)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.packs.store import Pack
from harness.validators.api import ContextArg, as_context

MAX_EXPLAINED = 50


class SchemaLoadError(RuntimeError):
    """The schema in a pack could not be compiled: the pack is broken, not the document."""


class XsdValidator:
    """One compiled schema, shared by every document of a call."""

    rule_prefix = "XSD"

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.entry = pack.path(pack.entry)
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        try:
            self.schema = etree.XMLSchema(etree.parse(str(self.entry), parser))
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
            raise SchemaLoadError(
                f"pack {pack.id} {pack.version}: schema {pack.entry}: {exc}"
            ) from None

    @cached_property
    def explainer(self) -> Any:
        import xmlschema

        return xmlschema.XMLSchema(str(self.entry))

    def iter_findings(
        self, document: etree._Element, context: ContextArg = None
    ) -> Iterator[Finding]:
        """`document`: the root element of a tree parsed by harness.safeparse."""
        context = as_context(context)
        context.used(self.pack)
        tree = document.getroottree()
        if self.schema.validate(tree):
            return
        yield from self._explain(tree, context.evidence)

    def _explain(self, tree: etree._ElementTree, name: str) -> Iterator[Finding]:
        from xmlschema.exceptions import XMLSchemaKeyError

        count = 0
        try:
            for error in self.explainer.iter_errors(tree):
                count += 1
                if count > MAX_EXPLAINED:
                    break
                yield Finding(
                    f"{self.rule_prefix}-{type(error).__name__.removeprefix('XMLSchema')}",
                    Severity.F2,
                    str(error.reason or error.message),
                    Location(
                        str(error.path or ""), "xpath", getattr(error, "sourceline", None), name
                    ),
                )
        except XMLSchemaKeyError as exc:  # an unknown xsi:type is raised, not reported
            count += 1
            yield Finding(
                "XSD-UNKNOWN-TYPE",
                Severity.F2,
                f"unknown type: {exc}",
                Location("", "xpath", None, name),
            )
        if count == 0:
            # lxml and xmlschema disagree: keep lxml's verdict with its own words
            for entry in self.schema.error_log[:MAX_EXPLAINED]:
                yield Finding(
                    "XSD-INVALID",
                    Severity.F2,
                    entry.message,
                    Location(entry.path or "", "xpath", entry.line, name),
                )


def schema_file(pack: Pack) -> Path:
    return pack.path(pack.entry)
