"""One evaluation per check type, on Polars frames: who the check applies to, who fails it.

A check type is a function of the tables, the check's (resolved) parameters and the context;
it returns the denominator (patients the check applies to) and the failing records (one row per
failing patient: CPR, resource ids, a short English detail in data words). The catalogue's YAML
holds every window, range and code list; nothing here names a code. The definitions follow
harness/population/FORMAT.md's table of fault kinds (a *package patient*, "within N months").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

import polars as pl

from harness.dates import age_at, shift_months
from harness.quality.tables import Tables

FAILING_SCHEMA: dict[str, pl.DataType] = {
    "cpr": pl.Utf8(),
    "ids": pl.List(pl.Utf8),
    "detail": pl.Utf8(),
}


@dataclass(frozen=True)
class Context:
    as_of: dt.date
    clinic_sor: str
    register_updated: dt.date | None


@dataclass(frozen=True)
class Outcome:
    denominator: int
    failing: pl.DataFrame  # cpr, ids, detail: one row per failing patient ("" for the clinic)

    @property
    def numerator(self) -> int:
        return self.failing.height


Params = dict[str, Any]
CheckFn = Callable[[Tables, Params, Context], Outcome]


def _per_patient(records: pl.DataFrame) -> pl.DataFrame:
    """Failing records (cpr, id, detail) → one row per patient, ids in order, first detail."""
    if records.is_empty():
        return pl.DataFrame(schema=FAILING_SCHEMA)
    return (
        records.group_by("cpr", maintain_order=True)
        .agg(pl.col("id").alias("ids"), pl.col("detail").first())
        .sort("cpr")
    )


def _patients_in(*frames: pl.DataFrame) -> int:
    cprs = [f.select("cpr") for f in frames if f.height]
    return pl.concat(cprs).n_unique() if cprs else 0


def _any_code(codes: list[dict[str, str]]) -> pl.Expr:
    return reduce(
        lambda a, b: a | b,
        [
            (pl.col("system") == c["system"]) & pl.col("code").str.starts_with(c["prefix"])
            for c in codes
        ],
        pl.lit(False),
    )


def _with_diagnosis(t: Tables, codes: list[dict[str, str]], statuses: list[str]) -> pl.DataFrame:
    c = t["conditions"]
    return c.filter(_any_code(codes) & pl.col("status").is_in(statuses)).select("cpr").unique()


def _alive(ctx: Context) -> pl.Expr:
    return ~pl.col("deceased") & (
        pl.col("deceased_date").is_null() | (pl.col("deceased_date") > ctx.as_of)
    )


def _born_by(as_of: dt.date, min_age: int) -> dt.date:
    """The latest birth date of someone `min_age` or older at `as_of` (harness.dates.age_at)."""
    day = shift_months(as_of, -12 * min_age)
    while age_at(day, as_of) < min_age:
        day -= dt.timedelta(days=1)
    while age_at(day + dt.timedelta(days=1), as_of) >= min_age:
        day += dt.timedelta(days=1)
    return day


def _package(t: Tables, population: Params, ctx: Context) -> pl.DataFrame:
    """Package patients: alive, active, listed with the own clinic, old enough, diagnosed."""
    p = t["patients"].filter(
        _alive(ctx)
        & pl.col("active")
        & (pl.col("gp_sor") == ctx.clinic_sor)
        & pl.col("birth").is_not_null()
        & (pl.col("birth") <= _born_by(ctx.as_of, population["min_age"]))
    )
    diagnosed = _with_diagnosis(t, population["diagnoses"], population["condition_statuses"])
    return p.join(diagnosed, on="cpr", how="semi")


def _within(column: str, months: int, ctx: Context) -> pl.Expr:
    return pl.col(column).is_between(shift_months(ctx.as_of, -months), ctx.as_of)


def medication_without_diagnosis(t: Tables, p: Params, ctx: Context) -> Outcome:
    m = t["medications"]
    prefixes = reduce(lambda a, b: a | b, [pl.col("code").str.starts_with(x) for x in p["atc"]])
    on = m.filter(
        (pl.col("system") == p["system"]) & prefixes & pl.col("status").is_in(p["statuses"])
    )
    diagnosed = _with_diagnosis(t, p["diagnoses"], p["condition_statuses"])
    wanted = "/".join(c["prefix"] for c in p["diagnoses"])
    failing = on.join(diagnosed, on="cpr", how="anti").select(
        "cpr",
        "id",
        pl.format(
            "{} since {} without {}",
            "code",
            pl.col("start").cast(pl.Utf8).fill_null("?"),
            pl.lit(wanted),
        ).alias("detail"),
    )
    return Outcome(_patients_in(on), _per_patient(failing))


def code_system(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = t[p["table"]]
    allowed = reduce(
        lambda a, b: a | b,
        [pl.col("systems").str.contains(f"\t{system}\t", literal=True) for system in p["systems"]],
    )
    uncoded = pl.col("systems") == "\t"
    finds = {"uncoded": uncoded, "other-system": ~uncoded & ~allowed, "not-allowed": ~allowed}
    failing = rows.filter(finds[p["finds"]]).select(
        "cpr",
        "id",
        pl.when(uncoded)
        .then(pl.lit("no coding (free text only)"))
        .otherwise(pl.format("coded {} {} only", "system", "code"))
        .alias("detail"),
    )
    return Outcome(_patients_in(rows), _per_patient(failing))


def _quantities(t: Tables, system: str, codes: list[str]) -> pl.DataFrame:
    o = t["observations"]
    return o.filter(
        (pl.col("system") == system)
        & pl.col("code").is_in(codes)
        & (pl.col("value_kind") == "quantity")
    )


def unit(t: Tables, p: Params, ctx: Context) -> Outcome:
    units: dict[str, str] = p["units"]
    rows = _quantities(t, p["system"], list(units)).with_columns(
        pl.col("code").replace_strict(units, return_dtype=pl.Utf8).alias("expected")
    )
    failing = rows.filter(pl.col("unit") != pl.col("expected")).select(
        "cpr", "id", pl.format("{} in {} (expected {})", "code", "unit", "expected").alias("detail")
    )
    return Outcome(_patients_in(rows), _per_patient(failing))


def value_range(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = _quantities(t, p["system"], [p["code"]]).filter(pl.col("number").is_not_null())
    failing = rows.filter(~pl.col("number").is_between(p["low"], p["high"])).select(
        "cpr",
        "id",
        pl.format(
            "{} = {} {} (plausible {}-{})",
            "code",
            "number",
            "unit",
            pl.lit(p["low"]),
            pl.lit(p["high"]),
        ).alias("detail"),
    )
    return Outcome(_patients_in(rows), _per_patient(failing))


def _dated(t: Tables, dates: list[dict[str, str]]) -> pl.DataFrame:
    """Every dated record of the listed table columns: cpr, id, table, day."""
    parts = [
        t[d["table"]]
        .filter(pl.col(d["column"]).is_not_null())
        .select("cpr", "id", pl.lit(d["table"]).alias("table"), pl.col(d["column"]).alias("day"))
        for d in dates
    ]
    return pl.concat(parts)


def date_order(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = _dated(t, p["dates"])
    if p["after"] == "as-of":
        failing = rows.filter(pl.col("day") > ctx.as_of).select(
            "cpr",
            "id",
            pl.format(
                "{} dated {}, after the as-of date {}",
                "table",
                "day",
                pl.lit(ctx.as_of.isoformat()),
            ).alias("detail"),
        )
        return Outcome(_patients_in(rows), _per_patient(failing))
    died = (
        t["patients"].filter(pl.col("deceased_date").is_not_null()).select("cpr", "deceased_date")
    )
    rows = rows.join(died, on="cpr", how="inner")
    failing = rows.filter(pl.col("day") > pl.col("deceased_date")).select(
        "cpr",
        "id",
        pl.format("{} dated {}, after death on {}", "table", "day", "deceased_date").alias(
            "detail"
        ),
    )
    return Outcome(_patients_in(rows), _per_patient(failing))


def duplicate(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = t[p["table"]]
    keys = ["cpr", *p["keys"]]
    dup = rows.filter(pl.len().over(keys) > 1)
    failing = dup.select(
        "cpr",
        "id",
        pl.format(
            "{} {} on {} recorded more than once",
            "system",
            "code",
            pl.col("date").cast(pl.Utf8).fill_null("?"),
        ).alias("detail"),
    )
    return Outcome(_patients_in(rows), _per_patient(failing))


def _missing(population: pl.DataFrame, had: pl.DataFrame, what: str) -> Outcome:
    failing = population.join(had, on="cpr", how="anti").select(
        "cpr", "id", pl.lit(what).alias("detail")
    )
    return Outcome(population.height, _per_patient(failing))


def service_in_window(t: Tables, p: Params, ctx: Context) -> Outcome:
    population = _package(t, p["population"], ctx)
    if "insurance_group" in p:
        population = population.filter(pl.col("insurance_group") == p["insurance_group"])
    s = t["services"]
    had = s.filter(pl.col("code").is_in(p["services"]) & _within("date", p["months"], ctx))
    what = f"no service {'/'.join(p['services'])} within {p['months']} months"
    return _missing(population, had.select("cpr"), what)


def observation_in_window(t: Tables, p: Params, ctx: Context) -> Outcome:
    population = _package(t, p["population"], ctx)
    o = t["observations"]
    had = o.filter(
        (pl.col("system") == p["system"])
        & pl.col("code").is_in(p["codes"])
        & _within("date", p["months"], ctx)
    )
    what = f"no {'/'.join(p['codes'])} within {p['months']} months"
    return _missing(population, had.select("cpr"), what)


def questionnaire_in_window(t: Tables, p: Params, ctx: Context) -> Outcome:
    population = _package(t, p["population"], ctx)
    q = t["startbacks"].filter(_within("date", p["months"], ctx))
    if p.get("complete", True):
        q = q.filter(pl.col("complete"))
    what = f"no complete STarT Back within {p['months']} months"
    return _missing(population, q.select("cpr"), what)


def relation_present(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = t["patients"]
    failing = rows.filter(pl.col(p["column"]) == "").select(
        "cpr", "id", pl.lit("no generalPractitioner").alias("detail")
    )
    return Outcome(rows.height, _per_patient(failing))


def still_active(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = t["patients"]
    if p["left"] == "deceased":
        left = rows.filter(~_alive(ctx))
        what = pl.format(
            "active, died {}", pl.col("deceased_date").cast(pl.Utf8).fill_null("(flag)")
        )
    else:
        left = rows.filter(_alive(ctx) & ~pl.col("gp_sor").is_in(["", ctx.clinic_sor]))
        what = pl.format("active, listed with {}", "gp_sor")
    failing = left.filter(pl.col("active")).select("cpr", "id", what.alias("detail"))
    return Outcome(left.height, _per_patient(failing))


def register_age(t: Tables, p: Params, ctx: Context) -> Outcome:
    limit = shift_months(ctx.as_of, -p["max_age_months"])
    day = ctx.register_updated
    if day is not None and day >= limit:
        return Outcome(1, pl.DataFrame(schema=FAILING_SCHEMA))
    detail = f"register last loaded {day.isoformat()}" if day else "no register load date"
    failing = pl.DataFrame(
        {"cpr": [""], "ids": [[]], "detail": [f"{detail} (limit {limit.isoformat()})"]},
        schema=FAILING_SCHEMA,
    )
    return Outcome(1, failing)


def data_age(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = _dated(t, p["dates"])
    old = shift_months(ctx.as_of, -p["older_than_months"])
    share = rows.group_by("cpr").agg(
        (pl.col("day") < old).mean().alias("share"), pl.col("id").filter(pl.col("day") < old)
    )
    failing = (
        share.filter(pl.col("share") > p["max_share"])
        .select(
            "cpr",
            pl.col("id").alias("ids"),
            pl.format(
                "{} % of the records older than {}",
                (pl.col("share") * 100).round(0).cast(pl.Int64),
                pl.lit(old.isoformat()),
            ).alias("detail"),
        )
        .sort("cpr")
    )
    return Outcome(share.height, failing)


def reader_fault(t: Tables, p: Params, ctx: Context) -> Outcome:
    rows = t[p["table"]]
    failing = rows.filter(pl.col("faults").list.contains(p["fault"])).select(
        "cpr", "id", pl.lit(p["fault"]).alias("detail")
    )
    return Outcome(_patients_in(rows), _per_patient(failing))


TYPES: dict[str, CheckFn] = {
    "medication-without-diagnosis": medication_without_diagnosis,
    "code-system": code_system,
    "unit": unit,
    "value-range": value_range,
    "date-order": date_order,
    "duplicate": duplicate,
    "service-in-window": service_in_window,
    "observation-in-window": observation_in_window,
    "questionnaire-in-window": questionnaire_in_window,
    "relation-present": relation_present,
    "still-active": still_active,
    "register-age": register_age,
    "data-age": data_age,
    "reader-fault": reader_fault,
}
