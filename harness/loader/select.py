"""Choose test cases by id or requirement (`kcert certify --case … --requirement …`).

Each value is an exact id or a shell-style pattern (`CC-R-*`, `MVP?-KC-0[1-4]`), compared
without regard to case; comma-separated values count as several. Values of one option add
up; the two options narrow each other (a case matching some --case and covering some
--requirement). An exact id that names nothing, or a pattern that matches nothing, is an
error naming it, so a typo never silently shrinks a certification.
"""

from __future__ import annotations

import dataclasses
import difflib
from fnmatch import fnmatchcase

from harness.model.protocol import Protocol, TestCase

WILDCARDS = frozenset("*?[")
MAX_VALUES = 200


class SelectionError(ValueError):
    """A --case or --requirement value names nothing; the text says which and what exists."""


def split_values(values: list[str]) -> list[str]:
    found = [v.strip() for value in values for v in value.split(",") if v.strip()]
    if len(found) > MAX_VALUES:
        raise SelectionError(f"at most {MAX_VALUES} --case/--requirement values")
    return found


def _matches(pattern: str, text: str) -> bool:
    return fnmatchcase(text.casefold(), pattern.casefold())


def _check_known(values: list[str], known: list[str], what: str) -> None:
    for value in values:
        if any(_matches(value, k) for k in known):
            continue
        if WILDCARDS & set(value):
            raise SelectionError(f"--{what} {value}: the pattern matches no {what} in the suite")
        close = difflib.get_close_matches(value.upper(), known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SelectionError(f"--{what} {value}: no such {what} in the suite{hint}")


def select_cases(
    protocols: list[Protocol], cases: list[str], requirements: list[str]
) -> list[Protocol]:
    """The protocols with only the chosen cases (and without those left with none)."""
    case_values = split_values(cases)
    req_values = split_values(requirements)
    if not case_values and not req_values:
        return protocols
    all_cases = [c for p in protocols for c in p.cases]
    _check_known(case_values, sorted({c.id for c in all_cases}), "case")
    _check_known(req_values, sorted({r for c in all_cases for r in c.requirements}), "requirement")

    def chosen(case: TestCase) -> bool:
        by_id = not case_values or any(_matches(v, case.id) for v in case_values)
        by_req = not req_values or any(
            _matches(v, r) for v in req_values for r in case.requirements
        )
        return by_id and by_req

    selected = [
        dataclasses.replace(p, cases=tuple(c for c in p.cases if chosen(c))) for p in protocols
    ]
    selected = [p for p in selected if p.cases]
    if not selected:
        raise SelectionError(
            "no test case matches both --case "
            + " ".join(case_values)
            + " and --requirement "
            + " ".join(req_values)
        )
    return selected


def selection_text(cases: list[str], requirements: list[str]) -> tuple[str, ...]:
    """The selection as the report names it: `--case X`, `--requirement Y`."""
    return tuple(
        [f"--case {v}" for v in split_values(cases)]
        + [f"--requirement {v}" for v in split_values(requirements)]
    )
