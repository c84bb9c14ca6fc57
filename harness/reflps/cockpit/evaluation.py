"""The LPS's own cockpit rules, in SQL over its store. Written apart from kcert's oracle.

The national profile definitions are the same; the code is not: set-based SQL queries, own
date arithmetic, own colour logic. Named defects change the queries the way a vendor's bug
would.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from harness.reflps.cockpit.store import ClinicStore

ICPC = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
PROFILE_VERSION = "1.0.0"

PROFILES: dict[str, str] = {
    "kol-inkluderet": "KOL: inkluderede patienter",
    "kol-mangler-aarskontrol": "KOL: mangler årskontrol",
    "kol-mangler-kronikerhonorar": "KOL: mangler kronikerhonorar",
    "kol-blodtryk-over-150": "KOL: blodtryk over 150",
    "kol-stratificering-roed": "KOL: rød",
    "kol-stratificering-gul": "KOL: gul",
    "kol-stratificering-groen": "KOL: grøn",
    "kol-opfoelgning-overskredet": "KOL: opfølgning overskredet",
    "t2d-inkluderet": "Type 2-diabetes: inkluderede patienter",
    "t2d-egfr-under-60": "Type 2-diabetes: eGFR under 60",
    "hjerte-inkluderet": "Hjertesygdom: inkluderede patienter",
    "lrs-inkluderet": "Lænderygsmerter: inkluderede patienter",
    "lrs-stratificering-roed": "Lænderyg: rød",
    "lrs-stratificering-gul": "Lænderyg: gul",
    "lrs-stratificering-groen": "Lænderyg: grøn",
    "lrs-mangler-behovsvurdering": "Lænderyg: mangler behovsvurdering",
    "komorbiditet": "Komorbiditet",
}


def months_back(day: dt.date, months: int) -> dt.date:
    """Same day of the month `months` earlier; a day the month lacks becomes its last day."""
    year = day.year - (months // 12)
    month = day.month - (months % 12)
    if month < 1:
        month += 12
        year -= 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_ahead(day: dt.date, months: int) -> dt.date:
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class Cockpit:
    """Everything the cockpit shows at one as-of date."""

    as_of: dt.date
    members: dict[str, list[str]]
    values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    kol_colour: dict[str, str | None] = field(default_factory=dict)
    lrs_colour: dict[str, str | None] = field(default_factory=dict)


def _one(rows: list[tuple[Any, ...]]) -> set[str]:
    return {str(r[0]) for r in rows}


def evaluate(store: ClinicStore, as_of: dt.date, defects: frozenset[str]) -> Cockpit:
    if "as-of-ignored" in defects:
        as_of = dt.date.today()
    d = as_of.isoformat()
    data_from = (
        "0001-01-01" if "stale-data-counted" in defects else months_back(as_of, 24).isoformat()
    )
    year_from = months_back(as_of, 12).isoformat()
    q = store.query

    listed_sql = "SELECT cpr FROM cp_patient WHERE 1=1"
    if "moved-away-included" not in defects:
        listed_sql += " AND active = 1"
    if "deceased-included" not in defects:
        listed_sql += " AND deceased = 0 AND (deceased_date IS NULL OR deceased_date > :d)"
    if "other-clinic-included" not in defects:
        listed_sql += " AND gp_sor = (SELECT sor FROM cp_clinic)"
    listed = _one(q(listed_sql, {"d": d}))
    births = [
        (str(r[0]), dt.date.fromisoformat(str(r[1])))
        for r in q("SELECT cpr, birth FROM cp_patient")
    ]
    if "age-by-year" in defects:
        adults = {cpr for cpr, birth in births if as_of.year - birth.year >= 18}
    else:
        # the 18th birthday (28 Feb for those born 29 Feb) on or before the as-of date
        adults = {cpr for cpr, birth in births if months_ahead(birth, 18 * 12) <= as_of}

    def diagnosed(icpc: list[str], sks_prefix: str | None) -> set[str]:
        marks = ",".join("?" * len(icpc))
        sql = (
            "SELECT DISTINCT cpr FROM cp_condition"
            " WHERE status IN ('active', 'recurrence', 'relapse')"
            f" AND (recorded IS NULL OR recorded <= ?) AND ((system = ? AND code IN ({marks}))"
        )
        params: list[Any] = [d, ICPC, *icpc]
        if sks_prefix:
            sql += " OR (system = ? AND substr(code, 1, ?) = ?)"  # case matters, unlike LIKE
            params += [SKS, len(sks_prefix), sks_prefix]
        return _one(q(sql + ")", tuple(params)))

    base = listed & adults
    kol = base & diagnosed(["R95"], "DJ44")
    t2d = base & diagnosed(["T90"], "DE11")
    heart = base & diagnosed(["K74", "K75", "K76", "K86", "K87", "T93"], None)
    lrs = base & diagnosed(["L03", "L84", "L86"], None)

    def latest(code: str, numbers_only: bool = False) -> dict[str, tuple[float | None, str, str]]:
        extra = " AND num IS NOT NULL" if numbers_only else ""
        rows = q(
            "SELECT cpr, num, txt, date FROM (SELECT cpr, num, txt, date, ROW_NUMBER() OVER "
            "(PARTITION BY cpr ORDER BY date DESC, seq DESC) AS n FROM cp_measurement "
            f"WHERE code = ? AND date >= ? AND date <= ?{extra}) WHERE n = 1",
            (code, data_from, d),
        )
        return {str(r[0]): (r[1], r[2] or "", r[3]) for r in rows}

    def counted(code: str) -> dict[str, int]:
        rows = q(
            "SELECT cpr, COUNT(*) FROM cp_measurement WHERE code = ? AND date >= ? "
            "AND date >= ? AND date <= ? GROUP BY cpr",
            (code, year_from, data_from, d),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def served(codes: list[str]) -> set[str]:
        marks = ",".join("?" * len(codes))
        return _one(
            q(
                f"SELECT DISTINCT cpr FROM cp_service WHERE code IN ({marks}) "
                "AND date >= ? AND date <= ?",
                (*codes, year_from, d),
            )
        )

    bp = latest("DNK05472")
    egfr = latest("DNK35302", numbers_only="egfr-text-skipped" in defects)
    mrc, cat = latest("MCS88021"), latest("MCS88137")
    moderate, hospital = counted("kol-exacerbation-moderate"), counted("kol-hospitalisation")

    kol_colour: dict[str, str | None] = {}
    for cpr in kol:
        if moderate.get(cpr, 0) >= 2 or hospital.get(cpr, 0) >= 1:
            colour: str | None = "red"
        elif (mrc.get(cpr, (None,))[0] or 0) >= 3 or (cat.get(cpr, (None,))[0] or 0) >= 10:
            colour = "yellow"
        elif cpr in mrc or cpr in cat:
            colour = "green"
        else:
            colour = None
        if "red-yellow-swapped" in defects and colour in ("red", "yellow"):
            colour = "yellow" if colour == "red" else "red"
        kol_colour[cpr] = colour

    sb_rows = q(
        "SELECT cpr, answers, date FROM (SELECT cpr, answers, date, ROW_NUMBER() OVER "
        "(PARTITION BY cpr ORDER BY date DESC, seq DESC) AS n FROM cp_startback "
        "WHERE answers IS NOT NULL AND date >= ? AND date <= ?) WHERE n = 1",
        (data_from, d),
    )
    startback = {str(r[0]): (str(r[1]), str(r[2])) for r in sb_rows}
    lrs_colour: dict[str, str | None] = {}
    for cpr in lrs:
        if cpr not in startback:
            lrs_colour[cpr] = None
            continue
        answers = startback[cpr][0]
        total, psycho = answers.count("1"), answers[4:].count("1")
        lrs_colour[cpr] = "green" if total <= 3 else ("red" if psycho >= 4 else "yellow")

    followup: dict[str, str] = {
        str(r[0]): str(r[1])
        for r in q(
            "SELECT cpr, MAX(date) FROM (SELECT cpr, date FROM cp_service WHERE code = '0120' "
            "AND date <= ? UNION ALL SELECT cpr, date FROM cp_encounter WHERE system = ? "
            "AND code = 'R95' AND date <= ?) GROUP BY cpr",
            (d, ICPC, d),
        )
    }
    interval = {"red": 3, "yellow": 6}
    overdue = set()
    for cpr in kol:
        last = followup.get(cpr)
        months = interval.get(kol_colour[cpr] or "", 12)
        if last is None or months_ahead(dt.date.fromisoformat(last), months) < as_of:
            overdue.add(cpr)

    group1 = _one(q("SELECT cpr FROM cp_patient WHERE insurance = 1"))
    recent_sb = _one(
        q(
            "SELECT DISTINCT cpr FROM cp_startback WHERE answers IS NOT NULL "
            "AND date >= ? AND date <= ?",
            (year_from, d),
        )
    )
    inclusive = "bp-threshold-inclusive" in defects

    def too_high(value: float | None) -> bool:
        if value is None:
            return False
        return value >= 150 if inclusive else value > 150

    high_bp = {c for c in kol if c in bp and too_high(bp[c][0])}

    def below_60(value: float | None) -> bool:
        return value is not None and value < 60

    low_egfr = {c for c in t2d if c in egfr and below_60(egfr[c][0])}
    packages = [kol, t2d, heart, lrs]
    comorbid = {c for c in base if sum(c in p for p in packages) >= 2}

    members = {
        "kol-inkluderet": kol,
        "kol-mangler-aarskontrol": kol - served(["0120"]),
        "kol-mangler-kronikerhonorar": (kol & group1) - served(["0130", "0131", "0132"]),
        "kol-blodtryk-over-150": high_bp,
        "kol-stratificering-roed": {c for c in kol if kol_colour[c] == "red"},
        "kol-stratificering-gul": {c for c in kol if kol_colour[c] == "yellow"},
        "kol-stratificering-groen": {c for c in kol if kol_colour[c] == "green"},
        "kol-opfoelgning-overskredet": overdue,
        "t2d-inkluderet": t2d,
        "t2d-egfr-under-60": low_egfr,
        "hjerte-inkluderet": heart,
        "lrs-inkluderet": lrs,
        "lrs-stratificering-roed": {c for c in lrs if lrs_colour[c] == "red"},
        "lrs-stratificering-gul": {c for c in lrs if lrs_colour[c] == "yellow"},
        "lrs-stratificering-groen": {c for c in lrs if lrs_colour[c] == "green"},
        "lrs-mangler-behovsvurdering": lrs - recent_sb,
        "komorbiditet": comorbid,
    }
    values: dict[str, dict[str, dict[str, Any]]] = {
        "kol-blodtryk-over-150": {c: {"value": bp[c][0], "date": bp[c][2]} for c in high_bp},
        "t2d-egfr-under-60": {c: {"value": egfr[c][0], "date": egfr[c][2]} for c in low_egfr},
    }
    for pid in ("kol-stratificering-roed", "kol-stratificering-gul", "kol-stratificering-groen"):
        values[pid] = {c: {"colour": kol_colour[c]} for c in members[pid]}
    for pid in ("lrs-stratificering-roed", "lrs-stratificering-gul", "lrs-stratificering-groen"):
        values[pid] = {c: {"colour": lrs_colour[c]} for c in members[pid]}
    values["kol-opfoelgning-overskredet"] = {c: {"lastFollowUp": followup.get(c)} for c in overdue}
    return Cockpit(
        as_of,
        {pid: sorted(cprs) for pid, cprs in members.items()},
        values,
        kol_colour,
        lrs_colour,
    )
