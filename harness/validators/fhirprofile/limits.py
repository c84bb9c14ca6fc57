"""An element's value limits: minValue[x]/maxValue[x] (numbers, dates, times, Quantities; a
Duration bound on a date counts from now), maxLength on strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from harness.validators.fhirprofile.primitives import instant_bounds

_NUMBERS = frozenset({"decimal", "integer", "positiveInt", "unsignedInt", "integer64"})
_DATES = frozenset({"date", "dateTime", "instant"})
_STRINGS = frozenset({"string", "markdown", "code", "id", "uri", "url", "canonical"})
# UCUM time units a Duration bound on a date may use, in days (a year and month as averages).
_DAYS = {"a": 365.25, "mo": 30.4375, "wk": 7.0, "d": 1.0, "h": 1 / 24, "min": 1 / 1440}


def limit_problem(
    low: tuple[str, Any] | None,
    high: tuple[str, Any] | None,
    max_length: int | None,
    type_code: str,
    value: Any,
    now: dt.datetime | None = None,
) -> str | None:
    """Why the value breaks its element's limits, or None."""
    if (
        max_length is not None
        and type_code in _STRINGS
        and isinstance(value, str)
        and len(value) > max_length
    ):
        return f"{len(value)} characters, more than the maxLength of {max_length}"
    for bound, below in ((low, True), (high, False)):
        if bound is None:
            continue
        problem = _beyond(bound, below, type_code, value, now)
        if problem is not None:
            return problem
    return None


def _beyond(
    bound: tuple[str, Any], below: bool, type_code: str, value: Any, now: dt.datetime | None
) -> str | None:
    key, limit = bound
    word = "minimum" if below else "maximum"
    if type_code in _NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(limit, int | float) and (value < limit if below else value > limit):
            return f"{value} is {'less' if below else 'more'} than the {word} {limit}"
        return None
    if type_code == "Quantity" and isinstance(value, dict) and isinstance(limit, dict):
        return _quantity(limit, below, word, value)
    if type_code in _DATES and isinstance(value, str):
        if key.endswith("Duration") and isinstance(limit, dict):
            limit = _from_now(limit, below, now)
            if limit is None:
                return None
        if not isinstance(limit, str):
            return None
        mine, theirs = instant_bounds(value), instant_bounds(limit)
        if mine is None or theirs is None:
            return None
        # only a value surely beyond the limit at every precision is reported
        if below and mine[1] <= theirs[0]:
            return f"{value} is before the {word} {limit}"
        if not below and mine[0] >= theirs[1]:
            return f"{value} is after the {word} {limit}"
        return None
    beyond = (value < limit if below else value > limit) if isinstance(limit, str) else False
    if type_code == "time" and isinstance(value, str) and beyond:
        return f"{value} is {'before' if below else 'after'} the {word} {limit}"
    return None


def _quantity(limit: dict[str, Any], below: bool, word: str, value: dict[str, Any]) -> str | None:
    amount, bound = value.get("value"), limit.get("value")
    if not isinstance(amount, int | float) or not isinstance(bound, int | float):
        return None
    if limit.get("code") is not None and value.get("code") != limit.get("code"):
        return None  # other units: comparing would need UCUM conversion
    if amount < bound if below else amount > bound:
        return f"{amount} is {'less' if below else 'more'} than the {word} {bound}"
    return None


def _from_now(duration: dict[str, Any], below: bool, now: dt.datetime | None) -> str | None:
    """minValueDuration on a date: no earlier than now minus the duration (max: plus)."""
    amount, unit = duration.get("value"), duration.get("code") or duration.get("unit")
    if not isinstance(amount, int | float) or unit not in _DAYS:
        return None
    moment = now or dt.datetime.now(dt.UTC)
    shift = dt.timedelta(days=float(amount) * _DAYS[str(unit)])
    return (moment - shift if below else moment + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
