"""Shared data of the verdict lane's tests: a small profile over the real Locust sample
(fixtures/load/samples/peak_*, Locust 2.47 against a loopback stub; no CPRs in it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harness.load.model import (
    Bounds,
    CpuSample,
    LoadProfile,
    LoadResult,
    OperationRate,
    PreflightCheck,
    RateTable,
    Slo,
    Stopped,
    Target,
)
from harness.suitefiles import fixtures_dir

SAMPLE = fixtures_dir() / "load" / "samples" / "peak"
OPS = ("cockpit-list", "plan-create", "plan-read-minlaege")
# the sample's plateau rates: cockpit-list 10.8/s, plan-create 20.0/s, plan-read-minlaege 6.8/s
# whole-run p50/p95/p99 ms: cockpit-list 7/14/19 (96 of 96 failed), plan-create 7/12/15,
# plan-read-minlaege 8/12/12


def slos(**changes: Any) -> dict[str, Slo]:
    """SLOs the sample meets, except cockpit-list's errors (it failed every request)."""
    base = {op: Slo(op, 50, 100, 200, 0.01, 0.8, line=10 + i) for i, op in enumerate(OPS)}
    base["cockpit-list"] = Slo("cockpit-list", 50, 100, 200, 1.0, 0.8, line=10)
    for op, slo in changes.items():
        base[op.replace("_", "-")] = slo
    return base


def profile(tmp: Path | None = None, **slo_changes: Any) -> LoadProfile:
    path = None
    if tmp is not None:
        path = tmp / "profile.yaml"
        path.write_text("id: demo\n", encoding="utf-8")
    return LoadProfile(
        id="demo",
        version="1",
        title_da="FLP under belastning (test)",
        title_en="FLP under load (test)",
        figures={},
        operations=OPS,
        slos=slos(**slo_changes),
        think_time_s=(0.05, 0.2),
        bounds=Bounds(max_users=50, max_rate_per_s=1000, max_run_time_s=600),
        stress_factor=3,
        path=path,
        sha256="ab" * 32,
    )


def rates(peak: dict[str, float] | None = None) -> RateTable:
    chosen = {"cockpit-list": 10.0, "plan-create": 18.0, "plan-read-minlaege": 6.0}
    chosen.update(peak or {})
    return RateTable(
        "demo",
        "1",
        3,
        tuple(OperationRate(op, r / 2, r, r * 3, (f"{op}: {r}/s",)) for op, r in chosen.items()),
    )


def result(tmp: Path | None = None, **changes: Any) -> LoadResult:
    slo_changes = changes.pop("slo_changes", {})
    base = LoadResult(
        profile=profile(tmp, **slo_changes),
        target=Target("stub FLP", "http://127.0.0.1:18765", version="0.1"),
        shape="peak",
        users=5,
        workers=0,
        run_time_s=12,
        started="2026-12-03T15:48:55+00:00",
        duration_s=11.0,
        csv_prefix=SAMPLE,
        stopped=Stopped.TIME,
        preflight=tuple(
            PreflightCheck(op, True, "GET", f"http://127.0.0.1:18765/{op}", 200, "") for op in OPS
        ),
        cpu=tuple(CpuSample(float(t), "master", 20.0) for t in range(10)),
        log=SAMPLE.with_suffix(".log"),
    )
    return dataclasses.replace(base, **changes)
