"""Value rules of the FHIR R4 primitive types beyond their lexical form (datatypes.html): real
calendar dates, 32-bit integers, string length, whitespace in URIs, base64 content."""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import re
from functools import lru_cache
from typing import Any

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
MAX_STRING = 1024 * 1024  # "strings SHALL NOT exceed 1MB in size"
_DATE_PART = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_URI_TYPES = frozenset({"uri", "url", "canonical", "oid", "uuid"})
_STRING_LIKE = frozenset({"string", "markdown", "code", "id", "uri", "url", "canonical"})
_DATED = frozenset({"date", "dateTime", "instant"})
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


_SPACE = re.compile(r"\s")


def value_problem(type_code: str, value: Any) -> str | None:
    """Why a value of the right JSON shape and lexical form is still not a valid value of the
    type, or None."""
    if isinstance(value, str) and len(value) <= 4096:
        return _string_problem(type_code, value)  # the same ids and codes recur: cached
    return _value_problem(type_code, value)


@lru_cache(maxsize=32768)
def _string_problem(type_code: str, value: str) -> str | None:
    return _value_problem(type_code, value)


def _value_problem(type_code: str, value: Any) -> str | None:
    if type_code in _INTEGERS and isinstance(value, int) and not isinstance(value, bool):
        if not INT32_MIN <= value <= INT32_MAX:
            return f"{value} is outside the 32-bit range of {type_code}"
        return None
    if not isinstance(value, str):
        return None
    if type_code in _DATED:
        return _calendar_problem(value)
    if type_code in _STRING_LIKE and value == "":
        return "an empty string is not a value (leave the element out instead)"
    if type_code in ("string", "markdown") and len(value) > MAX_STRING:
        return f"{len(value)} characters: longer than the 1 MB a FHIR string may hold"
    if type_code in _URI_TYPES and _SPACE.search(value):
        return "a URI may not contain whitespace"
    if type_code == "base64Binary" and value:
        return _base64_problem(value)
    return None


_RESOURCE_ID = re.compile(r"^[A-Za-z0-9\-.]+$")


def resource_id_problem(value: Any, check_length: bool = True) -> str | None:
    """A resource's logical id: 1-64 letters, digits, '-' and '.' (R4 datatypes, id)."""
    if not isinstance(value, str):
        return None  # the type check reports it
    if check_length and len(value) > 64:
        return f"too long ({len(value)} characters, at most 64)"
    if not _RESOURCE_ID.match(value):
        return f"{value!r} has characters other than A-Z a-z 0-9 - ."
    return None


def _calendar_problem(value: str) -> str | None:
    match = _DATE_PART.match(value)
    if match is None:
        return None  # the lexical check reports it
    year, month, day = (int(g) if g else None for g in match.groups())
    if month is not None and not 1 <= month <= 12:
        return f"{value}: month {month} does not exist"
    if year is not None and month is not None and day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            return f"{value}: {year:04d}-{month:02d} has no day {day}"
    return None


def _base64_problem(value: str) -> str | None:
    compact = "".join(value.split())  # XML may wrap long base64 text
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return "not valid base64 content"
    return None


_MOMENT = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def instant_bounds(text: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The earliest and latest instant a date or dateTime of any precision can mean (UTC)."""
    match = _MOMENT.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    low: dt.datetime
    high: dt.datetime
    try:
        if month is None:
            low, high = dt.datetime(int(year), 1, 1), dt.datetime(int(year) + 1, 1, 1)
        elif day is None:
            low = dt.datetime(int(year), int(month), 1)
            high = (low + dt.timedelta(days=32)).replace(day=1)
        elif hour is None:
            low = dt.datetime(int(year), int(month), int(day))
            high = low + dt.timedelta(days=1)
        else:
            low = dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                int((fraction or "0")[:6].ljust(6, "0")),
            )
            high = low + (dt.timedelta(seconds=1) if second else dt.timedelta(minutes=1))
            if zone and zone != "Z":
                sign = 1 if zone[0] == "+" else -1
                shift = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
                low, high = low - sign * shift, high - sign * shift
    except ValueError:
        return None
    return low, high


def widened(text: str, bounds: tuple[dt.datetime, dt.datetime]) -> tuple[dt.datetime, dt.datetime]:
    if "T" in text:
        return bounds
    # a date has no time zone: beside a dateTime it could be in any one
    return bounds[0] - dt.timedelta(hours=14), bounds[1] + dt.timedelta(hours=14)
