"""The oracle's verdicts for a test case's population, shared by the cockpit and the care-plan
checks and the actions that build on them (one rule pack per process, answers cached per
population and date)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from harness.oracle.engine import OracleResult, evaluate
from harness.oracle.rulepack import RulePack, load_rulepack
from harness.population.model import Population

_RULEPACK: list[RulePack] = []
# Cases share populations (one per run and seed), so the oracle's answers are shared too.
_ORACLE_CACHE: dict[tuple[int, str], OracleResult] = {}


def rulepack() -> RulePack:
    if not _RULEPACK:
        _RULEPACK.append(load_rulepack())
    return _RULEPACK[0]


class NoPopulation(RuntimeError):
    """A cockpit check ran before any population was loaded in this test case."""


def oracle_at(state: dict[str, Any], as_of: str) -> OracleResult:
    """The oracle's verdicts for the case's population at a date (cached per date)."""
    population: Population | None = state.get("population")
    if population is None:
        raise NoPopulation("no population was loaded before this step (load-population)")
    key = (id(population), as_of)
    if key not in _ORACLE_CACHE or _ORACLE_CACHE[key].population is not population:
        if len(_ORACLE_CACHE) >= 16:
            _ORACLE_CACHE.pop(next(iter(_ORACLE_CACHE)))
        _ORACLE_CACHE[key] = evaluate(rulepack(), population, dt.date.fromisoformat(as_of))
    return _ORACLE_CACHE[key]
