"""`make bench` certify section: whole runs with and without packs, CLI start-up, peak memory.

Every figure is a ratio measured in the same section, runs interleaved (with packs, without,
with, ...) so a shared machine's load falls on both sides alike; medians of ROUNDS. The runs are
`make certify` as a tester runs it (the reference LPS over HTTP, the recorded answers, its own
reports folder and run store); peak memory is the kcert process's own (the reference LPS is the
SUT, in a process of its own). One unmeasured run with packs comes first: it fills the caches a
tester's second run finds (Schematron stylesheets and their whole compile, contract-fuzz
cases). Bounded: each run gets RUN_TIMEOUT_S, the section stops measuring after
SECTION_BUDGET_S.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.fixtures import REFERENCE_ANSWERS, REPO_ROOT

ROUNDS = 2
HELP_ROUNDS = 7
RUN_TIMEOUT_S = 180
SECTION_BUDGET_S = 150.0
PACKS_RATIO_MAX = 2.0  # issue #13: with packs / without packs
WITH_PACKS_MAX_S = 10.0  # issue #13, on a quiet machine
HELP_RATIO_MAX = 8.0  # issue #13: kcert --help / a bare interpreter's start
PEAK_MAX_MB = 300.0  # issue #13: peak memory of a run with packs


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_mb: float  # the process's maximum resident set
    code: int


def timed(command: list[str], timeout: float = RUN_TIMEOUT_S) -> Timed:
    """Wall time and peak RSS of one child process.

    The peak is the child's own VmHWM (/proc/<pid>/status), read while it runs: the rusage
    of a child forked from a large process (this one, after the cockpit section) starts from
    the parent's size, since Linux carries the maximum across exec.
    """
    env = {**os.environ, "COLUMNS": "200"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT, env=env
    )
    status = Path(f"/proc/{proc.pid}/status")
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, _hwm_kb(status))
        if time.perf_counter() - began > timeout:
            proc.kill()
            proc.wait()
            break
        time.sleep(0.02)
    return Timed(time.perf_counter() - began, peak_kb / 1024, proc.returncode or 0)


def _hwm_kb(status: Path) -> int:
    try:
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def certify_command(work: Path, packs: bool, number: int) -> list[str]:
    return [
        *(sys.executable, "-m", "harness.cli.main", "certify", "--sut", "reference"),
        *("--answers", str(REFERENCE_ANSWERS)),
        *("--reports", str(work / f"reports-{number}")),
        *("--store", f"sqlite:///{work / 'runs.sqlite'}"),
        *(() if packs else ("--no-packs",)),
    ]


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def certify_bench() -> None:
    print("\ncertify (make certify: reference LPS over HTTP, recorded answers)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kcert-bench-certify-") as tmp:
        work = Path(tmp)
        warm = timed(certify_command(work, True, 0))
        if warm.code != 0:
            print(f"  skipped: the run with packs ended with exit code {warm.code}")
            return
        with_packs: list[Timed] = []
        without: list[Timed] = []
        for number in range(1, ROUNDS + 1):
            with_packs.append(timed(certify_command(work, True, number)))
            without.append(timed(certify_command(work, False, number)))
            if time.monotonic() - started > SECTION_BUDGET_S:
                break
    bad = [t.code for t in with_packs + without if t.code != 0]
    if bad:
        print(f"  a run ended with exit code {bad[0]}: the figures below are not comparable")
    packs_s = statistics.median(t.seconds for t in with_packs)
    plain_s = statistics.median(t.seconds for t in without)
    ratio = packs_s / plain_s
    peak = max(t.peak_mb for t in with_packs)
    plain_peak = max(t.peak_mb for t in without)
    print(
        f"  with packs               {packs_s:8.2f} s   target <= {WITH_PACKS_MAX_S:g} s "
        f"(quiet machine): {_met(packs_s <= WITH_PACKS_MAX_S)}   (first run, caches cold: "
        f"{warm.seconds:.2f} s)"
    )
    print(f"  without packs            {plain_s:8.2f} s")
    print(
        f"  ratio with / without     {ratio:8.2f} x   target <= {PACKS_RATIO_MAX:g} x: "
        f"{_met(ratio <= PACKS_RATIO_MAX)}   (medians of {len(with_packs)} interleaved runs)"
    )
    print(
        f"  peak memory, with packs  {peak:8.0f} MB  target <= {PEAK_MAX_MB:g} MB: "
        f"{_met(peak <= PEAK_MAX_MB)}   (without packs {plain_peak:.0f} MB; first run "
        f"{warm.peak_mb:.0f} MB)"
    )
    help_bench()


def kcert() -> list[str]:
    """The `kcert` console script beside this interpreter (what a tester types), else -m."""
    script = Path(sys.executable).with_name("kcert")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "harness.cli.main"]


def help_bench() -> None:
    bare: list[float] = []
    top: list[float] = []
    command: list[float] = []
    for _ in range(HELP_ROUNDS):
        bare.append(timed([sys.executable, "-c", "pass"], 30).seconds)
        top.append(timed([*kcert(), "--help"], 30).seconds)
        command.append(timed([*kcert(), "certify", "--help"], 30).seconds)
    bare_s, top_s, command_s = (statistics.median(x) for x in (bare, top, command))
    ratio = top_s / bare_s
    print(
        f"  kcert --help             {top_s * 1000:8.0f} ms  x{ratio:.1f} a bare interpreter "
        f"({bare_s * 1000:.0f} ms); target <= {HELP_RATIO_MAX:g} x: {_met(ratio <= HELP_RATIO_MAX)}"
    )
    print(
        f"  kcert certify --help     {command_s * 1000:8.0f} ms  x{command_s / bare_s:.1f} "
        f"(its parser only); target <= {HELP_RATIO_MAX:g} x: "
        f"{_met(command_s / bare_s <= HELP_RATIO_MAX)}"
    )


__all__ = ["certify_bench", "help_bench", "timed"]
