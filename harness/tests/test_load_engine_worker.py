"""`kcert load worker`: its arguments, and a worker with no plan file joining a master that
sends the plan through Locust's spawn messages."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import pytest

from harness.load.distributed import parse_master, worker_command
from harness.load.engine import free_port, run_load
from harness.load.model import OPERATIONS, LoadResult, Stopped, Target
from harness.tests.flp_standin import running_standin
from harness.tests.load_kit import small_profile, small_rates


def test_the_master_address_is_parsed() -> None:
    assert parse_master("127.0.0.1:5557") == ("127.0.0.1", 5557)
    assert parse_master("[::1]:5557") == ("::1", 5557)


@pytest.mark.parametrize("bad", ["127.0.0.1", ":5557", "host:0", "host:port", "host:70000"])
def test_a_bad_master_address_is_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert worker_command(argparse.Namespace(master=bad, processes=1, lang="en")) == 2
    assert "kcert: error: --master" in capsys.readouterr().err


def test_too_many_processes_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert worker_command(argparse.Namespace(master="127.0.0.1:5557", processes=0)) == 2
    assert "--processes 0" in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_without_a_plan_file_gets_it_from_the_master(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    results: list[LoadResult] = []
    with running_standin() as (url, _):
        master = threading.Thread(
            target=lambda: results.append(
                run_load(
                    small_profile(),
                    small_rates(30.0),
                    Target("stand-in", url),
                    shape="normal",
                    out_dir=tmp_path,
                    run_time_s=6,
                    expect_workers=1,
                    master_port=port,
                    preflight=False,
                )
            ),
            daemon=True,
        )
        master.start()
        time.sleep(1.0)
        code = worker_command(argparse.Namespace(master=f"127.0.0.1:{port}", processes=1))
        master.join(timeout=60)
    assert code == 0
    result = results[0]
    assert result.stopped is Stopped.TIME, result.error
    assert result.workers_seen == 1
    stats = Path(f"{result.csv_prefix}_stats.csv").read_text(encoding="utf-8")
    assert all(f",{op}," in stats for op in OPERATIONS)
