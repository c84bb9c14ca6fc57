"""A judged load run as a kcert run (`build_run`) and recorded through the run path (`record`).

One protocol `load-<profile id>` (its file the profile, its SHA-256 the profile's), one case
per shape run, and the steps a MedCom table reads: 1 the preflight, 2 the load itself (the
plots, the SLO table and Locust's CSV files and log as artifacts), then one step per operation
of the profile with its objectives. A failed objective is a finding of its step; an outcome
kcert could not judge makes its step an error (the run's verdict is Fejl). The run is begun in
the run store, its case recorded and finished by `runpath.record_and_finish`, so `kcert runs
list` shows it and its report, results.json, JUnit and manifest are written as for every run.
The artifacts are not in the store (the report folder keeps them; a report written again from
the store, `kcert answer`, would lack them — a load run has no manual steps to answer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.dates import now_iso
from harness.load import plots
from harness.load.model import LoadResult, RateTable
from harness.load.slo import ERROR, FAIL, SloOutcome, target_rate
from harness.load.stats import AGGREGATED, LoadStats
from harness.model.i18n import Text
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Protocol, Source, Step, TestCase
from harness.model.result import (
    SLO_TABLE,
    Artifact,
    CaseResult,
    ProtocolResult,
    RunResult,
    StepResult,
    SutInfo,
)
from harness.runner.engine import new_run_id
from harness.session import runpath
from harness.store.runstore import RunStore

REQUIREMENT = "MVP1-FLP-06"  # the national plan's requirement a load run tests
CHOICE_KIND = "load-target"  # the run row's choice: not a SUT kcert resumes or rejudges
MAX_LOG_BYTES = 2 * 1024 * 1024  # of Locust's log kept as evidence (its tail)
MAX_CSV_BYTES = 64 * 1024 * 1024
RUN_WIDE = ("run", "generator")  # outcomes of the load step, not of an operation


def build_run(
    result: LoadResult,
    stats: LoadStats,
    outcomes: Sequence[SloOutcome],
    rates: RateTable,
    *,
    lang: str = "da",
    tester: str = "",
    suite_version: str = "",
    defects: Sequence[str] = (),
    run_id: str = "",
) -> RunResult:
    protocol = protocol_of(result)
    case = protocol.cases[0]
    steps = [
        _preflight_step(case.steps[0], result, outcomes, lang),
        _load_step(case.steps[1], result, stats, outcomes, rates, lang),
    ]
    preflight_ok = steps[0].outcome in (Outcome.PASS, Outcome.SKIP)
    for step, op in zip(case.steps[2:], result.profile.operations, strict=True):
        steps.append(_operation_step(step, op, outcomes, preflight_ok, lang))
    target = result.target
    return RunResult(
        run_id=run_id or new_run_id(),
        sut=SutInfo(
            name=target.name,
            vendor="",
            version=target.version,
            transport="http",
            endpoints={"base_url": target.base_url},
            identity={},
            defects=tuple(defects),
        ),
        test_type="egentest",
        tester=tester,
        started=result.started,
        finished=now_iso(),
        protocols=[
            ProtocolResult(
                protocol,
                [
                    CaseResult(
                        case,
                        protocol.id,
                        steps,
                        started=result.started,
                        duration_ms=result.duration_s * 1000,
                    )
                ],
            )
        ],
        suite_version=suite_version,
        lang=lang,
    )


def record(
    run: RunResult, result: LoadResult, reporting: runpath.Reporting, store: RunStore
) -> Path:
    """The run in the store and its reports written (`runpath.record_and_finish`)."""
    return runpath.record_and_finish(store, run, reporting, choice_of(result), runpath.LOAD_PROFILE)


def choice_of(result: LoadResult) -> dict[str, Any]:
    """What the run row says was tested (never the target's headers: they may hold tokens)."""
    return {
        "kind": CHOICE_KIND,
        "target": result.target.name,
        "base_url": result.target.base_url,
        "config_file": "",
        "target_file": str(result.target.path or ""),
    }


def protocol_of(result: LoadResult) -> Protocol:
    profile = result.profile
    where = Source(str(profile.path.resolve()) if profile.path else profile.id, 1)
    steps = [
        Step(
            "1",
            Text(
                "Korrekthedstjek: hver operation sendes én gang, svaret valideres",
                "Correctness preflight: each operation sent once, its answer validated",
            ),
            ", ".join(profile.operations),
            Text("Alle svar som kontrakten foreskriver", "Every answer as the contract says"),
            None,
            (),
            where,
        ),
        Step(
            "2",
            Text(
                f"Belastning: form {result.shape}, {result.users} brugere, "
                f"{result.workers} workers, {result.run_time_s:.0f} s",
                f"Load: shape {result.shape}, {result.users} users, "
                f"{result.workers} workers, {result.run_time_s:.0f} s",
            ),
            f"{profile.id} v{profile.version} (sha256 {profile.sha256[:12]}) → "
            f"{result.target.base_url}",
            Text(
                "Kørslen gennemføres som planlagt; generatoren er ikke overbelastet",
                "The run completes as planned; the generator is not overloaded",
            ),
            None,
            (),
            where,
        ),
    ]
    for i, op in enumerate(profile.operations, start=3):
        slo = profile.slos.get(op)
        line = Source(where.file, slo.line) if slo is not None and slo.line else where
        steps.append(
            Step(
                str(i),
                Text(f"{op}: SLO'er under belastning", f"{op}: SLOs under load"),
                op,
                Text(_objectives(result, op, "da"), _objectives(result, op, "en")),
                None,
                (),
                line,
            )
        )
    case = TestCase(
        f"LOAD-{result.shape.upper()}",
        Text(
            f"{profile.title_da} — {result.shape}",
            f"{profile.title_en} — {result.shape}",
        ),
        (REQUIREMENT,),
        Severity.F2,
        tuple(steps),
        where,
    )
    return Protocol(
        f"load-{profile.id}",
        profile.version,
        Text(profile.title_da, profile.title_en),
        "flp-load",
        "load",
        (case,),
        where,
        sha256=profile.sha256,
    )


def _objectives(result: LoadResult, op: str, lang: str) -> str:
    slo = result.profile.slos.get(op)
    if slo is None:
        return "ingen SLO" if lang == "da" else "no SLO"
    parts = [
        f"{name} ≤ {value:.0f} ms"
        for name, value in (("p50", slo.p50_ms), ("p95", slo.p95_ms), ("p99", slo.p99_ms))
        if value is not None
    ]
    if slo.max_error_rate is not None:
        parts.append(f"{'fejlrate' if lang == 'da' else 'error rate'} ≤ {slo.max_error_rate:.2%}")
    if slo.min_rate_share is not None:
        parts.append(f"rate ≥ {slo.min_rate_share:.0%} × {result.shape}")
    return ", ".join(parts)


def _step_of(
    step: Step, chosen: Sequence[SloOutcome], lang: str, *, artifacts: list[Artifact] | None = None
) -> StepResult:
    errors = [o.text.get(lang) for o in chosen if o.status == ERROR]
    findings = [f for o in chosen if (f := o.finding(lang, step.id)) is not None]
    if errors:
        outcome = Outcome.ERROR
    elif any(o.status == FAIL for o in chosen):
        outcome = Outcome.FAIL
    else:
        outcome = Outcome.PASS
    passed = "; ".join(o.text.get(lang) for o in chosen if o.passed)
    return StepResult(
        step,
        outcome,
        findings,
        message="; ".join(errors) or passed,
        artifacts=artifacts or [],
    )


def _preflight_step(
    step: Step, result: LoadResult, outcomes: Sequence[SloOutcome], lang: str
) -> StepResult:
    chosen = [o for o in outcomes if o.measure == "preflight"]
    if not chosen:
        return StepResult(
            step,
            Outcome.SKIP,
            message="fravalgt (--no-preflight)" if lang == "da" else "skipped (--no-preflight)",
        )
    return _step_of(step, chosen, lang)


def _load_step(
    step: Step,
    result: LoadResult,
    stats: LoadStats,
    outcomes: Sequence[SloOutcome],
    rates: RateTable,
    lang: str,
) -> StepResult:
    if any(o.measure == "preflight" and not o.passed for o in outcomes):
        why = "ingen belastning: korrekthedstjekket" if lang == "da" else "no load: the preflight"
        return StepResult(step, Outcome.SKIP, message=f"{why} ✗")
    chosen = [o for o in outcomes if o.measure in RUN_WIDE]
    return _step_of(step, chosen, lang, artifacts=artifacts(result, stats, outcomes, rates, lang))


def _operation_step(
    step: Step, op: str, outcomes: Sequence[SloOutcome], preflight_ok: bool, lang: str
) -> StepResult:
    if not preflight_ok:
        return StepResult(
            step, Outcome.SKIP, message="ikke målt" if lang == "da" else "not measured"
        )
    chosen = [o for o in outcomes if o.operation == op and o.measure != "preflight"]
    if not chosen:
        return StepResult(step, Outcome.SKIP, message="ingen SLO" if lang == "da" else "no SLO")
    return _step_of(step, chosen, lang)


def artifacts(
    result: LoadResult,
    stats: LoadStats,
    outcomes: Sequence[SloOutcome],
    rates: RateTable,
    lang: str,
) -> list[Artifact]:
    """The load step's files: the SLO table, the plots, Locust's CSV files and log."""
    profile = result.profile
    svg = "image/svg+xml"
    total = sum(target_rate(result, rates, op) for op in profile.operations)
    out = [
        Artifact(
            "slo.json", SLO_TABLE, slo_table(outcomes), Text("SLO-resultater", "SLO outcomes")
        ),
        Artifact(
            "latency.svg",
            svg,
            plots.latency_over_time(stats, profile.slos, AGGREGATED, lang),
            Text("Svartider over tid, alle operationer", "Latency over time, all operations"),
        ),
    ]
    failing = sorted(
        {o.operation for o in outcomes if o.status == FAIL and o.measure in ("p50", "p95", "p99")}
    )
    for op in failing:  # the operations whose latency failed, each with its own SLO lines
        out.append(
            Artifact(
                f"latency-{op}.svg",
                svg,
                plots.latency_over_time(stats, profile.slos, op, lang),
                Text(f"Svartider over tid, {op}", f"Latency over time, {op}"),
            )
        )
    out += [
        Artifact(
            "throughput.svg",
            svg,
            plots.throughput_over_time(stats, total, lang),
            Text("Gennemløb og fejl over tid", "Throughput and errors over time"),
        ),
        Artifact(
            "distribution.svg",
            svg,
            plots.latency_distribution(stats, profile.slos, lang),
            Text("Svartidsfordeling pr. operation", "Latency distribution per operation"),
        ),
        Artifact(
            "users.svg",
            svg,
            plots.users_and_workers(stats, result.cpu, result.workers_seen or result.workers, lang),
            Text("Brugere og workers over tid", "Users and workers over time"),
        ),
    ]
    for path in stats.files:
        out.append(Artifact(path.name, "text/csv", _read(path, MAX_CSV_BYTES), Text("Locust")))
    if result.log is not None and result.log.is_file():
        out.append(
            Artifact("locust.log", "text/plain", _read(result.log, MAX_LOG_BYTES), Text("Locust"))
        )
    return out


def slo_table(outcomes: Sequence[SloOutcome]) -> bytes:
    """The outcomes as the report's table rows (`SLO_TABLE`)."""
    rows = [
        {
            "operation": o.operation,
            "measure": o.measure,
            "status": o.status,
            "severity": o.severity.value,
            "measured": o.measured,
            "allowed": o.allowed,
            "unit": o.unit,
            "measured_text": _figure(o.measured, o.unit),
            "allowed_text": _figure(o.allowed, o.unit),
        }
        for o in outcomes
        if o.measure != "preflight"
    ]
    return json.dumps(rows, indent=1, ensure_ascii=False).encode()


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "share":
        return f"{value:.2%}"
    if unit == "per-s":
        return f"{value:.2f}/s"
    return f"{value:g}"


def _read(path: Path, limit: int) -> bytes:
    """The file, or its last `limit` bytes (a log may be long)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > limit:
            handle.seek(size - limit)
        return handle.read()
