"""Stand-ins for the dqcat lane's `harness.quality.catalogue.load_catalogue` and
`harness.quality.engine.score_all` (same signatures), so the reports and the command are tested
without the engine: four small checks over the reader's own facts, and a hand-built
`QualityRun` for the report tests."""

from __future__ import annotations

import datetime as dt
import math
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest

from harness.population.facts import BIRTHDATE_MISMATCH, LAB_LOCAL_CODE, MISSING_GP, Extract
from harness.quality.model import (
    Catalogue,
    Category,
    CheckResult,
    CheckSpec,
    ClinicScore,
    Comparison,
    Distortion,
    FailingRecord,
    Level,
    QualityRun,
    Status,
)

ROOT = Path(__file__).resolve().parents[2]
HAND_WRITTEN = ROOT / "fixtures" / "populations" / "quality-hand-written.json"

GP = CheckSpec(
    "patient-without-gp",
    Category.COMPLETENESS,
    Level.PATIENT,
    "Patienter uden almen praktiserende læge",
    "Patients without a general practitioner",
    "Patienten har ingen relation til en almen praksis.",
    "The patient has no general-practitioner relation.",
    0.0,
    distorts=(
        Distortion(
            "kol-inkluderet",
            "patienten mangler i kol-inkluderet",
            "the patient is missing from kol-inkluderet",
        ),
    ),
    line=10,
)
BIRTH = CheckSpec(
    "birthdate-not-cpr",
    Category.PLAUSIBILITY,
    Level.PATIENT,
    "Fødselsdato passer ikke til CPR-nummeret",
    "Birth date does not match the CPR number",
    "birthDate er ikke den dato CPR-nummeret angiver.",
    "birthDate is not the date the CPR number encodes.",
    0.5,
    line=20,
)
LAB = CheckSpec(
    "lab-local-code",
    Category.CONFORMANCE,
    Level.PATIENT,
    "Laboratoriesvar med lokale koder",
    "Lab results under local codes",
    "Svaret har ingen NPU/DNK-kode.",
    "The result has no NPU/DNK code.",
    0.01,
    line=30,
)
NEVER = CheckSpec(
    "startback-missing",
    Category.COMPLETENESS,
    Level.PATIENT,
    "Lænderygpatienter uden STarT Back",
    "Low-back-pain patients without STarT Back",
    "Ingen STarT Back-besvarelse.",
    "No STarT Back answer.",
    0.1,
    line=40,
)
REGISTER = CheckSpec(
    "register-stale",
    Category.PLAUSIBILITY,
    Level.CLINIC,
    "Patientfortegnelsen er ikke indlæst for nylig",
    "The patient register is not loaded recently",
    "Registeret er ældre end 90 dage.",
    "The register is older than 90 days.",
    0.0,
    params={"days": 90},
    line=50,
)
CATALOGUE = Catalogue(
    "standin", "0.1", (GP, BIRTH, LAB, NEVER, REGISTER), Path("standin.yaml"), "ab" * 32
)


def load_catalogue(path: Path | None = None) -> Catalogue:
    if path is not None and not path.is_file():
        raise ValueError(f"{path}:1: catalogue: no such file")
    return CATALOGUE


def _result(spec: CheckSpec, sor: str, failing: list[FailingRecord], den: int) -> CheckResult:
    if den == 0:
        return CheckResult(spec, sor, 0, 0, Status.NOT_APPLICABLE, "nobody to judge")
    status = Status.FAILED if len(failing) / den > spec.threshold else Status.PASSED
    return CheckResult(spec, sor, len(failing), den, status, failing=tuple(failing))


def evaluate(
    extract: Extract, as_of: dt.date, source: str, vendor: str, cluster: str
) -> ClinicScore:
    sor = extract.clinic_sor
    n = len(extract.patients)
    gp = [
        FailingRecord(p.cpr, (p.id,), "no GP") for p in extract.patients if MISSING_GP in p.faults
    ]
    birth = [
        FailingRecord(p.cpr, (p.id,), f"birthDate {p.birth}")
        for p in extract.patients
        if BIRTHDATE_MISMATCH in p.faults
    ]
    lab = [
        FailingRecord(o.cpr, (o.id,), f"{o.system}|{o.code}")
        for o in extract.observations
        if LAB_LOCAL_CODE in o.faults
    ]
    stale = extract.register_updated is None or (as_of - extract.register_updated).days > 90
    results = (
        _result(GP, sor, gp, n),
        _result(BIRTH, sor, birth, n),
        _result(LAB, sor, lab, len(extract.observations)),
        _result(NEVER, sor, [], 0),
        _result(REGISTER, sor, [FailingRecord("", (), "register stale")] if stale else [], 1),
    )
    ages: dict[int, int] = {}
    for o in extract.observations:
        if o.date is not None:
            years = max(0, (as_of - o.date).days // 365)
            ages[min(years, 5)] = ages.get(min(years, 5), 0) + 1
    categories: dict[Category, float | None] = {}
    for cat in Category:
        judged = [r for r in results if r.check.category is cat and r.rate is not None]
        passed = sum(1 for r in judged if r.status is Status.PASSED)
        categories[cat] = 100 * passed / len(judged) if judged else None
    judged = [r for r in results if r.status in (Status.PASSED, Status.FAILED)]
    return ClinicScore(
        sor,
        extract.clinic_name,
        source,
        vendor,
        cluster,
        n,
        as_of,
        results,
        categories,
        100 * sum(1 for r in judged if r.status is Status.PASSED) / len(judged),
        tuple((f"{y}" if y < 5 else "5+", ages.get(y, 0)) for y in range(6)),
    )


def compare(clinics: Sequence[ClinicScore]) -> tuple[Comparison, ...]:
    out = []
    for spec in CATALOGUE.checks:
        rows = [r for c in clinics for r in c.results if r.check.id == spec.id and r.denominator]
        num, den = sum(r.numerator for r in rows), sum(r.denominator for r in rows)
        if not den:
            continue
        p = num / den
        for c in clinics:
            for r in c.results:
                if r.check.id != spec.id or not r.denominator:
                    continue
                half95 = 1.96 * math.sqrt(p * (1 - p) / r.denominator)
                half998 = 3.09 * math.sqrt(p * (1 - p) / r.denominator)
                rate = r.numerator / r.denominator
                outlier = (
                    "above998" if rate > p + half998 else "above95" if rate > p + half95 else ""
                )
                out.append(
                    Comparison(
                        spec.id,
                        c.clinic,
                        r.numerator,
                        r.denominator,
                        rate,
                        p,
                        p,
                        max(0, p - half95),
                        min(1, p + half95),
                        max(0, p - half998),
                        min(1, p + half998),
                        outlier,
                    )
                )
    return tuple(out)


def score_all(
    inputs: Iterable[tuple[Extract, str, str, str]],
    catalogue: Catalogue,
    *,
    as_of: dt.date | None,
    progress: Callable[[int, int], None] | None = None,
    total: int | None = None,
) -> QualityRun:
    clinics = []
    for done, (extract, source, vendor, cluster) in enumerate(inputs, start=1):
        day = as_of or extract.as_of
        if day is None:
            raise ValueError(f"{source}: no as-of day")
        clinics.append(evaluate(extract, day, source, vendor, cluster))
        if progress is not None:
            progress(done, total or done)
    return QualityRun(
        catalogue,
        tuple(clinics),
        compare(clinics),
        as_of,
        "standin 0",
        "2027-03-01T10:00:00+00:00",
        0.5,
    )


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-ins as harness.quality.catalogue and harness.quality.engine."""
    catalogue = types.ModuleType("harness.quality.catalogue")
    catalogue.load_catalogue = load_catalogue  # type: ignore[attr-defined]
    engine = types.ModuleType("harness.quality.engine")
    engine.score_all = score_all  # type: ignore[attr-defined]
    engine.ENGINE = "standin 0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "harness.quality.catalogue", catalogue)
    monkeypatch.setitem(sys.modules, "harness.quality.engine", engine)


def hand_built_run() -> QualityRun:
    """Two clinics scored by the stand-in from the hand-written extract (one relabelled)."""
    from harness.population.extract import read_extract

    extract = read_extract(HAND_WRITTEN)
    other = Extract(
        "other.json",
        "999971000016005",
        "Klinik <Nord> & Co",  # markup in a name: the pages must escape it
        extract.as_of,
        extract.as_of,
        [p for p in extract.patients if MISSING_GP not in p.faults],
        observations=extract.observations[:5],
    )
    return score_all(
        [
            (extract, str(HAND_WRITTEN), "vendorA", "north"),
            (other, "other.json", "vendorB", "north"),
        ],
        CATALOGUE,
        as_of=dt.date(2027, 3, 1),
    )
