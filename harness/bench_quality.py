"""`make bench` section "quality": scoring clinic extracts beside the time to load them.

Two figures (issue 16): one clinic extract of 100,000 patients, and the national scale — 500
clinic extracts totalling 1,000,000 patients. Goals: scoring takes at most the load time
(read_extract) and the national-scale scoring is within 60 s on this machine.

Generating and reading 1,000,000 patients in 500 files would cost minutes of the bench for no
extra information (every file is read the same way), so the bench generates DISTINCT different
extracts of 2,000 patients (each with its own seed and a fault plan planted at its own rate, so
the comparison has something to compare), reads each once (load time measured per file and
scaled to the 500) and scores 500 extracts, each distinct one used 500 / DISTINCT times. Set
KCERT_BENCH_QUALITY_FULL=1 to read every one of the 500 files from disk instead. Peak memory is
the process's maximum resident set (getrusage), after each part.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from harness.population.extract import read_extract
from harness.population.extractgen import generate_extract
from harness.population.facts import Extract
from harness.population.faults import KINDS, Rate, plant
from harness.quality.catalogue import load_catalogue
from harness.quality.engine import ENGINE, score_all

AS_OF = dt.date(2027, 3, 1)
BIG = 100_000
CLINICS = 500
PER_CLINIC = 2_000
DISTINCT = 25
GOAL_NATIONAL_S = 60.0
FULL_ENV = "KCERT_BENCH_QUALITY_FULL"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _sor(index: int) -> str:
    return f"9{index:05d}1000016008"


def _write(folder: Path, index: int, size: int, rate: float | None) -> Path:
    made = generate_extract(index, size, AS_OF, _sor(index), f"Klinik {index}")
    if rate:
        plan = {k.id: Rate(rate=rate) for k in KINDS if k.level == "patient"}
        plant(made.bundle, plan, index)
    path = folder / f"clinic-{index:03d}.json"
    path.write_text(json.dumps(made.bundle), encoding="utf-8")
    return path


def _timed_read(path: Path) -> tuple[Extract, float]:
    t0 = time.perf_counter()
    extract = read_extract(path)
    return extract, time.perf_counter() - t0


def quality_bench() -> None:
    catalogue = load_catalogue()
    print(f"\ndata quality ({ENGINE}, catalogue {catalogue.id} {catalogue.version}, "
          f"{len(catalogue.checks)} checks):")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="kcert-bench-quality-"))
    try:
        # one clinic of 100,000 patients
        t0 = time.perf_counter()
        big = _write(folder, 0, BIG, None)
        made_s = time.perf_counter() - t0
        extract, load_s = _timed_read(big)
        run = score_all([(extract, big.name, "", "")], catalogue, as_of=AS_OF)
        score_s = run.duration_s
        print(
            f"  one extract, {BIG:,} patients: load {load_s:6.2f} s, score {score_s:6.2f} s "
            f"(ratio {score_s / load_s:.2f}, goal <= 1; generated in {made_s:.1f} s); "
            f"peak RSS {_rss_mb():,.0f} MB"
        )
        del extract, run
        # the national scale: 500 clinics, 1,000,000 patients
        t0 = time.perf_counter()
        paths = [
            _write(folder, i, PER_CLINIC, 0.01 + 0.01 * (i % 8)) for i in range(1, DISTINCT + 1)
        ]
        made_s = time.perf_counter() - t0
        full = os.environ.get(FULL_ENV) == "1"
        reads = [_timed_read(p) for p in paths]
        extracts = [x for x, _ in reads]
        per_file = sum(s for _, s in reads) / len(reads)
        if full:
            t0 = time.perf_counter()
            for i in range(CLINICS - DISTINCT):
                read_extract(paths[i % DISTINCT])
            load_s = sum(s for _, s in reads) + time.perf_counter() - t0
            how = f"all {CLINICS} files read"
        else:
            load_s = per_file * CLINICS
            how = f"{DISTINCT} files read, {per_file:.3f} s each, × {CLINICS}"
        inputs = [
            (extracts[i % DISTINCT], f"clinic-{i:03d}", f"V{i % 3 + 1}", f"region-{i % 5 + 1}")
            for i in range(CLINICS)
        ]
        patients = sum(len(x.patients) for x, *_ in inputs)
        run = score_all(inputs, catalogue, as_of=AS_OF)
        score_s = run.duration_s
        print(
            f"  {CLINICS} extracts, {patients:,} patients ({DISTINCT} distinct of {PER_CLINIC:,},"
            f" generated in {made_s:.1f} s): load {load_s:6.1f} s ({how}), score {score_s:6.1f} s "
            f"(ratio {score_s / load_s:.2f}, goal <= 1; {patients / score_s:,.0f} patients/s;"
            f" goal <= {GOAL_NATIONAL_S:.0f} s: {_verdict(score_s <= GOAL_NATIONAL_S)})"
            f"; {len(run.comparisons):,} comparisons; peak RSS {_rss_mb():,.0f} MB"
        )
        flagged = sum(1 for c in run.comparisons if c.outlier)
        print(f"    funnel outliers: {flagged} of {len(run.comparisons):,} clinic × check rates")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    quality_bench()
