"""The service's own synthetic CPR numbers, for seeding and for refusing real ones.

Written here rather than imported, so the service stays independent of kcert: the same
published test range (a real calendar date, serial 9900-9999; modulus 11 is not used).
"""

from __future__ import annotations

import datetime as dt
import re

SERIALS = range(9900, 10000)
_CPR = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d)(\d{3})$")
# Seeded persons are born 1940-1997: with a serial 99xx the seventh digit is 9, which names the
# 1900s for two-digit years above 36.
_FIRST_BIRTH = dt.date(1940, 1, 1)
_BIRTH_DAYS = (dt.date(1997, 12, 31) - _FIRST_BIRTH).days + 1


def is_synthetic(cpr: str) -> bool:
    match = _CPR.match(cpr)
    if not match:
        return False
    day, month, yy, seventh = (int(g) for g in match.groups()[:4])
    if seventh in (0, 1, 2, 3):
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:
        century = 2000 if yy <= 57 else 1800
    try:
        dt.date(century + yy, month, day)
    except ValueError:
        return False
    return int(cpr[6:]) in SERIALS


def cpr(index: int) -> str:
    """The index-th synthetic CPR (distinct for 0 <= index < 2.1 million)."""
    day, serial = divmod(index, len(SERIALS))
    born = _FIRST_BIRTH + dt.timedelta(days=day % _BIRTH_DAYS)
    return f"{born:%d%m%y}{SERIALS.start + serial}"
