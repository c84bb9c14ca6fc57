"""Runs one load test: the preflight, the plan, and Locust as child processes, bounded.

kcert's own process never imports Locust (it patches the standard library with gevent): it
writes the plan (`harness.load.plan`) and starts `python -m locust -f
harness/load/swarm/locustfile.py --headless --csv …` — one local process, or a master and N
workers on this machine (plus any `kcert load worker` joining from elsewhere) — each in its own
process group, their output kept in out_dir. While Locust runs it samples the generator's CPU
(psutil), prints progress from Locust's growing CSV, and enforces a hard wall-clock limit (run
time + start grace + stop grace: then everything is killed and the result says so). Ctrl-C or
SIGTERM sends SIGTERM to master and workers, waits a bounded time, then SIGKILLs, and returns
`Stopped.SIGNAL` with the CSVs Locust wrote so far.

Bounds: the profile's `Bounds` are refused, not clipped, when the command line asks for more
(users, run time) or the shape's target rate exceeds them (`BoundsError`); only the user count
derived from the rate (rate × (think time + latency)) is clipped to max_users, with a note.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import psutil  # type: ignore[import-untyped]

import harness
from harness.load.model import (
    CpuSample,
    LoadProfile,
    LoadResult,
    RateTable,
    Stopped,
    Target,
)
from harness.load.plan import PLAN_ENV, SHAPE_FOR, LoadPlan, PlanError, Stage
from harness.load.preflight import run_preflight
from harness.load.targets import refusal
from harness.load.words import say as words

LOCUSTFILE = Path(__file__).resolve().parent / "swarm" / "locustfile.py"
DEFAULT_RUN_TIME_S = 60.0
EXPECTED_LATENCY_S = 0.05  # added to the think time when deriving users from a rate
START_GRACE_S = 30.0  # Locust's start-up (and the workers' connecting) before load begins
WORKERS_MAX_WAIT_S = 60.0  # the master gives up waiting for the expected workers
STOP_TIMEOUT_S = 5.0  # Locust's --stop-timeout: users finish their request
STOP_GRACE_S = 15.0  # after SIGTERM, before SIGKILL
PROGRESS_EVERY_S = 5.0
CPU_EVERY_S = 1.0
POLL_S = 0.2
MAX_LOCAL_WORKERS = 64  # Locust worker processes started on this machine
MAX_CLINICS = 1700  # the national figure (about 1,700 clinics) as the ceiling of made-up ones
_CONNECTED = re.compile(r"(\d+) workers connected")
_STARTING = re.compile(r"Shape test updating to [1-9]|Ramping to [1-9]")


class LoadError(Exception):
    """kcert's own fault or an unusable setup (Locust missing, no port, out_dir unwritable)."""


class BoundsError(LoadError, ValueError):
    """The run asks for more than the profile's bounds allow: refused, not clipped."""


@dataclass
class Built:
    plan: LoadPlan
    notes: list[str] = field(default_factory=list)


def _users_for(rate: float, think: tuple[float, float]) -> int:
    needed = rate * ((think[0] + think[1]) / 2 + EXPECTED_LATENCY_S)
    return max(1, math.ceil(needed - 1e-9))  # 7.000000001 users are 7


def build_plan(
    profile: LoadProfile,
    rates: RateTable,
    target: Target,
    *,
    shape: str,
    users: int | None = None,
    run_time_s: float | None = None,
    seed: int = 0,
    lang: str = "da",
) -> Built:
    """The plan Locust runs; BoundsError when the request exceeds the profile's bounds.
    The notes are console lines in `lang`."""
    if shape not in SHAPE_FOR:
        raise LoadError(f"shape {shape!r} is not one of {', '.join(SHAPE_FOR)}")
    bounds = profile.bounds
    notes: list[str] = []
    if run_time_s is None:
        run_time_s = (
            bounds.max_run_time_s
            if shape == "soak"
            else min(DEFAULT_RUN_TIME_S, bounds.max_run_time_s)
        )
    if not run_time_s > 0:
        raise BoundsError(f"run time {run_time_s} s: must be more than 0")
    if run_time_s > bounds.max_run_time_s:
        raise BoundsError(
            f"run time {run_time_s:g} s exceeds the profile's bound max_run_time_s "
            f"{bounds.max_run_time_s:g} s; refused"
        )
    if users is not None and not 1 <= users <= bounds.max_users:
        raise BoundsError(
            f"{users} users: outside 1..{bounds.max_users} (the profile's bound max_users); refused"
        )
    base, top = rates.total("normal"), rates.total(shape)
    if top <= 0:
        raise LoadError(f"the {shape} shape's target rate is 0: nothing to offer")
    if top > bounds.max_rate_per_s:
        raise BoundsError(
            f"the {shape} shape's target rate {top:.3g}/s exceeds the profile's bound "
            f"max_rate_per_s {bounds.max_rate_per_s:g}/s; refused"
        )
    t = run_time_s
    levels: list[tuple[float, float]]  # (until_s, rate)
    kind = SHAPE_FOR[shape]
    if kind == "ramp":
        levels = [(0.15 * t, base), (0.3 * t, (base + top) / 2), (t, top)]
    elif kind == "spike":
        levels = [(0.3 * t, base), (0.6 * t, top), (t, base)]
    else:
        levels = [(t, top)]
    think = profile.think_time_s
    stages: list[Stage] = []
    for until, rate in levels:
        if users is not None:
            count = max(1, round(users * rate / top))
        else:
            count = _users_for(rate, think)
            if count > bounds.max_users:
                notes.append(
                    words(
                        lang,
                        "clipped",
                        count=count,
                        rate=rate,
                        low=think[0],
                        high=think[1],
                        bound=bounds.max_users,
                    )
                )
                count = bounds.max_users
        stages.append(Stage(until_s=until, users=count, rate_per_s=rate))
    peak_users = max(s.users for s in stages)
    spawn = max(1.0, peak_users / max(1.0, min(10.0, 0.1 * t)))
    clinics_figure = profile.figures.get("clinics")
    clinics = int(clinics_figure.value) if clinics_figure else MAX_CLINICS
    plan = LoadPlan(
        base_url=target.base_url,
        weights={op: w for op, w in rates.weights(shape).items() if op in profile.operations},
        rate_per_s=top,
        think_time_s=think,
        users=peak_users,
        spawn_rate=spawn,
        shape=kind,
        stages=tuple(stages),
        run_time_s=t,
        seed=seed,
        max_users=bounds.max_users,
        max_rate_per_s=bounds.max_rate_per_s,
        max_run_time_s=bounds.max_run_time_s,
        headers=dict(target.headers),
        clinics=max(1, min(clinics, peak_users, MAX_CLINICS)),
        expected_latency_s=EXPECTED_LATENCY_S,
    )
    try:  # the same validation Locust's side applies, before anything starts
        LoadPlan.from_json(plan.to_json())
    except PlanError as exc:
        raise LoadError(f"kcert built an invalid plan: {exc}") from None
    return Built(plan, notes)


def clear_outputs(out_dir: Path) -> None:
    """Remove what an earlier run left in out_dir, so no old row is read as this run's."""
    for old in [*out_dir.glob("locust_*.csv"), *out_dir.glob("locust*.log")]:
        with contextlib.suppress(OSError):
            old.unlink()
    for name in ("locust.html", "plan.json"):
        with contextlib.suppress(OSError):
            (out_dir / name).unlink()


def hard_limit_s(run_time_s: float, distributed: bool) -> float:
    """The wall-clock limit after which every Locust process is killed."""
    wait_s = WORKERS_MAX_WAIT_S if distributed else 0.0
    return START_GRACE_S + wait_s + run_time_s + STOP_TIMEOUT_S + STOP_GRACE_S


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def child_env(plan_path: Path | None) -> dict[str, str]:
    """The environment of a Locust child: the plan file (None: none) and kcert importable."""
    env = dict(os.environ)
    env.pop(PLAN_ENV, None)
    if plan_path is not None:
        env[PLAN_ENV] = str(plan_path)
    # Locust imports the locustfile by path; kcert's package must be importable beside it.
    root = str(Path(harness.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Child:
    name: str  # "master", "worker-1", …
    proc: subprocess.Popen[bytes]
    log: Path | None
    stream: IO[bytes] | None
    ps: Any = None  # psutil.Process, for CPU samples

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


def start_child(name: str, argv: list[str], env: dict[str, str], log: Path | None) -> Child:
    """Start one Locust process in its own process group; its output to `log` (None: ours)."""
    try:
        stream = log.open("wb") if log is not None else None
    except OSError as exc:
        raise LoadError(f"cannot write {log}: {exc.strerror}") from None
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT if stream is not None else None,
            env=env,
            start_new_session=True,  # its own process group: Ctrl-C reaches kcert, which decides
        )
    except OSError as exc:
        if stream is not None:
            stream.close()
        raise LoadError(f"cannot start {argv[0]}: {exc.strerror}") from None
    child = Child(name, proc, log, stream)
    with contextlib.suppress(psutil.Error):
        child.ps = psutil.Process(proc.pid)
        child.ps.cpu_percent(None)  # primes the counter; the next call measures from here
    return child


def stop_children(children: list[Child], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to every process group, wait at most `grace_s`, then SIGKILL what is left."""
    for child in children:
        if child.alive():
            child.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(c.alive() for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in children:
        if child.alive():
            child.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=5)
        child.signal(signal.SIGKILL)  # anything the child left in its group
        if child.stream is not None:
            child.stream.close()


@contextlib.contextmanager
def caught_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set the event instead of ending kcert (main thread only)."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while kcert itself was waiting on the target (the preflight)."""


@contextlib.contextmanager
def interrupting_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted, ending a blocking request at once (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _tail(path: Path, size: int = 8192) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def workers_seen(log: Path) -> int:
    """The most workers the master said were connected."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    return max((int(n) for n in _CONNECTED.findall(text)), default=0)


def load_began_in(log: Path) -> bool:
    """Whether the master's (or local process's) log says users are being started: Locust's
    own lines, flushed per record (its CSV history is flushed only every few seconds)."""
    return _STARTING.search(_tail(log, 16384)) is not None


class Progress:
    """Progress lines from the end of Locust's growing stats history (flushed by Locust every
    few seconds): time into the load, users, the current request rate, requests and failures
    so far, and the busiest generator process's CPU over the last samples (an overloaded
    generator is the run's error, so the tester sees it coming), in `lang`."""

    def __init__(self, prefix: Path, run_time_s: float, lang: str = "da") -> None:
        self.history = Path(f"{prefix}_stats_history.csv")
        self.run_time_s = run_time_s
        self.lang = lang
        self.first_at: float | None = None

    def line(self, cpu: Sequence[CpuSample] = ()) -> str:
        head = ""
        with contextlib.suppress(OSError), self.history.open(encoding="utf-8") as handle:
            head = handle.readline()
            first = handle.readline()
        lines = [line for line in _tail(self.history).splitlines() if ",Aggregated," in line]
        if not head or not lines:
            return words(self.lang, "load_starting", total=self.run_time_s)
        row = next(csv.DictReader(io.StringIO(head + lines[-1] + "\n")))
        if self.first_at is None:
            start = next(csv.DictReader(io.StringIO(head + first)), {})
            self.first_at = float(start.get("Timestamp") or row["Timestamp"])
        at = float(row["Timestamp"])
        total = int(float(row.get("Total Request Count") or 0))
        failed = int(float(row.get("Total Failure Count") or 0))
        rate = float(row.get("Requests/s") or 0)  # Locust's own moving window
        share = 100 * failed / total if total else 0.0
        text = words(
            self.lang,
            "load_line",
            at=at - self.first_at,
            total=self.run_time_s,
            users=row.get("User Count", "?"),
            rate=rate,
            requests=total,
            failures=failed,
            share=share,
        )
        hottest = busiest(cpu)
        if hottest is not None:
            text += words(self.lang, "load_cpu", percent=hottest.percent, process=hottest.process)
        return text


def busiest(cpu: Sequence[CpuSample], window_s: float = PROGRESS_EVERY_S) -> CpuSample | None:
    """The highest CPU sample of the last `window_s` seconds of samples (None: no samples)."""
    if not cpu:
        return None
    last = cpu[-1].at_s
    return max((s for s in cpu if s.at_s >= last - window_s), key=lambda s: s.percent)


def run_load(
    profile: LoadProfile,
    rates: RateTable,
    target: Target,
    *,
    shape: str,
    out_dir: Path,
    users: int | None = None,
    run_time_s: float | None = None,
    workers: int = 0,
    expect_workers: int | None = None,
    master_bind: str = "127.0.0.1",
    master_port: int = 0,
    seed: int = 0,
    preflight: bool = True,
    progress: Callable[[str], None] | None = None,
    lang: str = "da",
) -> LoadResult:
    """One load run (see the module's docstring); every console line through `progress`, in
    `lang` (Danish unless "en")."""
    say = progress or (lambda line: None)
    why = refusal(target.base_url, target.allowed_hosts)
    if why:  # the target file was checked; a Target built in code is checked here again
        raise LoadError(f"target {target.name}: {why}")
    if workers < 0 or (expect_workers is not None and expect_workers < 0):
        raise LoadError("the number of workers cannot be negative")
    if workers > MAX_LOCAL_WORKERS:
        raise BoundsError(
            f"{workers} local workers: at most {MAX_LOCAL_WORKERS} on one machine (one per core "
            "is enough; add machines with kcert load worker); refused"
        )
    built = build_plan(
        profile,
        rates,
        target,
        shape=shape,
        users=users,
        run_time_s=run_time_s,
        seed=seed,
        lang=lang,
    )
    plan = built.plan
    for note in built.notes:
        say(words(lang, "note", text=note))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LoadError(f"cannot create {out_dir}: {exc.strerror}") from None
    prefix = out_dir / "locust"
    master_log = out_dir / "locust-master.log"
    expect = expect_workers if expect_workers is not None else workers
    distributed = expect > 0 or workers > 0
    result_base: dict[str, Any] = {
        "profile": profile,
        "target": target,
        "shape": shape,
        "users": plan.users,
        "workers": expect if distributed else 0,
        "run_time_s": plan.run_time_s,
        "csv_prefix": prefix,
        "log": master_log,
    }
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    checks: tuple[Any, ...] = ()
    if preflight:
        say(words(lang, "preflight", url=target.base_url))
        try:
            with interrupting_signals():
                checks = tuple(run_preflight(target, seed))
        except Interrupted:
            return LoadResult(
                **result_base,
                started=started,
                duration_s=0.0,
                stopped=Stopped.SIGNAL,
                error="interrupted during the preflight: no load",
            )
        failed = [c for c in checks if not c.ok]
        for check in checks:
            if check.ok:
                say(words(lang, "preflight_ok", operation=check.operation))
            else:
                say(
                    words(
                        lang, "preflight_failed", operation=check.operation, message=check.message
                    )
                )
        if failed:
            return LoadResult(
                **result_base,
                started=started,
                duration_s=0.0,
                stopped=Stopped.ERROR,
                preflight=checks,
                error=f"preflight failed for {len(failed)} of {len(checks)} operations: no load",
            )
    plan_path = out_dir / "plan.json"
    clear_outputs(out_dir)
    try:
        plan_path.write_text(plan.to_json(), encoding="utf-8")
    except OSError as exc:
        raise LoadError(f"cannot write {plan_path}: {exc.strerror}") from None
    env = child_env(plan_path)
    common = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", plan.base_url]
    main_argv = [
        *common,
        "--headless",
        "--only-summary",
        "--csv", str(prefix),
        "--csv-full-history",
        "--html", str(out_dir / "locust.html"),
        "--run-time", f"{math.ceil(plan.run_time_s)}s",
        "--stop-timeout", f"{STOP_TIMEOUT_S:g}",
        "--users", str(plan.users),
        "--spawn-rate", f"{plan.spawn_rate:g}",
    ]  # fmt: skip
    port = master_port
    if distributed:
        port = port or free_port(master_bind)
        main_argv += [
            "--master",
            "--expect-workers", str(expect),
            "--expect-workers-max-wait", f"{WORKERS_MAX_WAIT_S:g}",
            "--master-bind-host", master_bind,
            "--master-bind-port", str(port),
        ]  # fmt: skip
        say(words(lang, "master", bind=master_bind, port=port, n=expect))
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    t0 = time.monotonic()
    children: list[Child] = []
    stopped, error = Stopped.TIME, ""
    cpu: list[CpuSample] = []
    try:
        with caught_signals() as interrupted:
            children.append(start_child("master", main_argv, env, master_log))
            connect_to = "127.0.0.1" if master_bind in ("0.0.0.0", "*", "") else master_bind
            for index in range(1, workers + 1):
                worker_argv = [
                    *common, "--worker", "--master-host", connect_to, "--master-port", str(port)
                ]  # fmt: skip
                log = out_dir / f"locust-worker-{index}.log"
                children.append(start_child(f"worker-{index}", worker_argv, env, log))
            hard_s = hard_limit_s(plan.run_time_s, distributed)
            master = children[0]
            next_cpu = next_progress = t0
            progress_lines = Progress(prefix, plan.run_time_s, lang)
            load_began: float | None = None
            while master.alive():
                now = time.monotonic()
                if interrupted.is_set():
                    say(words(lang, "interrupted"))
                    stopped = Stopped.SIGNAL
                    break
                if now - t0 > hard_s:
                    stopped = Stopped.ERROR
                    error = (
                        f"Locust did not end within the hard limit of {hard_s:.0f} s "
                        "(run time + start and stop grace); its processes were killed"
                    )
                    break
                if load_began is None and load_began_in(master_log):
                    # Locust's start-up (imports, connecting) is not the load: sample from here
                    load_began = now
                    for child in children:
                        with contextlib.suppress(psutil.Error, AttributeError):
                            child.ps.cpu_percent(None)
                    next_cpu = now + CPU_EVERY_S
                if load_began is not None and now >= next_cpu:
                    next_cpu = now + CPU_EVERY_S
                    for child in children:
                        if child.ps is not None and child.alive():
                            with contextlib.suppress(psutil.Error):
                                percent = child.ps.cpu_percent(None)
                                at = round(now - load_began, 2)
                                cpu.append(CpuSample(at, child.name, percent))
                if now >= next_progress:
                    next_progress = now + PROGRESS_EVERY_S
                    if now > t0:
                        say(progress_lines.line(cpu))
                time.sleep(POLL_S)
            if stopped is Stopped.TIME:
                code = master.proc.wait(timeout=5) if not master.alive() else None
                tail = _tail(master_log, 4096)
                if "Gave up waiting for workers" in tail:
                    stopped = Stopped.ERROR
                    error = f"the master gave up waiting for {expect} worker(s) to connect"
                elif code not in (0, 1):  # 1: the run had failed requests, still a run
                    stopped = Stopped.ERROR
                    last = " | ".join(tail.strip().splitlines()[-5:])
                    error = f"Locust ended with exit code {code}: {last}"
    finally:
        if children:
            stop_children(children)
    duration = time.monotonic() - t0
    if stopped is Stopped.TIME and not Path(f"{prefix}_stats.csv").is_file():
        stopped, error = Stopped.ERROR, f"Locust wrote no statistics ({prefix}_stats.csv)"
    how = words(lang, f"stopped_{stopped.value}")
    if error:
        say(words(lang, "ended_error", how=how, seconds=duration, error=error))
    else:
        say(words(lang, "ended", how=how, seconds=duration))
    return LoadResult(
        **result_base,
        started=started,
        duration_s=round(duration, 2),
        stopped=stopped,
        preflight=checks,
        cpu=tuple(cpu),
        workers_seen=workers_seen(master_log) if distributed else 0,
        error=error,
    )
