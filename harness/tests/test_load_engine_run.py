"""Real Locust runs by `run_load` against the stand-in FLP service on 127.0.0.1: one local
process, a master with two workers, and a SIGTERM mid-run (each well under 60 s)."""

from __future__ import annotations

import csv
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from harness.load.engine import run_load
from harness.load.model import OPERATIONS, LoadResult, Stopped, Target
from harness.tests.flp_standin import Store, running_standin
from harness.tests.load_kit import small_profile, small_rates

pytestmark = pytest.mark.slow


@pytest.fixture
def standin() -> Iterator[tuple[str, Store]]:
    with running_standin() as served:
        yield served


def stats_rows(result: LoadResult) -> dict[str, dict[str, str]]:
    with Path(f"{result.csv_prefix}_stats.csv").open(encoding="utf-8") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def no_locust_left() -> bool:
    me = psutil.Process()
    return not [c for c in me.children(recursive=True) if "locust" in " ".join(c.cmdline())]


def check_complete(result: LoadResult) -> None:
    assert result.stopped is Stopped.TIME, result.error
    rows = stats_rows(result)
    for op in OPERATIONS:
        assert int(rows[op]["Request Count"]) > 0, op
        assert int(rows[op]["Failure Count"]) == 0, op
    assert Path(f"{result.csv_prefix}_stats_history.csv").stat().st_size > 0
    assert result.log is not None and result.log.is_file()
    assert result.cpu and all(s.percent >= 0 for s in result.cpu)
    assert no_locust_left()


def test_a_local_run_writes_every_operation(tmp_path: Path, standin: tuple[str, Store]) -> None:
    url, store = standin
    lines: list[str] = []
    result = run_load(
        small_profile(),
        small_rates(30.0),
        Target("stand-in", url),
        shape="normal",
        out_dir=tmp_path,
        run_time_s=8,
        progress=lines.append,
    )
    check_complete(result)
    assert result.workers == 0 and result.workers_seen == 0
    assert all(c.ok for c in result.preflight)
    assert any("forespørgsler/s" in line for line in lines)  # Danish unless told
    # the offered rate follows the model (30/s), within what 8 s of pacing allow
    rate = float(stats_rows(result)["Aggregated"]["Requests/s"])
    assert 15 < rate < 45, rate
    # every virtual user worked with its own synthetic patients, all created here
    assert len({row["cpr"] for row in store.plans.values()}) > 10


def test_a_master_with_two_workers(tmp_path: Path, standin: tuple[str, Store]) -> None:
    url, _ = standin
    result = run_load(
        small_profile(),
        small_rates(30.0),
        Target("stand-in", url),
        shape="peak",
        out_dir=tmp_path,
        run_time_s=8,
        workers=2,
        preflight=False,
    )
    check_complete(result)
    assert result.workers == 2 and result.workers_seen == 2
    assert {s.process for s in result.cpu} >= {"master", "worker-1", "worker-2"}
    assert (tmp_path / "locust-worker-1.log").is_file()
    assert (tmp_path / "locust-worker-2.log").is_file()


def test_sigterm_mid_run_stops_everything_and_keeps_partial_csvs(
    tmp_path: Path, standin: tuple[str, Store]
) -> None:
    url, _ = standin
    stats = tmp_path / "locust_stats.csv"
    done = threading.Event()

    def terminate_once_load_runs() -> None:
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            if stats.is_file() and stats.stat().st_size > 300:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.2)

    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # a late signal is harmless
    killer = threading.Thread(target=terminate_once_load_runs, daemon=True)
    killer.start()
    started = time.monotonic()
    try:
        result = run_load(
            small_profile(),
            small_rates(30.0),
            Target("stand-in", url),
            shape="normal",
            out_dir=tmp_path,
            run_time_s=60,
            workers=2,
            preflight=False,
        )
    finally:
        done.set()
        killer.join(timeout=5)
        signal.signal(signal.SIGTERM, previous)
    assert result.stopped is Stopped.SIGNAL
    assert time.monotonic() - started < 45
    rows = stats_rows(result)
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert no_locust_left()
