"""`kcert load run`'s glue (`harness.load.command`): the other lanes' modules (profile,
rates, targets, engine, service) are stand-ins here, the engine's result the real Locust
sample; the verdict, the exit code, the run in the store, bad input as `kcert: error:`, and
the reference FLP service started when the target says so."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from harness.load import command
from harness.load import targets as real_targets
from harness.load.model import LoadResult, Slo, Stopped, Target
from harness.session import runpath
from harness.tests.load_verdict_data import profile, rates, result


class ProfileError(ValueError):
    pass


class TargetError(ValueError):
    pass


class LoadError(RuntimeError):
    pass


@dataclasses.dataclass
class Lanes:
    """What the stand-ins were asked, and what the engine answers."""

    tmp: Path
    engine_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    engine_target: Target | None = None
    started: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stopped: int = 0
    answer: dict[str, Any] = dataclasses.field(default_factory=dict)  # LoadResult changes
    slo_changes: dict[str, Slo] = dataclasses.field(default_factory=dict)
    fail: str = ""  # which stand-in raises its error
    seeded: list[tuple[str, int, int]] = dataclasses.field(default_factory=list)


@pytest.fixture
def lanes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lanes:
    state = Lanes(tmp_path)

    def module(name: str, **attrs: Any) -> None:
        fake = types.ModuleType(f"harness.load.{name}")
        fake.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, f"harness.load.{name}", fake)

    def load_profile(path: Path) -> Any:
        if state.fail == "profile":
            raise ProfileError(f"{path}:3: slos.plan-create.p95_ms: must be a number")
        return profile(tmp_path, **state.slo_changes)

    def load_target(path: Path) -> Target:
        if state.fail == "target":
            raise TargetError(f"{path}:2: base_url: 10.0.0.1 is neither loopback nor allowed")
        written = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        reference = real_targets._reference(written.get("reference"))  # the one reading of it
        return Target(
            "stub FLP", "http://127.0.0.1:18765", version="0.1", path=path, reference=reference
        )

    def run_load(prof: Any, table: Any, target: Target, **kwargs: Any) -> LoadResult:
        if state.fail == "engine":
            raise LoadError("locust did not start: no module named locust")
        state.engine_kwargs, state.engine_target = kwargs, target
        kwargs["progress"]("locust: 5 users")
        base = result(tmp_path, slo_changes=state.slo_changes)
        return dataclasses.replace(base, profile=prof, target=target, **state.answer)

    @contextlib.contextmanager
    def running_refflp(**kwargs: Any) -> Iterator[str]:
        state.started.append(kwargs)
        try:
            yield "http://127.0.0.1:40404"
        finally:
            state.stopped += 1

    module("profile", load_profile=load_profile, ProfileError=ProfileError)
    module("targets", load_target=load_target, TargetError=TargetError)
    module("rates", derive_rates=lambda p: rates())
    module("engine", run_load=run_load, LoadError=LoadError)

    def seed_refflp(base_url: str, clinics: int, plans: int, *, timeout_s: float) -> int:
        state.seeded.append((base_url, clinics, plans))
        return clinics * plans

    module(
        "service",
        running_refflp=running_refflp,
        seed_refflp=seed_refflp,
        DEFECTS=("missing-index", "global-lock"),
    )
    return state


def args(tmp: Path, target: str = "target: stub\n", **more: Any) -> argparse.Namespace:
    target_file = tmp / "target.yaml"
    target_file.write_text(target, encoding="utf-8")
    base = {
        "profile": tmp / "profile.yaml",
        "target": target_file,
        "users": None,
        "run_time": "1m",
        "shape": "peak",
        "workers": 2,
        "expect_workers": None,
        "master_bind": "127.0.0.1",
        "master_port": 0,
        "seed": 7,
        "reports": tmp / "reports",
        "store": None,
        "lang": "en",
        "pdf": False,
        "sign_key": None,
        "no_preflight": False,
    }
    base.update(more)
    return argparse.Namespace(**base)


def run(ns: argparse.Namespace) -> tuple[int, str]:
    out = io.StringIO()
    code = command.run_load_command(ns, Console(file=out, width=200, highlight=False))
    return code, out.getvalue()


def stored_runs(tmp: Path) -> list[Any]:
    store = runpath.open_store(None, tmp / "reports")
    try:
        return store.runs()
    finally:
        store.close()


def test_godkendt_exits_0_and_the_run_is_in_the_store(lanes: Lanes) -> None:
    code, out = run(args(lanes.tmp))
    assert code == 0, out
    assert "Approved" in out and "report: " in out and "index.html" in out
    assert "locust: 5 users" in out  # the engine's progress on the console
    (row,) = stored_runs(lanes.tmp)
    assert (row.status, row.verdict, row.sut_name) == ("finished", "godkendt", "stub FLP")
    kw = lanes.engine_kwargs
    assert (kw["shape"], kw["run_time_s"], kw["workers"], kw["seed"], kw["preflight"]) == (
        "peak", 60.0, 2, 7, True,
    )  # fmt: skip


def test_a_failed_slo_exits_1_naming_the_operation(lanes: Lanes) -> None:
    lanes.slo_changes = {"plan-create": Slo("plan-create", p95_ms=10)}
    code, out = run(args(lanes.tmp))
    assert code == 1, out
    assert "Not approved" in out and "[F3] plan-create: p95 12 ms > SLO 10 ms" in out


def test_a_partial_run_exits_2_and_says_so(lanes: Lanes) -> None:
    lanes.answer = {"stopped": Stopped.SIGNAL, "duration_s": 5.0}
    code, out = run(args(lanes.tmp, lang="da"))
    assert code == 2, out
    assert (
        "Fejl" in out and "årsag: Delvis kørsel: stoppet (Ctrl-C/SIGTERM) efter 5 s af 12 s" in out
    )
    assert stored_runs(lanes.tmp)[0].verdict == "fejl"  # still recorded and reported


@pytest.mark.parametrize(
    ("fail", "said"),
    [
        ("profile", "profile.yaml:3: slos.plan-create.p95_ms: must be a number"),
        ("target", "target.yaml:2: base_url: 10.0.0.1 is neither loopback nor allowed"),
        ("engine", "locust did not start: no module named locust"),
    ],
)
def test_bad_input_is_kcert_error_exit_2(lanes: Lanes, fail: str, said: str) -> None:
    lanes.fail = fail
    code, out = run(args(lanes.tmp))
    assert code == 2
    assert out.startswith("kcert: error: ") and said in out and "Traceback" not in out
    assert not (lanes.tmp / "reports").exists() or not stored_runs(lanes.tmp)


def test_a_bad_run_time_is_kcert_error(lanes: Lanes) -> None:
    code, out = run(args(lanes.tmp, run_time="soon"))
    assert code == 2 and "kcert: error: --run-time: 'soon' is not a duration" in out


def test_no_preflight_is_passed_on(lanes: Lanes) -> None:
    lanes.answer = {"preflight": ()}
    code, out = run(args(lanes.tmp, no_preflight=True))
    assert code == 0, out
    assert lanes.engine_kwargs["preflight"] is False


def test_the_reference_service_is_started_aimed_at_and_stopped(lanes: Lanes) -> None:
    target = (
        "name: reference FLP\nbase_url: http://127.0.0.1:0\n"
        "reference:\n  workers: 3\n  defects: [missing-index]\n"
    )
    lanes.slo_changes = {"plan-create": Slo("plan-create", p95_ms=10)}
    code, out = run(args(lanes.tmp, target=target, defect=["global-lock"]))
    assert code == 1, out
    assert lanes.started == [{"workers": 3, "defects": ("missing-index", "global-lock")}]
    assert lanes.stopped == 1
    assert lanes.engine_target is not None
    assert lanes.engine_target.base_url == "http://127.0.0.1:40404"
    assert (
        "reference FLP: http://127.0.0.1:40404 (workers 3, defects missing-index, global-lock)"
        in out
    )
    (row,) = stored_runs(lanes.tmp)
    assert row.sut["defects"] == ["missing-index", "global-lock"]


def test_reference_true_starts_two_workers(lanes: Lanes) -> None:
    code, out = run(args(lanes.tmp, target="base_url: http://127.0.0.1:0\nreference: true\n"))
    assert code == 0, out
    assert lanes.started == [{"workers": 2, "defects": ()}] and lanes.stopped == 1
    assert lanes.seeded == [("http://127.0.0.1:40404", 300, 170)]


def test_the_service_is_stopped_when_the_run_fails(lanes: Lanes) -> None:
    lanes.fail = "engine"
    code, _ = run(args(lanes.tmp, target="reference: true\n"))
    assert code == 2 and lanes.started and lanes.stopped == 1


def test_a_defect_needs_a_reference_target(lanes: Lanes) -> None:
    code, out = run(
        args(lanes.tmp, target="base_url: http://127.0.0.1:1\n", defect=["global-lock"])
    )
    assert code == 2 and "--defect needs a target with reference: true" in out
    assert lanes.started == []


def test_the_reference_service_is_seeded_as_the_target_says(lanes: Lanes) -> None:
    target = "reference:\n  seed: {clinics: 5, plans_per_clinic: 7}\n"
    code, _ = run(args(lanes.tmp, target=target))
    assert code == 0 and lanes.seeded == [("http://127.0.0.1:40404", 5, 7)]


def test_no_reference_is_quiet(lanes: Lanes) -> None:
    code, _ = run(
        args(lanes.tmp, target="name: x\nbase_url: http://127.0.0.1:1\nreference: false\n")
    )
    assert code == 0 and lanes.started == [] and lanes.seeded == []


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("60s", 60.0), ("5m", 300.0), ("1h", 3600.0), ("90", 90.0), (30, 30.0), (None, None)],
)
def test_run_time_durations(given: object, seconds: float | None) -> None:
    assert command.duration(given) == seconds


@pytest.mark.parametrize("given", ["0s", "-1m", "5 minutes", "1d"])
def test_bad_run_times(given: str) -> None:
    with pytest.raises(command.UsageProblem, match="--run-time"):
        command.duration(given)


def test_make_load_demo_runs_the_clean_service_then_a_defect() -> None:
    import shutil
    import subprocess

    from harness.suitefiles import checkout_root

    make, root = shutil.which("make"), checkout_root()
    if make is None or root is None:
        pytest.skip("needs make and a checkout of kcert (the Makefile)")
    dry = subprocess.run(
        [make, "-n", "-s", "load-demo", "STAMP=/dev/null", "LOAD_DEFECT=global-lock"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    line = (
        ".venv/bin/kcert load run fixtures/load/flp-demo.yaml --target "
        "fixtures/load/targets/reference-flp.yaml --workers 2 --shape peak --run-time 60s"
    )
    assert dry.count(line) == 2 and f"{line}  --defect global-lock" in dry
    assert "test $clean -eq 0 && test $defect -eq 1" in dry


def test_unreadable_locust_csv_is_a_recorded_fejl(lanes: Lanes) -> None:
    bad = lanes.tmp / "bad"
    (lanes.tmp / "bad_stats.csv").write_text("Type,Name\nGET\n")
    lanes.answer = {"csv_prefix": bad}
    code, out = run(args(lanes.tmp))
    assert code == 2 and "Not approved" not in out
    assert "Locust's CSV files do not read" in out and "bad_stats.csv:1: header" in out
    assert stored_runs(lanes.tmp)[0].verdict == "fejl"


def test_no_locust_csv_at_all_is_a_recorded_fejl(lanes: Lanes) -> None:
    lanes.answer = {"csv_prefix": lanes.tmp / "none"}
    code, out = run(args(lanes.tmp))
    assert code == 2 and "no requests measured" in out
    assert stored_runs(lanes.tmp)[0].verdict == "fejl"


@pytest.mark.parametrize(
    ("lang", "lines"),
    [
        (
            "da",
            [
                "reference-FLP: fylder 300 × 170 planer i …",
                "reference-FLP: http://127.0.0.1:40404 (2 workers, defekter global-lock)",
                "rapport: ",
            ],
        ),
        (
            "en",
            [
                "reference FLP: seeding 300 × 170 plans …",
                "reference FLP: http://127.0.0.1:40404 (workers 2, defects global-lock)",
                "report: ",
            ],
        ),
    ],
)
def test_the_commands_own_lines_and_the_engines_follow_lang(
    lanes: Lanes, lang: str, lines: list[str]
) -> None:
    target = "base_url: http://127.0.0.1:0\nreference: true\n"
    _, out = run(args(lanes.tmp, target=target, defect=["global-lock"], lang=lang))
    for line in lines:
        assert line in out, out
    assert lanes.engine_kwargs["lang"] == lang


@pytest.mark.parametrize(
    ("lang", "verdict", "reason"),
    [
        (
            "da",
            "Fejl (kunne ikke gennemføres)",
            "årsag: Belastningsgeneratoren var overbelastet: worker-2 brugte ≥ 90 % af en kerne"
            " i 50 % af målingerne; kcert kan ikke bedømme tjenesten (flere workers: --workers N)",
        ),
        (
            "en",
            "Error (could not be completed)",
            "reason: The load generator was overloaded: worker-2 used ≥ 90 % of a core in 50 %"
            " of its samples; kcert cannot judge the service (more workers: --workers N)",
        ),
    ],
)
def test_an_overloaded_generator_is_fejl_with_its_reason(
    lanes: Lanes, lang: str, verdict: str, reason: str
) -> None:
    from harness.load.model import CpuSample

    hot = tuple(CpuSample(float(t), "worker-2", 97.0 if t % 2 else 40.0) for t in range(10))
    lanes.answer = {"cpu": hot}
    code, out = run(args(lanes.tmp, lang=lang))
    assert code == 2, out
    assert verdict in out and reason in out, out
    assert stored_runs(lanes.tmp)[0].verdict == "fejl"
