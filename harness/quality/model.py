"""The plain data of a data-quality run (MVP1-MC-03), shared by the engine and the reports.

The catalogue (`catalogue`) fills `Catalogue`; the engine (`engine`, on an embedded analytical
engine) evaluates it on clinic extracts into `CheckResult`s; `scores` adds the per-category and
per-clinic scores and the comparison across clinics; the reports (`report/`) and the command
read a `QualityRun`. Standard library only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Category(StrEnum):
    """Kahn's data-quality categories (as OHDSI's Data Quality Dashboard uses them)."""

    CONFORMANCE = "conformance"  # values follow the code systems, units and formats
    COMPLETENESS = "completeness"  # what must be there is there
    PLAUSIBILITY = "plausibility"  # values and dates that can be true


class Level(StrEnum):
    PATIENT = "patient"  # the denominator counts patients (or their records)
    CLINIC = "clinic"  # one verdict for the clinic (e.g. the patient register loaded)


class Status(StrEnum):
    PASSED = "passed"  # rate within the threshold
    FAILED = "failed"  # rate over the threshold
    NOT_APPLICABLE = "not_applicable"  # nothing to judge (denominator 0), with the reason
    ERROR = "error"  # kcert could not evaluate the check, with the reason


@dataclass(frozen=True)
class Distortion:
    """What a check's faults distort in the cockpit or the plan, Danish and English."""

    target: str  # a cockpit profile id (e.g. kol-inkluderet) or a plan field
    da: str
    en: str


@dataclass(frozen=True)
class CheckSpec:
    id: str
    category: Category
    level: Level
    title_da: str
    title_en: str
    explanation_da: str
    explanation_en: str
    threshold: float  # the tolerated failing fraction, 0..1 (a clinic check: 0)
    params: dict[str, object] = field(default_factory=dict)
    distorts: tuple[Distortion, ...] = ()
    line: int = 0  # its line in the catalogue file


@dataclass(frozen=True)
class Catalogue:
    id: str
    version: str
    checks: tuple[CheckSpec, ...]
    path: Path | None = None
    sha256: str = ""


@dataclass(frozen=True)
class FailingRecord:
    """One patient (or record) behind a failed check: only synthetic CPRs ever get here."""

    cpr: str  # "" for a clinic-level check
    resource_ids: tuple[str, ...] = ()
    detail: str = ""  # e.g. "R03AC02 since 2026-02-01 without R95" (English, data words)


@dataclass(frozen=True)
class CheckResult:
    check: CheckSpec
    clinic: str  # the clinic's SOR code
    numerator: int  # failing patients / records
    denominator: int  # patients / records the check applies to
    status: Status
    reason: str = ""  # why not applicable, or the error
    failing: tuple[FailingRecord, ...] = ()

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class ClinicScore:
    clinic: str  # SOR
    name: str
    source: str  # the extract's file or folder, as given
    vendor: str = ""
    cluster: str = ""
    patients: int = 0
    as_of: dt.date | None = None
    results: tuple[CheckResult, ...] = ()
    category_scores: dict[Category, float | None] = field(default_factory=dict)  # 0..100
    score: float | None = None  # 0..100: the share of applicable checks passed
    # records by age in whole years before as_of: ((label, count), …), for the histogram
    data_age: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Comparison:
    """One clinic's rate on one check against its cluster and the nation, with funnel limits
    (a binomial funnel around the national rate for the clinic's denominator), so a small clinic
    is not flagged by chance."""

    check_id: str
    clinic: str
    numerator: int
    denominator: int
    rate: float | None
    cluster_rate: float | None
    national_rate: float | None
    lower95: float | None
    upper95: float | None
    lower998: float | None
    upper998: float | None
    outlier: str = ""  # "", "above95", "above998", "below95", "below998"


@dataclass(frozen=True)
class QualityRun:
    catalogue: Catalogue
    clinics: tuple[ClinicScore, ...]
    comparisons: tuple[Comparison, ...] = ()
    as_of: dt.date | None = None
    engine: str = ""  # e.g. "duckdb 2.0.1"
    started: str = ""  # ISO 8601, seconds
    duration_s: float = 0.0
