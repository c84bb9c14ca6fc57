"""`kcert load run`: profile → target → Locust (`engine.run_load`) → stats → SLOs → plots →
a kcert run in the store with its report. Exit 0 Godkendt, 1 Ikke godkendt, 2 Fejl or bad
input (`kcert: error: …`), like every run command.

The reference FLP service: a target configuration with `reference: true` (or `reference:
{workers: N, defects: [NAME, …]}`) means "start the reference FLP service on loopback and aim
at it" (`harness.load.service.running_refflp`); its base URL in the file is then only a
placeholder. `--defect NAME` (repeatable) adds performance defects to it. The started
service's URL replaces the target's; the defects are the SUT's, as in `kcert certify --sut
reference --defect`.

The other lanes' modules (profile, rates, targets, engine, service) are imported when the
command runs, through `_lane`, so this module reads without them and a test puts stand-ins in
their place.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from rich.console import Console

from harness.load.model import (
    LoadProfile,
    LoadResult,
    RateTable,
    ReferenceService,
    Stopped,
    Target,
)
from harness.load.runrecord import build_run, record
from harness.load.slo import judge
from harness.load.stats import LoadStats, StatsError, read_stats
from harness.load.words import say
from harness.model.outcome import Outcome, Verdict
from harness.model.result import RunResult
from harness.report.i18n import verdict_text
from harness.session import runpath
from harness.suite import suite_version

SEED_TIMEOUT_S = 180.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


class UsageProblem(Exception):
    """Bad input or an unusable setup: `kcert: error: …`, exit 2 (as the CLI's own)."""


def run_load_command(args: argparse.Namespace, console: Console | None = None) -> int:
    lang = str(getattr(args, "lang", "da") or "da")
    console = console or Console(highlight=False, soft_wrap=True)
    try:
        return _run(args, console, lang)
    except UsageProblem as exc:
        console.print(say(lang, "error", text=exc), highlight=False, markup=False)
        return 2


def _run(args: argparse.Namespace, console: Console, lang: str) -> int:
    bad_input = _bad_input()
    try:
        profile = _lane("profile", "load_profile")(Path(args.profile))
        target_file = Path(args.target)
        target = _lane("targets", "load_target")(target_file)
        rates = _lane("rates", "derive_rates")(profile)
        reference = with_defects(target, getattr(args, "defect", None) or ())
    except bad_input as exc:
        raise UsageProblem(str(exc)) from None
    run_time = duration(getattr(args, "run_time", None))
    with (
        _aimed(target, reference, console, lang) as aimed,
        tempfile.TemporaryDirectory(prefix="kcert-load-") as tmp,
    ):
        try:
            result = _run_load(args, profile, rates, aimed, Path(tmp), run_time, console)
        except bad_input as exc:
            raise UsageProblem(str(exc)) from None
        result, stats = _stats(result)
        outcomes = judge(result, stats, rates)
        run = build_run(
            result,
            stats,
            outcomes,
            rates,
            lang=lang,
            tester=str(getattr(args, "tester", "") or ""),
            suite_version=suite_version().text(),
            defects=reference.defects if reference else (),
        )
        run_dir = _record(args, run, result, console)
    return conclude(run, run_dir, console)


def _run_load(
    args: argparse.Namespace,
    profile: LoadProfile,
    rates: RateTable,
    target: Target,
    out_dir: Path,
    run_time: float | None,
    console: Console,
) -> LoadResult:
    run_load = _lane("engine", "run_load")
    return cast(
        LoadResult,
        run_load(
            profile,
            rates,
            target,
            shape=str(getattr(args, "shape", None) or "peak"),
            out_dir=out_dir,
            users=getattr(args, "users", None),
            run_time_s=run_time,
            workers=int(getattr(args, "workers", 0) or 0),
            expect_workers=getattr(args, "expect_workers", None),
            master_bind=str(getattr(args, "master_bind", None) or "127.0.0.1"),
            master_port=int(getattr(args, "master_port", 0) or 0),
            seed=int(getattr(args, "seed", 0) or 0),
            preflight=not getattr(args, "no_preflight", False),
            progress=lambda text: console.print(text, highlight=False, markup=False),
            lang=str(getattr(args, "lang", "da") or "da"),
        ),
    )


def _stats(result: LoadResult) -> tuple[LoadResult, LoadStats]:
    """Locust's numbers. None were written (no load sent, Locust died) or they do not read:
    nothing measured, and unreadable CSV files are the run's error (Fejl, recorded with the
    reason), never a pass."""
    if not Path(f"{result.csv_prefix}_stats.csv").is_file():
        return result, LoadStats.empty()
    try:
        return result, read_stats(result.csv_prefix)
    except StatsError as exc:
        reason = f"Locust's CSV files do not read: {exc}"
        return dataclasses.replace(result, stopped=Stopped.ERROR, error=reason), LoadStats.empty()


def _record(args: argparse.Namespace, run: RunResult, result: LoadResult, console: Console) -> Path:
    reports = Path(getattr(args, "reports", None) or "reports")
    pdf = bool(getattr(args, "pdf", False))
    sign_key = getattr(args, "sign_key", None)

    def writing(run: RunResult) -> Any:
        return console.status(say(run.lang, "writing_pdf" if pdf else "writing"))

    reporting = runpath.Reporting(
        reports, pdf=pdf, sign_key=Path(sign_key) if sign_key else None, writing=writing
    )
    try:
        store = runpath.open_store(getattr(args, "store", None), reports)
        try:
            return record(run, result, reporting, store)
        finally:
            store.close()
    except runpath.RunPathError as exc:
        raise UsageProblem(str(exc)) from None


def conclude(run: RunResult, run_dir: Path, console: Console) -> int:
    """The verdict, the failed objectives and kcert's own errors, the report; the exit code."""
    lang, verdict = run.lang, run.verdict
    colour = {Verdict.GODKENDT: "green", Verdict.FEJL: "magenta"}.get(verdict, "red")
    console.print(f"[bold {colour}]{verdict_text(verdict, lang)}[/]", highlight=False)
    for case in run.cases:
        for step in case.steps:
            if step.outcome is Outcome.ERROR:
                console.print(say(lang, "reason", text=step.message), highlight=False, markup=False)
            for finding in step.findings:
                if finding.blocking or finding.is_problem:
                    console.print(
                        f"  [{finding.severity.value}] {finding.message}",
                        highlight=False,
                        markup=False,
                    )
    console.print(say(lang, "report", path=run_dir / "index.html"), highlight=False, markup=False)
    return verdict.exit_code


# -- the reference FLP service ------------------------------------------------------------------


def with_defects(target: Target, defects: Sequence[str]) -> ReferenceService | None:
    """The target's `reference:` (read with the target, `harness.load.targets`) with the
    command line's `--defect`s added; None when the target names a service of its own."""
    if target.reference is None:
        if defects:
            where = f"{target.path}: reference" if target.path else "reference"
            raise UsageProblem(f"{where}: --defect needs a target with reference: true")
        return None
    merged = tuple(dict.fromkeys([*target.reference.defects, *defects]))
    return dataclasses.replace(target.reference, defects=merged)


@contextlib.contextmanager
def _aimed(
    target: Target, reference: ReferenceService | None, console: Console, lang: str = "da"
) -> Iterator[Target]:
    """The target, or the reference FLP service started for the run and stopped after it."""
    if reference is None:
        yield target
        return
    running = _lane("service", "running_refflp")
    try:
        started = running(workers=reference.workers, defects=reference.defects)
        base_url = started.__enter__()
    except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
        raise UsageProblem(f"the reference FLP service did not start: {exc}") from None
    try:
        _seed(str(base_url), reference, console, lang)
        line = (
            say(
                lang,
                "reference_defects",
                url=base_url,
                workers=reference.workers,
                defects=", ".join(reference.defects),
            )
            if reference.defects
            else say(lang, "reference", url=base_url, workers=reference.workers)
        )
        console.print(line, highlight=False, markup=False)
        yield dataclasses.replace(
            target,
            base_url=str(base_url),
            version=target.version or "reference",
            name=target.name or "kcert-reference-flp",
        )
    finally:
        started.__exit__(None, None, None)


def _seed(base_url: str, reference: ReferenceService, console: Console, lang: str = "da") -> None:
    """Prefill the started reference service with synthetic plans (its admin seed route)."""
    if not reference.seed_clinics or not reference.seed_plans:
        return
    console.print(
        say(lang, "seeding", clinics=reference.seed_clinics, plans=reference.seed_plans),
        highlight=False,
        markup=False,
    )
    seed = _lane("service", "seed_refflp")
    try:
        seed(base_url, reference.seed_clinics, reference.seed_plans, timeout_s=SEED_TIMEOUT_S)
    except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
        raise UsageProblem(f"the reference FLP service could not be seeded: {exc}") from None


# -- the other lanes' modules, imported when used ----------------------------------------------


def _lane(module: str, name: str) -> Callable[..., Any]:
    return cast(
        Callable[..., Any], getattr(importlib.import_module(f"harness.load.{module}"), name)
    )


def _bad_input() -> tuple[type[Exception], ...]:
    """The errors that are the user's input, not kcert's fault: `kcert: error: …`, exit 2."""
    found: list[type[Exception]] = []
    for module, name in (
        ("profile", "ProfileError"),
        ("targets", "TargetError"),
        ("engine", "LoadError"),
    ):
        found.append(
            cast(type[Exception], getattr(importlib.import_module(f"harness.load.{module}"), name))
        )
    return tuple(found)


def duration(value: object) -> float | None:
    """`--run-time` as seconds: a number, or "90s", "5m", "1h"."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise UsageProblem(f"--run-time: {value!r} is not a duration like 60s, 5m or 1h")
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    if seconds <= 0:
        raise UsageProblem(f"--run-time: {value!r} must be more than 0")
    return seconds
