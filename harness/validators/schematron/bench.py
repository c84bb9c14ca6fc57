"""Figures for the Schematron compiler on the ART-DECOR care plan (DK-CPD) schematron."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from harness.validators.schematron.catalogue import build_catalogue
from harness.validators.schematron.codegen import generate_xslt
from harness.validators.schematron.compiler import CompiledSchematron
from harness.validators.schematron.prune import Pruner
from harness.validators.schematron.reader import read_schema
from harness.validators.schematron.saxon import SaxonRuntime
from harness.validators.schematron.scope import ART_DECOR

CPD_SCHEMATRON = Path("cda/schematron/art-decor/medcom-documents-S_R.sch")
CPD_EXAMPLE = Path("cda/examples/CPD/CPD-DK_Care_Plan_Diabetes_Example_1_2018-11-02.xml")
WARM_UP = 5
RUNS = 25


def _median_seconds(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_schematron(corpus: Path) -> list[tuple[str, float, str]]:
    """(name, value, unit): generation, Saxon compile, per-document run, ratio to lxml parse.

    Measured without the disk cache and from a cold in-process state for this schematron, so
    the compile figures are what a first run in a fresh process pays.
    """
    sch = corpus / CPD_SCHEMATRON
    data = (corpus / CPD_EXAMPLE).read_bytes()
    runtime = SaxonRuntime.get()

    started = time.perf_counter()
    schema = read_schema(sch)
    generated = generate_xslt(schema, leniency=ART_DECOR)
    catalogue = build_catalogue(schema, generated)
    generate_s = time.perf_counter() - started

    started = time.perf_counter()
    executable = runtime.compile(generated.xslt)
    runtime.supply_lifted(executable, catalogue)
    compile_s = time.perf_counter() - started

    # What a run pays per document shape (compiler.py): the stylesheet pruned to the example.
    pruner = Pruner(generated.xslt)
    pruned_text = pruner.text(pruner.dropped(etree.fromstring(data)))
    started = time.perf_counter()
    runtime.supply_lifted(runtime.compile(pruned_text), catalogue)
    pruned_s = time.perf_counter() - started

    compiled = CompiledSchematron(
        sch, None, catalogue, generated.xslt, executable, leniency=ART_DECOR
    )
    for _ in range(WARM_UP):
        list(compiled.iter_findings(data))
    per_doc = _median_seconds(lambda: list(compiled.iter_findings(data)), RUNS)
    for _ in range(WARM_UP):
        etree.fromstring(data)
    parse = _median_seconds(lambda: etree.fromstring(data), RUNS * 4)
    return [
        ("schematron: CPD Schematron->XSLT", generate_s, "s"),
        ("schematron: CPD Saxon compile", compile_s, "s"),
        ("schematron: CPD Saxon compile, pruned to the example", pruned_s, "s"),
        ("schematron: CPD stylesheet pruned / whole", len(pruned_text) / len(generated.xslt), "x"),
        ("schematron: CPD validate one document (median)", per_doc * 1000, "ms"),
        ("schematron: validate / bare lxml parse", per_doc / parse, "x"),
    ]


if __name__ == "__main__":
    import sys

    for name, value, unit in bench_schematron(Path(sys.argv[1])):
        print(f"{name:50} {value:10.3f} {unit}")
