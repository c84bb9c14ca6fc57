"""Runs that go wrong, each seen for what it is: wrong answers under load are failures with
their reason, the hard wall-clock limit kills, a master whose workers never come and a Locust
that cannot start are errors (real Locust processes against the stand-in FLP service)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.load.engine import run_load
from harness.load.model import Stopped, Target
from harness.tests.flp_standin import Store, running_standin
from harness.tests.load_kit import small_profile, small_rates
from harness.tests.test_load_engine_run import no_locust_left, stats_rows

pytestmark = pytest.mark.slow


@pytest.fixture
def standin() -> Iterator[tuple[str, Store]]:
    with running_standin() as served:
        yield served


def test_the_hard_limit_kills_a_run_that_does_not_end(
    tmp_path: Path, standin: tuple[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.load import engine

    monkeypatch.setattr(engine, "hard_limit_s", lambda run_time_s, distributed: 4.0)
    started = time.monotonic()
    result = run_load(
        small_profile(),
        small_rates(30.0),
        Target("stand-in", standin[0]),
        shape="normal",
        out_dir=tmp_path,
        run_time_s=60,
        preflight=False,
    )
    assert result.stopped is Stopped.ERROR
    assert "hard limit of 4 s" in result.error
    assert time.monotonic() - started < 30
    assert no_locust_left()


def test_a_master_whose_workers_never_come_is_an_error(
    tmp_path: Path, standin: tuple[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.load import engine

    monkeypatch.setattr(engine, "WORKERS_MAX_WAIT_S", 2.0)
    result = run_load(
        small_profile(),
        small_rates(30.0),
        Target("stand-in", standin[0]),
        shape="normal",
        out_dir=tmp_path,
        run_time_s=5,
        expect_workers=1,
        preflight=False,
    )
    assert result.stopped is Stopped.ERROR
    assert "gave up waiting for 1 worker(s)" in result.error
    assert result.workers_seen == 0
    assert no_locust_left()


def test_wrong_answers_under_load_are_failures_with_their_reason(tmp_path: Path) -> None:
    with running_standin(("cockpit-shape", "share-format")) as (url, _):
        result = run_load(
            small_profile(),
            small_rates(30.0),
            Target("stand-in", url),
            shape="normal",
            out_dir=tmp_path,
            run_time_s=5,
            preflight=False,
        )
    assert result.stopped is Stopped.TIME, result.error
    rows = stats_rows(result)
    for wrong in ("cockpit-list", "plan-share"):
        assert rows[wrong]["Failure Count"] == rows[wrong]["Request Count"] != "0"
    assert rows["plan-create"]["Failure Count"] == "0"  # the right answers still pass
    failures = Path(f"{result.csv_prefix}_failures.csv").read_text(encoding="utf-8")
    assert "cockpit-list: field 'package' is None" in failures
    assert "plan-share: format 'PDF', expected 'DK-CPD'" in failures


def test_a_locust_that_cannot_start_is_an_error_quoting_its_log(
    tmp_path: Path, standin: tuple[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.load import engine

    broken = tmp_path / "broken_locustfile.py"
    broken.write_text("raise RuntimeError('kcert test: this locustfile cannot load')\n")
    monkeypatch.setattr(engine, "LOCUSTFILE", broken)
    result = run_load(
        small_profile(),
        small_rates(),
        Target("stand-in", standin[0]),
        shape="normal",
        out_dir=tmp_path / "out",
        run_time_s=5,
        preflight=False,
    )
    assert result.stopped is Stopped.ERROR
    assert result.error
    assert "cannot load" in (tmp_path / "out" / "locust-master.log").read_text()
    assert no_locust_left()
