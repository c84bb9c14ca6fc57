"""The plain data every part of a load run shares (MVP1-FLP-06).

The workload model (`profile`, `rates`) fills `LoadProfile` and `RateTable`; the Locust side
(`engine`, run in Locust's own processes) reads them and leaves a `LoadResult`; the verdict side
(`slo`, `plots`, `runrecord`) turns a `LoadResult` into findings, pictures and a kcert run. This
module imports nothing but the standard library, so each side can be read without the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

# The FLP operations a profile weights; the reference FLP service and the Locust users both
# use these ids (the service's routes are in harness/contract/flp-api.yaml).
PLAN_CREATE = "plan-create"  # a clinic creates a care plan (forløbsplan)
PLAN_UPDATE = "plan-update"  # a clinic updates one of its plans
PLAN_READ_MINLAEGE = "plan-read-minlaege"  # a patient reads their plan in Min Læge
PLAN_READ_SUNDHED = "plan-read-sundhed"  # a patient reads it in Sundhedsjournalen (sundhed.dk)
COCKPIT_LIST = "cockpit-list"  # a clinic's cockpit list query (package patients by profile)
PLAN_SHARE = "plan-share"  # a plan shared nationally as DK-CPD
OPERATIONS: tuple[str, ...] = (
    PLAN_CREATE,
    PLAN_UPDATE,
    PLAN_READ_MINLAEGE,
    PLAN_READ_SUNDHED,
    COCKPIT_LIST,
    PLAN_SHARE,
)

SHAPES: tuple[str, ...] = ("normal", "peak", "stress", "soak")


class Source(StrEnum):
    """Where a figure of the workload model comes from (like the rule pack's provenance)."""

    PUBLISHED = "published"  # a published national figure (DOMAIN.md [V])
    ASSUMPTION = "assumption"  # kcert's own assumption, to be replaced by operational figures


@dataclass(frozen=True)
class Figure:
    """One named input of the workload model."""

    name: str
    value: float
    unit: str
    source: Source
    note: str = ""  # where it was published, or why kcert assumes it
    line: int = 0  # its line in the profile file


@dataclass(frozen=True)
class Slo:
    """A service-level objective for one operation; None: not judged."""

    operation: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_rate: float | None = None  # failures / requests, 0..1
    min_rate_share: float | None = None  # achieved rate / the model's target rate, 0..1
    line: int = 0


@dataclass(frozen=True)
class Bounds:
    """What no run of this profile may exceed, whatever the command line asks."""

    max_users: int
    max_rate_per_s: float
    max_run_time_s: float


@dataclass(frozen=True)
class LoadProfile:
    id: str
    version: str
    title_da: str
    title_en: str
    figures: dict[str, Figure]
    operations: tuple[str, ...]  # the operations this profile loads (ids from OPERATIONS)
    slos: dict[str, Slo]  # by operation id
    think_time_s: tuple[float, float]  # a virtual user's pause between requests: min, max
    bounds: Bounds
    stress_factor: float  # the ×N of the stress shape
    path: Path | None = None
    sha256: str = ""  # of the profile file, so a run names the exact model it loaded


@dataclass(frozen=True)
class OperationRate:
    """One operation's derived request rates (requests per second, nationally)."""

    operation: str
    normal_per_s: float
    peak_per_s: float
    stress_per_s: float
    arithmetic: tuple[str, ...]  # the derivation, one human-readable line per step

    def for_shape(self, shape: str) -> float:
        """The target rate of `shape` (soak holds the normal rate for long)."""
        return {"normal": self.normal_per_s, "peak": self.peak_per_s}.get(
            shape, self.stress_per_s if shape == "stress" else self.normal_per_s
        )


@dataclass(frozen=True)
class RateTable:
    profile_id: str
    profile_version: str
    stress_factor: float
    rates: tuple[OperationRate, ...]

    def total(self, shape: str) -> float:
        return sum(rate.for_shape(shape) for rate in self.rates)

    def weights(self, shape: str) -> dict[str, float]:
        """Each operation's share of the shape's requests (the Locust task weights)."""
        total = self.total(shape)
        return {
            rate.operation: (rate.for_shape(shape) / total if total else 0.0) for rate in self.rates
        }


@dataclass(frozen=True)
class ReferenceService:
    """A target's `reference:`: start kcert's reference FLP service for the run, aim at it.

    The service starts empty; its cockpit lists and indexes need rows, or a missing index
    costs nothing: 300 clinics × 170 plans (51,000) fill the cockpit pages the virtual users'
    clinics query and take a few seconds to insert (the national figures give ~390 plans per
    clinic in view)."""

    workers: int = 2
    defects: tuple[str, ...] = ()
    seed_clinics: int = 300
    seed_plans: int = 170  # per clinic; 0 clinics or plans: nothing seeded


@dataclass(frozen=True)
class Target:
    """The FLP service a load run aims at (from the target configuration file)."""

    name: str
    base_url: str
    version: str = ""
    allowed_hosts: tuple[str, ...] = ()  # non-loopback hosts the configuration lists explicitly
    headers: dict[str, str] = field(default_factory=dict)  # never written to a report
    path: Path | None = None
    reference: ReferenceService | None = None  # base_url is then a placeholder


@dataclass(frozen=True)
class PreflightCheck:
    """One operation sent once before load starts, its answer validated."""

    operation: str
    ok: bool
    method: str
    url: str
    status: int | None  # None: no answer (unreachable, timed out)
    message: str  # what was wrong, quoting the service, or "" when ok
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class CpuSample:
    """A generator process's CPU use at one moment (master or a worker)."""

    at_s: float  # seconds since the load started
    process: str  # "master", "worker-1", …
    percent: float  # of one core


class Stopped(StrEnum):
    TIME = "time"  # the run time (or the shape) ended it, as planned
    SIGNAL = "signal"  # Ctrl-C or SIGTERM: a partial run
    ERROR = "error"  # kcert or Locust failed: the reason is in LoadResult.error


@dataclass(frozen=True)
class LoadResult:
    """What a load run left: Locust's CSV files and the generator's own health."""

    profile: LoadProfile
    target: Target
    shape: str
    users: int
    workers: int  # 0: Locust ran in one local process
    run_time_s: float  # as planned
    started: str  # ISO 8601, seconds
    duration_s: float  # as it happened
    csv_prefix: Path  # Locust's --csv prefix: <prefix>_stats.csv, _stats_history.csv, …
    stopped: Stopped
    preflight: tuple[PreflightCheck, ...] = ()
    cpu: tuple[CpuSample, ...] = ()
    workers_seen: int = 0  # how many workers reported to the master
    error: str = ""
    log: Path | None = None  # Locust's own log (master and workers)
