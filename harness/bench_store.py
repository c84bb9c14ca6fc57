"""`make bench` reliability figure: runs recorded / started, for concurrent certify runs.

Ten `kcert certify` processes (one test case each, in-process reference LPS) start at once on
a run store that does not exist yet; every one must be recorded. Bounded: each process gets
at most RUN_TIMEOUT_S.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.fixtures import REFERENCE_ANSWERS, REPO_ROOT
from harness.store.runstore import RunStore

RUNS = 10
RUN_TIMEOUT_S = 240
PROTOCOL = REPO_ROOT / "testcases" / "carecommunication-receive.yaml"


def concurrent_runs(runs: int = RUNS, store_url: str = "") -> tuple[int, int, float]:
    """(recorded, started, seconds) for `runs` certify processes started at once."""
    with tempfile.TemporaryDirectory(prefix="kcert-bench-store-") as tmp:
        url = store_url or f"sqlite:///{Path(tmp) / 'new' / 'runs.sqlite'}"
        command = [
            *(sys.executable, "-m", "harness.cli.main", "certify", "--sut", "reference"),
            *("--transport", "inprocess", "--protocols", str(PROTOCOL), "--case", "CC-R-01"),
            *("--no-packs", "--answers", str(REFERENCE_ANSWERS), "--store", url),
        ]
        env = {**os.environ, "COLUMNS": "200"}
        began = time.monotonic()
        procs = [
            subprocess.Popen(
                [*command, "--reports", str(Path(tmp) / f"r{i}")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=REPO_ROOT,
                env=env,
            )
            for i in range(runs)
        ]
        for proc in procs:
            try:
                proc.wait(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        took = time.monotonic() - began
        store = RunStore(url)
        try:
            recorded = len([r for r in store.runs() if r.status == "finished"])
        finally:
            store.close()
    return recorded, runs, took


def store_bench() -> None:
    recorded, started, took = concurrent_runs()
    print(f"\nrun store, {started} certify runs started at once on a new SQLite store:")
    ok = "met" if recorded == started else "NOT MET"
    print(f"  runs recorded / started  {recorded}/{started}  ({took:.1f} s; {ok}: all recorded)")
