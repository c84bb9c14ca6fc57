"""The runner's plan and bounds, and the correctness preflight against a stand-in FLP service
(fast: no Locust process is started here; see test_load_engine_run.py for real runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.engine import BoundsError, LoadError, build_plan, run_load
from harness.load.model import OPERATIONS, Stopped, Target
from harness.load.preflight import run_preflight
from harness.tests.flp_standin import running_standin
from harness.tests.load_kit import small_profile, small_rates

LOOPBACK = Target("stand-in", "http://127.0.0.1:9")


def test_the_plan_follows_the_model() -> None:
    built = build_plan(small_profile(), small_rates(20.0), LOOPBACK, shape="normal", run_time_s=30)
    plan = built.plan
    assert plan.shape == "plateau" and len(plan.stages) == 1
    assert plan.rate_per_s == pytest.approx(20.0)
    assert sum(plan.weights.values()) == pytest.approx(1.0)
    # users = rate × (mean think time 0.3 s + expected latency 0.05 s)
    assert plan.users == 7
    assert not built.notes


@pytest.mark.parametrize(("shape", "kind", "stages"), [("peak", "ramp", 3), ("stress", "spike", 3)])
def test_shapes_map_to_their_stages(shape: str, kind: str, stages: int) -> None:
    plan = build_plan(small_profile(), small_rates(), LOOPBACK, shape=shape, run_time_s=40).plan
    assert plan.shape == kind and len(plan.stages) == stages
    assert plan.stages[-1].until_s == 40
    assert max(s.rate_per_s for s in plan.stages) == pytest.approx(small_rates().total(shape))


def test_soak_runs_for_the_profile_bound_by_default() -> None:
    plan = build_plan(small_profile(max_run_time_s=90), small_rates(), LOOPBACK, shape="soak").plan
    assert plan.run_time_s == 90 and plan.shape == "soak"


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"users": 51}, "outside 1..50"),
        ({"run_time_s": 121}, "max_run_time_s 120"),
        ({"shape": "stress", "rates_total": 150}, "max_rate_per_s 200"),
    ],
)
def test_asking_for_more_than_the_bounds_is_refused(kwargs: dict[str, object], says: str) -> None:
    total = float(kwargs.pop("rates_total", 20.0))  # type: ignore[arg-type]
    shape = str(kwargs.pop("shape", "normal"))
    with pytest.raises(BoundsError, match=says):
        build_plan(small_profile(), small_rates(total), LOOPBACK, shape=shape, **kwargs)  # type: ignore[arg-type]


def test_derived_users_are_clipped_to_the_bound_with_a_note() -> None:
    built = build_plan(
        small_profile(max_users=3), small_rates(20.0), LOOPBACK, shape="normal", lang="en"
    )
    assert built.plan.users == 3
    assert "clipped to the profile's bound max_users 3" in built.notes[0]


def test_a_target_built_in_code_is_still_checked(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="not a loopback address"):
        run_load(
            small_profile(),
            small_rates(),
            Target("far", "http://192.0.2.1"),
            shape="normal",
            out_dir=tmp_path,
        )


def test_the_preflight_passes_a_correct_service() -> None:
    with running_standin() as (url, _):
        checks = run_preflight(Target("stand-in", url))
    assert [c.operation for c in checks] == list(OPERATIONS)
    assert all(c.ok for c in checks), [c.message for c in checks if not c.ok]


@pytest.mark.parametrize(
    ("fault", "operation", "says"),
    [
        ("share-format", "plan-share", "shared as 'PDF', expected DK-CPD"),
        ("no-readback", "plan-create", 'not readable back: expected HTTP 200, got 404: "Not found'),
        ("cockpit-shape", "cockpit-list", "field 'package' is None"),
        ("view-missing", "plan-read-minlaege", "is not in the minlaege view"),
        ("update-stale", "plan-update", 'got 412: "Stale version'),
    ],
)
def test_the_preflight_catches_a_wrong_answer(fault: str, operation: str, says: str) -> None:
    with running_standin((fault,)) as (url, _):
        checks = {c.operation: c for c in run_preflight(Target("stand-in", url))}
    assert not checks[operation].ok
    assert says in checks[operation].message


def test_an_unreachable_target_is_a_check_without_status() -> None:
    checks = run_preflight(LOOPBACK)
    assert len(checks) == len(OPERATIONS)
    assert all(c.status is None and not c.ok for c in checks)
    assert "no answer from http://127.0.0.1:9" in checks[0].message


def test_a_failed_preflight_sends_no_load(tmp_path: Path) -> None:
    with running_standin(("share-format",)) as (url, store):
        result = run_load(
            small_profile(), small_rates(), Target("s", url), shape="normal", out_dir=tmp_path
        )
        plans = len(store.plans)
    assert result.stopped is Stopped.ERROR
    assert "preflight failed for 1 of 6" in result.error
    assert plans == 1  # the preflight's own plan, no more
    assert not (tmp_path / "plan.json").exists()


def test_a_signal_during_the_preflight_stops_before_any_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    from harness.load import engine

    def preflight_then_signal(target: Target, seed: int) -> list[object]:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises at once, inside this call
        raise AssertionError("not reached")

    monkeypatch.setattr(engine, "run_preflight", preflight_then_signal)
    result = run_load(small_profile(), small_rates(), LOOPBACK, shape="normal", out_dir=tmp_path)
    assert result.stopped is Stopped.SIGNAL
    assert "interrupted during the preflight" in result.error
    assert not (tmp_path / "plan.json").exists()


def test_too_many_local_workers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BoundsError, match="at most 64"):
        run_load(
            small_profile(), small_rates(), LOOPBACK, shape="normal", out_dir=tmp_path, workers=65
        )
