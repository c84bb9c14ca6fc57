"""The Schematron conformance suites (schematron-conformance, SchXslt's tests), run by kcert.

A test file holds a testcase: schema variants, the documents (the first is validated, the
others are files the schema reads) and an expected outcome (valid, invalid, error) and/or
XPath expectations on the SVRL report. This module reads the files, writes each case's files
into a folder, compiles the schema with kcert's compiler (strict ISO: no leniency), validates,
and judges. Used by harness/tests/test_schematron_conformance.py and as a command:

    python -m harness.validators.schematron.conformance /path/to/schematron-tests
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lxml import etree

from harness.safeparse import PayloadError, parse_xml
from harness.validators.schematron.compiler import compile_schematron
from harness.validators.schematron.model import SCH_NS, SchematronError, SchematronRunError
from harness.validators.schematron.saxon import SaxonRuntime
from harness.validators.schematron.scope import STRICT
from harness.validators.schematron.svrl import SVRL_NS

DMAUS_NS = "tag:dmaus@dmaus.name,2019:Schematron:Testsuite"  # schematron-conformance
SCHXSLT_NS = "https://doi.org/10.5281/zenodo.5679629#"
OUTCOMES = ("valid", "invalid", "error")
MAX_FILES = 1000
SCHEMA_FILE = "kcert-case-schema.sch"

# Cases kcert knowingly answers differently, with the reason. The test suite marks them
# xfail(strict=True), so a case that starts to agree is noticed.
KNOWN_DIVERGENCES: dict[str, str] = {
    "schematron-conformance/core/let-scope-pattern-01": (
        "contradicts ISO 2016 5.4.5 as the rest of the suite reads it: pattern variables are "
        "global (let-pattern-global-01), so a schema variable and a pattern variable of one "
        "name are defined twice (let-name-collision-error-05, which kcert follows)"
    ),
    "schxslt/features/svrl-metadata": (
        "svrl:metadata is a SchXslt extension (processor description), not part of ISO SVRL"
    ),
}


class CaseError(ValueError):
    """A test file that is not a readable testcase."""


@dataclass(frozen=True)
class Expectation:
    xpath: str
    namespaces: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Case:
    id: str  # the file's path in the suite, without .xml; "#n" for the n-th schema variant
    path: Path
    label: str
    expect: str  # valid, invalid, error; "" when only expectations judge
    features: tuple[str, ...]
    phase: str | None
    schema: bytes
    files: tuple[tuple[str, bytes], ...]  # (relative name, content), the validated one first
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class Result:
    case: Case
    observed: str  # valid, invalid or error
    failed: tuple[str, ...] = ()  # expectations that did not hold
    detail: str = ""  # the error, when observed is error

    @property
    def agrees(self) -> bool:
        return (not self.case.expect or self.observed == self.case.expect) and not self.failed

    def describe(self) -> str:
        said = f"expected {self.case.expect or 'expectations'}, got {self.observed}"
        if self.detail:
            said += f" ({self.detail})"
        for xpath in self.failed:
            said += f"; not true: {xpath}"
        return said


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    found = parent.find(f"{{{etree.QName(parent).namespace}}}{name}")
    return found


def _content(holder: etree._Element, where: str) -> bytes:
    elements = [c for c in holder if isinstance(c.tag, str)]
    if len(elements) != 1:
        raise CaseError(f"{where}: a document needs exactly one element, found {len(elements)}")
    return bytes(etree.tostring(elements[0], encoding="utf-8", xml_declaration=True))


def _files(root: etree._Element, where: str) -> list[tuple[str, bytes]]:
    documents = _child(root, "documents")
    if documents is None:
        raise CaseError(f"{where}: no documents")
    holders = [c for c in documents if isinstance(c.tag, str)]
    if etree.QName(root).namespace == DMAUS_NS:
        holders.sort(key=lambda h: etree.QName(h).localname != "primary")
    files = []
    for holder in holders:
        name = (holder.get("filename") or "").strip()
        if not name:
            raise CaseError(f"{where}: a document without filename")
        files.append((name, _content(holder, f"{where}: {name}")))
    if not files:
        raise CaseError(f"{where}: no document to validate")
    return files


def _expectations(root: etree._Element) -> tuple[Expectation, ...]:
    out = []
    for tag, attribute in (("expectations", "test"), ("assertions", "assert")):
        holder = _child(root, tag)
        if holder is None:
            continue
        for item in holder:
            if not isinstance(item.tag, str) or item.get(attribute) is None:
                continue
            namespaces = {"svrl": SVRL_NS, "sch": SCH_NS}
            namespaces.update({p: u for p, u in item.nsmap.items() if p})
            out.append(Expectation(item.get(attribute, ""), tuple(sorted(namespaces.items()))))
    return tuple(out)


def read_case_file(path: Path, suite: Path) -> list[Case]:
    """The cases of one test file: one per schema variant; [] for a suite index."""
    where = path.relative_to(suite).as_posix()
    try:
        root = parse_xml(path.read_bytes())
    except (OSError, PayloadError) as exc:
        raise CaseError(f"{where}: cannot read: {exc}") from None
    name = etree.QName(root)
    if name.namespace not in (DMAUS_NS, SCHXSLT_NS):
        raise CaseError(f"{where}: not a testcase of a known suite ({root.tag})")
    if name.localname == "testsuite":
        return []
    if name.localname != "testcase":
        raise CaseError(f"{where}: root is {name.localname}, not testcase")
    expect = (root.get("expect") or "").strip()
    if expect and expect not in OUTCOMES:
        raise CaseError(f"{where}: unknown expect={expect!r}")
    label = _child(root, "label")
    schemas_holder = _child(root, "schemas")
    if schemas_holder is None:
        raise CaseError(f"{where}: no schemas")
    schemas = schemas_holder.findall(f"{{{SCH_NS}}}schema")
    if not schemas:
        raise CaseError(f"{where}: no sch:schema")
    files = tuple(_files(root, where))
    base_id = where.removesuffix(".xml")
    return [
        Case(
            id=base_id if len(schemas) == 1 else f"{base_id}#{n}",
            path=path,
            label=" ".join((label.text or "").split()) if label is not None else "",
            expect=expect,
            features=tuple((root.get("features") or "").split()),
            phase=schemas_holder.get("phase") or None,
            schema=etree.tostring(schema, encoding="utf-8", xml_declaration=True),
            files=files,
            expectations=_expectations(root),
        )
        for n, schema in enumerate(schemas, start=1)
    ]


def discover(suite: Path) -> list[Case]:
    """Every case below `suite`, in path order."""
    paths = sorted(p for p in suite.rglob("*.xml") if p.is_file())
    if len(paths) > MAX_FILES:
        raise CaseError(f"{suite}: more than {MAX_FILES} test files")
    return [case for path in paths for case in read_case_file(path, suite)]


def materialise(case: Case, folder: Path) -> Path:
    """Write the case's schema and documents into `folder`; the schema's path."""
    for name, data in case.files:
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or name == SCHEMA_FILE:
            raise CaseError(f"{case.id}: document name {name!r} is not a plain relative path")
        target = folder.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    schema = folder / SCHEMA_FILE
    schema.write_bytes(case.schema)
    return schema


def holds(report: etree._Element, expectation: Expectation) -> bool:
    """Whether an expectation (an XPath 3.1 expression) is true of the SVRL report."""
    runtime = SaxonRuntime.get()
    from saxonche import PySaxonApiError

    text = etree.tostring(report, encoding="unicode")
    with runtime.lock:
        xpath = runtime.processor.new_xpath_processor()
        xpath.set_language_version("3.1")
        for prefix, uri in expectation.namespaces:
            xpath.declare_namespace(prefix, uri)
        xpath.set_context(xdm_item=runtime.parse(text))
        try:
            return bool(xpath.effective_boolean_value(expectation.xpath))
        except PySaxonApiError:
            return False


def observed(report: etree._Element) -> str:
    hits = report.iter(f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report")
    return "invalid" if next(hits, None) is not None else "valid"


def run_case(case: Case, folder: Path) -> Result:
    """Compile and validate one case in `folder` (empty, owned by the caller)."""
    try:
        schema = materialise(case, folder)
        compiled = compile_schematron(
            schema, case.phase, cache_dir=folder / ".kcert-cache", leniency=STRICT
        )
        report = compiled.svrl(folder.joinpath(*PurePosixPath(case.files[0][0]).parts))
    except (SchematronError, SchematronRunError) as exc:
        return Result(case, "error", (), str(exc).splitlines()[0])
    if case.expect == "error":
        return Result(case, observed(report))
    failed = tuple(x.xpath for x in case.expectations if not holds(report, x))
    return Result(case, observed(report), failed)


def agreement(results: list[Result]) -> tuple[int, int]:
    """(agreeing, in scope): cases in KNOWN_DIVERGENCES are out of scope."""
    scoped = [r for r in results if r.case.id not in KNOWN_DIVERGENCES]
    return sum(r.agrees for r in scoped), len(scoped)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m harness.validators.schematron.conformance SUITE_FOLDER")
        return 2
    try:
        cases = discover(Path(argv[0]))
    except CaseError as exc:
        print(f"error: {exc}")
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="kcert-sch-conformance-") as tmp:
        for number, case in enumerate(cases):
            folder = Path(tmp) / str(number)
            folder.mkdir()
            result = run_case(case, folder)
            results.append(result)
            state = "agree" if result.agrees else "DIFFER"
            if case.id in KNOWN_DIVERGENCES:
                state = "out of scope"
            print(f"{state:12} {case.id}" + ("" if result.agrees else f": {result.describe()}"))
    agree, total = agreement(results)
    print(
        f"agreement: {agree}/{total} in scope ({100 * agree / max(total, 1):.1f} %), "
        f"{len(results) - total} out of scope"
    )
    return 0 if agree == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
