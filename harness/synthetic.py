"""Synthetic test persons only: kcert's CPR test range and the check that enforces it.

A CPR number is DDMMYY + 4 digits; the 7th digit together with YY gives the century.
Since 2007 valid CPR numbers may fail modulus 11, so modulus 11 is never used to judge.
kcert's own definition (a parameter, not a national fact): a fixture CPR must be a real
calendar date with a serial number in SYNTHETIC_SERIALS. MedCom's national test persons use
very high serial numbers in the same way.
"""

from __future__ import annotations

import datetime as dt
import re

SYNTHETIC_SERIALS = range(9900, 10000)

_CPR = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d)(\d{3})$")


def birth_date(cpr: str) -> dt.date | None:
    """The birth date a CPR number encodes, or None when it encodes none."""
    match = _CPR.match(cpr)
    if not match:
        return None
    day, month, yy, seventh = (int(g) for g in match.groups()[:4])
    if seventh in (0, 1, 2, 3):
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    elif seventh in (5, 6, 7, 8):
        century = 2000 if yy <= 57 else 1800
    else:
        return None
    try:
        return dt.date(century + yy, month, day)
    except ValueError:
        return None


def is_synthetic_cpr(cpr: str) -> bool:
    return birth_date(cpr) is not None and int(cpr[6:]) in SYNTHETIC_SERIALS


def synthetic_cpr_problem(cpr: str) -> str:
    """Why `cpr` is not an acceptable synthetic CPR, or "" when it is."""
    if not _CPR.match(cpr):
        return f"CPR {cpr!r} is not 10 digits"
    if birth_date(cpr) is None:
        return f"CPR {cpr[:6]}-xxxx does not encode a calendar date"
    if int(cpr[6:]) not in SYNTHETIC_SERIALS:
        return (
            f"CPR {cpr[:6]}-xxxx is outside kcert's synthetic range (serial "
            f"{SYNTHETIC_SERIALS.start}-{SYNTHETIC_SERIALS.stop - 1}); real CPR numbers are refused"
        )
    return ""
