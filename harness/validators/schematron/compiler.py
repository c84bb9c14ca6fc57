"""compile_schematron(): schematron file -> cached XSLT -> Saxon executable -> findings or SVRL.

The Saxon compile is the cost (the DK-CPD stylesheet: 5-6 s and ~400 MB whole). It is not
moved to a background thread: saxonche holds the GIL while it compiles (measured: the main
thread ran at ~2 % of its speed during a 5.7 s compile), so a thread would stall the run just
as much, and SaxonC objects are not thread-safe anyway (saxon.py's lock). Instead each
document gets a stylesheet pruned to the rules it can fire (gates.py, prune.py): ~10 % of the
DK-CPD stylesheet for the reference LPS's care plans, compiled in ~0.5 s.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from lxml import etree

from harness.model.finding import Finding
from harness.safeparse import parse_xml
from harness.validators.api import ContextArg, as_context
from harness.validators.schematron import cache, subdocs
from harness.validators.schematron.catalogue import Catalogue, build_catalogue
from harness.validators.schematron.codegen import DOCUMENTS_PREFIX, Emitter, generate_xslt
from harness.validators.schematron.findings import Failure, LineFinder, read_records
from harness.validators.schematron.model import SchematronError, SchematronRunError
from harness.validators.schematron.prune import Pruner
from harness.validators.schematron.reader import read_schema
from harness.validators.schematron.saxon import SaxonRuntime
from harness.validators.schematron.scope import STRICT, check_leniency
from harness.validators.schematron.svrl import SvrlEmitter

Document: TypeAlias = bytes | Path | etree._Element
SVRL_VARIANT = "svrl"
# Saxon's own SVRL output, read back: no DTD can be in it, but it may be large.
_OWN_OUTPUT = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@dataclass
class Timings:
    generate_s: float = 0.0  # Schematron -> XSLT (0 when the disk cache had it)
    saxon_compile_s: float = 0.0  # every Saxon compile so far (whole or pruned)
    variants: int = 0  # pruned executables compiled
    from_cache: bool = False


# Pruned executables kept per schematron (one per document shape seen, least recently used
# first out): a run's documents of one type mostly share a shape.
MAX_VARIANTS = 4


@dataclass
class CompiledSchematron:
    """One schematron (in one phase), shared by every document of the process.

    Saxon compiles on first use, and per document shape: the stylesheet without the rule
    templates the document cannot fire (gates.py, prune.py), which for MedCom's ART-DECOR
    schematrons is a fraction of the whole. `executable`, when given, is the whole stylesheet
    compiled, used for every document (as before pruning existed); `prune=False` does the same
    with the whole stylesheet compiled on first use.
    """

    source: Path
    phase: str | None
    catalogue: Catalogue
    xslt: str
    executable: Any = None
    timings: Timings = field(default_factory=Timings)
    files: cache.Stamps = ()  # the schematron files read, as they were
    leniency: frozenset[str] = STRICT
    cache_dir: Path | None = None
    content_key: str | None = None
    prune: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _svrl: tuple[Any, Catalogue] | None = field(default=None, repr=False)
    _pruner: Pruner | None = field(default=None, repr=False)
    _proven: bool = field(default=False, repr=False)  # compiled whole once, here or before
    _variants: OrderedDict[frozenset[int], Any] = field(default_factory=OrderedDict, repr=False)

    @property
    def title(self) -> str:
        return self.catalogue.title

    @property
    def warnings(self) -> tuple[str, ...]:
        """ISO schema errors that the leniency in force let through, each with file:line."""
        return self.catalogue.warnings

    def run(self, document: Document, base: Path | None = None) -> list[Failure]:
        """Every failed assert and successful report, in document and pattern order.

        `document` is untrusted: bytes and paths go through safeparse first and Saxon only sees
        the re-serialised result; an lxml element must come from harness.safeparse.parse_xml.
        `base` is the folder subordinate documents are resolved against (default: a path's).
        """
        root, base, uri = _prepare(document, base)
        with self._lock:
            executable = self._executable_for(root)
            output, others = self._transform(executable, self.catalogue, root, base, uri)
        return read_records(output, self.catalogue, LineFinder(root), others)

    def iter_findings(self, document: Document, context: ContextArg = None) -> Iterator[Finding]:
        """run() as findings located in `context.evidence`; subordinate documents resolve
        against `context.base`. Raises SchematronRunError when the schematron cannot run."""
        context = as_context(context)
        for failure in self.run(document, context.base):
            yield failure.to_finding(context.evidence)

    def _whole(self) -> Any:
        if self.executable is None:
            started = time.perf_counter()
            self.executable = _compile(self.xslt, self.catalogue)
            self.timings.saxon_compile_s += time.perf_counter() - started
            cache.mark_compiles(self._folder(), self.xslt)
        return self.executable

    def _folder(self) -> Path:
        return self.cache_dir or cache.default_cache_dir()

    def _executable_for(self, root: etree._Element) -> Any:
        """The executable for this document: pruned to what it can fire, or the whole one.

        Pruning is used only for a stylesheet Saxon has compiled whole before (a marker in the
        disk cache): a static error in a rule a document cannot fire must still be the error
        it is without pruning, so the first compile of a stylesheet is always the whole one.
        """
        if not self.prune or self.executable is not None:
            return self._whole()
        if not self._proven:
            self._proven = cache.known_to_compile(self._folder(), self.xslt)
            if not self._proven:
                return self._whole()
        if self._pruner is None:
            self._pruner = Pruner(self.xslt)
        dropped = self._pruner.dropped(root)
        if not dropped:
            return self._whole()
        # A variant that keeps more rules than this document can fire serves it just as
        # exactly: the extra rules cannot match. So any variant dropping a subset will do, and
        # a new one keeps what the newest variant kept too, so later shapes find it.
        for key in reversed(self._variants):
            if key <= dropped:
                self._variants.move_to_end(key)
                return self._variants[key]
        if self._variants:
            dropped = dropped & next(reversed(self._variants))
        started = time.perf_counter()
        executable = _compile(self._pruner.text(dropped), self.catalogue)
        self.timings.saxon_compile_s += time.perf_counter() - started
        self.timings.variants += 1
        self._variants[dropped] = executable
        while len(self._variants) > MAX_VARIANTS:
            self._variants.popitem(last=False)
        return executable

    def svrl(self, document: Document, base: Path | None = None) -> etree._Element:
        """The ISO SVRL report (svrl:schematron-output) for one document."""
        executable, catalogue = self._svrl_stylesheet()
        root, base, uri = _prepare(document, base)
        with self._lock:
            output, _ = self._transform(executable, catalogue, root, base, uri)
        return etree.fromstring(output.encode("utf-8"), _OWN_OUTPUT)

    def _svrl_stylesheet(self) -> tuple[Any, Catalogue]:
        # Made on first use only: kcert's findings never need it.
        with _compiled_lock:
            if self._svrl is None:
                key = cache.cache_key(
                    self.source, self.phase, self.content_key, SVRL_VARIANT, self.leniency
                )
                folder = self.cache_dir or cache.default_cache_dir()
                entry = _stylesheet(
                    self.source,
                    self.phase,
                    self.leniency,
                    folder,
                    key,
                    self.content_key is not None,
                    SvrlEmitter(self.phase),
                    Timings(),
                )
                self._svrl = (_executable(entry), entry.catalogue)
            return self._svrl

    def _transform(
        self,
        executable: Any,
        catalogue: Catalogue,
        root: etree._Element,
        base: Path | None,
        uri: str | None,
    ) -> tuple[str, dict[str, LineFinder]]:
        text = etree.tostring(root.getroottree(), encoding="unicode")
        runtime = SaxonRuntime.get()
        from saxonche import PySaxonApiError

        with runtime.lock:
            node = runtime.parse(text, uri)
            others: dict[str, LineFinder] = {}
            # SaxonC keeps only a pointer to a parameter's value: the Python objects must stay
            # alive until the transform is done, or it reads freed memory.
            keep: list[Any] = []
            try:
                executable.set_global_context_item(xdm_item=node)
                for number in catalogue.subordinate:
                    others.update(self._subordinate(runtime, executable, number, base, keep))
                output = executable.apply_templates_returning_string(
                    xdm_value=node, encoding="UTF-8"
                )
            except PySaxonApiError as exc:
                raise SchematronRunError(
                    f"schematron {self.source.name}: evaluation failed: {exc}"
                ) from None
            finally:
                for number in catalogue.subordinate:
                    name = f"{DOCUMENTS_PREFIX}{number}"
                    executable.set_parameter(name, runtime.empty)
        return output or "", others

    def _subordinate(
        self,
        runtime: SaxonRuntime,
        executable: Any,
        number: int,
        base: Path | None,
        keep: list[Any],
    ) -> dict[str, LineFinder]:
        """Load what pattern `number`'s @documents names and hand it to the stylesheet."""
        name = f"{DOCUMENTS_PREFIX}{number}"
        value = executable.call_template_returning_value(template_name=name)
        text = str(value.item_at(0).string_value) if value is not None and value.size else "#"
        references = text.split("\n")[1:]  # codegen: "#", then one line per name
        allowed = tuple(
            dict.fromkeys(f for f in (base, self.source.resolve().parent) if f is not None)
        )
        loaded = subdocs.load(references, base, allowed)
        sequence = runtime.processor.empty_sequence()
        keep.append(sequence)
        for document in loaded:
            text = etree.tostring(document.root.getroottree(), encoding="unicode")
            node = runtime.parse(text, document.uri)
            keep.append(node)
            sequence.add_xdm_item(node)
        executable.set_parameter(name, sequence)
        return {str(d.path): LineFinder(d.root) for d in loaded}


def _prepare(
    document: Document, base: Path | None
) -> tuple[etree._Element, Path | None, str | None]:
    """The safely parsed document, the folder it lies in, and its URI (when it is a file)."""
    if isinstance(document, etree._Element):
        return document, base, None
    if isinstance(document, Path):
        where = document.resolve()
        return parse_xml(where.read_bytes()), base or where.parent, where.as_uri()
    return parse_xml(document), base, None


def _stylesheet(
    sch_path: Path,
    phase: str | None,
    leniency: frozenset[str],
    folder: Path,
    key: str,
    trust_key: bool,
    emitter: Emitter | None,
    timings: Timings,
) -> cache.CachedStylesheet:
    """The generated stylesheet, from the disk cache or made now (and stored)."""
    entry = cache.load(folder, key, trust_key=trust_key)
    if entry is not None:
        timings.from_cache = True
        return entry
    started = time.perf_counter()
    schema = read_schema(sch_path)
    generated = generate_xslt(schema, phase, leniency, emitter)
    entry = cache.CachedStylesheet(
        generated.xslt, build_catalogue(schema, generated), cache.stamps(schema.files)
    )
    timings.generate_s = time.perf_counter() - started
    cache.store(folder, key, entry)
    return entry


def _executable(entry: cache.CachedStylesheet) -> Any:
    return _compile(entry.xslt, entry.catalogue)


def _compile(xslt: str, catalogue: Catalogue) -> Any:
    runtime = SaxonRuntime.get()
    executable = runtime.compile(xslt)
    runtime.supply_lifted(executable, catalogue)
    return executable


_compiled: dict[str, CompiledSchematron] = {}
_compiled_lock = threading.RLock()


def compile_schematron(
    sch_path: Path,
    phase: str | None = None,
    cache_dir: Path | None = None,
    content_key: str | None = None,
    leniency: Iterable[str] = STRICT,
) -> CompiledSchematron:
    """The compiled schematron, from this process's memory, the disk cache, or freshly made.

    `content_key` (a pack's hash) vouches that the files did not change, so the disk cache is
    used without looking at them; without it, each file read is checked by size and mtime.
    `leniency` names the ISO schema errors to tolerate (scope.LENIENCIES); none by default.
    """
    chosen = check_leniency(leniency)
    key = cache.cache_key(sch_path, phase, content_key, "", chosen)
    with _compiled_lock:
        found = _compiled.get(key)
        if found is not None and (content_key is not None or cache.unchanged(found.files)):
            return found
        folder = cache_dir or cache.default_cache_dir()
        timings = Timings()
        entry = _stylesheet(
            sch_path, phase, chosen, folder, key, content_key is not None, None, timings
        )
        # Saxon compiles on the first document (pruned to what it can fire), not here.
        compiled = CompiledSchematron(
            sch_path,
            phase,
            entry.catalogue,
            entry.xslt,
            None,
            timings,
            entry.files,
            chosen,
            cache_dir,
            content_key,
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
