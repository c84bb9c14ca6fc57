"""Read (and check) a population: a FHIR R4 transaction Bundle in kcert's documented format.

The strict reader: one pass of the shared parser (`parse.py`) collects every problem with its
JSON pointer, so `kcert population validate` can list them all; a data-quality fault (an
uncoded diagnosis, a missing general practitioner, …) is a problem here like any other, while
the lenient extract reader (`extract.py`) keeps it as a fact to score.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from harness.inputfile import InputFileError, read_limited
from harness.population.model import (
    ATC,
    Condition,
    Measurement,
    Medication,
    PatientRecord,
    Population,
    StartBack,
)
from harness.population.parse import (
    CONDITION_SYSTEMS,
    OBSERVATION_SYSTEMS,
    Parsed,
    Problem,
    parse_bundle,
    parse_date,
    unique_cprs,
)
from harness.safeparse import Limits, PayloadError, parse_json

POPULATION_LIMITS = Limits(max_bytes=2 * 1024**3, max_depth=64)
UNKNOWN_BIRTH = dt.date(1900, 1, 1)

__all__ = [
    "POPULATION_LIMITS",
    "PopulationError",
    "Problem",
    "check_unique_cprs",
    "load_population",
    "parse_date",
    "read_population",
    "validate_population",
]


class PopulationError(ValueError):
    """The population file breaks the documented format; the text lists the problems."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        shown = "\n".join(f"  {source}#{p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{source}: {len(problems)} problem(s) in the population\n{shown}{more}")
        self.problems = problems


def read_population(data: Any, source: str = "") -> tuple[Population, list[Problem]]:
    parsed = parse_bundle(data, source)
    return population_of(parsed), parsed.problems


def population_of(parsed: Parsed) -> Population:
    """The oracle's records from the parser's rows (what the strict format keeps of them)."""
    by_cpr: dict[str, PatientRecord] = {}
    records = []
    for fact in parsed.patients.values():
        record = PatientRecord(
            ref=fact.id,
            cpr=fact.cpr,
            given=fact.given,
            family=fact.family,
            birth=fact.birth or UNKNOWN_BIRTH,
            gender=fact.gender,
            active=fact.active,
            deceased=fact.deceased,
            deceased_date=fact.deceased_date,
            gp_sor=fact.gp_sor,
            insurance_group=fact.insurance_group,
        )
        records.append(record)
        by_cpr.setdefault(fact.cpr, record)
    for c in parsed.conditions:
        for system, code in c.codings:
            if system in CONDITION_SYSTEMS:
                by_cpr[c.cpr].conditions.append(Condition(system, code, c.status, c.recorded))
    for o in parsed.observations:
        if o.system in OBSERVATION_SYSTEMS and o.date is not None:
            by_cpr[o.cpr].measurements.setdefault((o.system, o.code), []).append(
                Measurement(o.date, o.number, o.value_text)
            )
    for m in parsed.medications:
        if m.system == ATC and m.start is not None:
            by_cpr[m.cpr].medications.append(Medication(m.code, m.status, m.start, m.end))
    for s in parsed.services:
        if s.date is not None:
            by_cpr[s.cpr].services.append((s.code, s.date))
    for e in parsed.encounters:
        if e.date is not None:
            by_cpr[e.cpr].encounters.append((frozenset(e.reasons), e.date))
    for q in parsed.startbacks:
        if q.date is not None:
            answers = tuple(a == "1" for a in q.answers) if q.complete else ()
            by_cpr[q.cpr].startbacks.append(StartBack(q.date, answers))
    own = parsed.own_clinic()
    return Population(
        own.sor if own else "",
        own.name if own else "",
        records,
        parsed.source,
        as_of=parsed.as_of,
        register_updated=own.register_updated if own else None,
    )


def check_unique_cprs(population: Population) -> list[Problem]:
    return unique_cprs((p.cpr, p.ref) for p in population.patients)


def validate_population(path: Path) -> tuple[Population, list[Problem]]:
    """Every problem of a population file (empty list = valid)."""
    try:
        data = parse_json(read_limited(path, POPULATION_LIMITS.max_bytes), POPULATION_LIMITS)
    except InputFileError as exc:
        return Population("", "", [], str(path)), [Problem("", f"{path}: {exc.reason}")]
    except PayloadError as exc:
        return Population("", "", [], str(path)), [Problem("", str(exc))]
    return read_population(data, str(path))


def load_population(path: Path) -> Population:
    """A valid population, or PopulationError listing what is wrong."""
    population, problems = validate_population(path)
    if problems:
        raise PopulationError(str(path), problems)
    return population
