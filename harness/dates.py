"""Dates and the clock: kcert's one "now" (`now_iso`), and calendar arithmetic for rule
windows ("within N months", ages at the as-of date)."""

from __future__ import annotations

import calendar
import datetime as dt


def now_iso(timespec: str = "seconds") -> str:
    """UTC now in ISO 8601. Run and case times are whole seconds (what a replay pins and the
    report prints); an exchange's start is stamped to the millisecond
    (`timespec="milliseconds"`), where several fall in one second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec=timespec)


def shift_months(day: dt.date, months: int) -> dt.date:
    """The same calendar date `months` later (negative: earlier), clamped to the month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def window_start(as_of: dt.date, months: int) -> dt.date:
    """First day that is "within `months`" of the as-of date (inclusive)."""
    return shift_months(as_of, -months)


def age_at(birth: dt.date, as_of: dt.date) -> int:
    """Completed years on `as_of`; the birthday itself counts (29 Feb turns on 28 Feb)."""
    years = as_of.year - birth.year
    birthday = shift_months(birth, 12 * years)
    return years if birthday <= as_of else years - 1
