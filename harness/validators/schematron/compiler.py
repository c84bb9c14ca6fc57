"""compile_schematron(): schematron file -> cached XSLT -> Saxon executable -> findings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from lxml import etree

from harness.model.finding import Finding
from harness.safeparse import parse_xml
from harness.validators.schematron import cache
from harness.validators.schematron.catalogue import Catalogue, build_catalogue
from harness.validators.schematron.codegen import generate_xslt
from harness.validators.schematron.findings import Failure, LineFinder, read_records
from harness.validators.schematron.model import SchematronError
from harness.validators.schematron.reader import read_schema
from harness.validators.schematron.saxon import SaxonRuntime

Document: TypeAlias = bytes | Path | etree._Element


class SchematronRunError(RuntimeError):
    """The schematron could not be evaluated on a document (a dynamic XPath error)."""


@dataclass
class Timings:
    generate_s: float = 0.0  # Schematron -> XSLT (0 when the disk cache had it)
    saxon_compile_s: float = 0.0
    from_cache: bool = False


@dataclass
class CompiledSchematron:
    """One schematron (in one phase), compiled once per process and shared by every document."""

    source: Path
    phase: str | None
    catalogue: Catalogue
    xslt: str
    executable: Any
    timings: Timings = field(default_factory=Timings)
    files: cache.Stamps = ()  # the schematron files read, as they were
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def title(self) -> str:
        return self.catalogue.title

    def run(self, document: Document) -> list[Failure]:
        """Every failed assert and successful report, in document and pattern order.

        `document` is untrusted: bytes and paths go through safeparse first and Saxon only sees
        the re-serialised result; an lxml element must come from harness.safeparse.parse_xml.
        """
        if isinstance(document, etree._Element):
            root = document
        else:
            data = document.read_bytes() if isinstance(document, Path) else document
            root = parse_xml(data)
        text = etree.tostring(root.getroottree(), encoding="unicode")
        runtime = SaxonRuntime.get()
        from saxonche import PySaxonApiError

        with self._lock, runtime.lock:
            node = runtime.parse(text)
            try:
                self.executable.set_global_context_item(xdm_item=node)
                output = self.executable.apply_templates_returning_string(
                    xdm_value=node, encoding="UTF-8"
                )
            except PySaxonApiError as exc:
                raise SchematronRunError(
                    f"schematron {self.source.name}: evaluation failed: {exc}"
                ) from None
        return read_records(output or "", self.catalogue, LineFinder(root))

    def validate(self, document: Document, evidence_name: str = "") -> list[Finding]:
        return [f.to_finding(evidence_name) for f in self.run(document)]


_compiled: dict[str, CompiledSchematron] = {}
_compiled_lock = threading.Lock()


def compile_schematron(
    sch_path: Path,
    phase: str | None = None,
    cache_dir: Path | None = None,
    content_key: str | None = None,
) -> CompiledSchematron:
    """The compiled schematron, from this process's memory, the disk cache, or freshly made.

    `content_key` (a pack's hash) vouches that the files did not change, so the disk cache is
    used without looking at them; without it, each file read is checked by size and mtime.
    """
    key = cache.cache_key(sch_path, phase, content_key)
    with _compiled_lock:
        found = _compiled.get(key)
        if found is not None and (content_key is not None or cache.unchanged(found.files)):
            return found
        folder = cache_dir or cache.default_cache_dir()
        timings = Timings()
        entry = cache.load(folder, key, trust_key=content_key is not None)
        if entry is None:
            started = time.perf_counter()
            schema = read_schema(sch_path)
            generated = generate_xslt(schema, phase)
            entry = cache.CachedStylesheet(
                generated.xslt, build_catalogue(schema, generated), cache.stamps(schema.files)
            )
            timings.generate_s = time.perf_counter() - started
            cache.store(folder, key, entry)
        else:
            timings.from_cache = True
        started = time.perf_counter()
        runtime = SaxonRuntime.get()
        executable = runtime.compile(entry.xslt)
        runtime.supply_lifted(executable, entry.catalogue)
        timings.saxon_compile_s = time.perf_counter() - started
        compiled = CompiledSchematron(
            sch_path, phase, entry.catalogue, entry.xslt, executable, timings, entry.files
        )
        _compiled[key] = compiled
        return compiled


def forget_compiled() -> None:
    """Drop the in-process compiled stylesheets (tests and benchmarks measure cold compiles)."""
    with _compiled_lock:
        _compiled.clear()


__all__ = [
    "CompiledSchematron",
    "SchematronError",
    "SchematronRunError",
    "Timings",
    "compile_schematron",
    "forget_compiled",
]
