"""Evaluate a rule pack over a population at an as-of date: members, clauses, colours and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from harness.dates import age_at, shift_months, window_start
from harness.oracle.rulepack import Clause, RulePack
from harness.population.model import (
    ACTIVE_STATUSES,
    ICPC2,
    SKS,
    Measurement,
    PatientRecord,
    Population,
    StartBack,
)

_T = TypeVar("_T")


class ClauseResult(NamedTuple):  # tuples: a 100,000-patient run makes millions of these
    clause_id: str
    holds: bool
    detail: str


class ColourResult(NamedTuple):
    colour: str | None  # "red" | "yellow" | "green" | None
    rule_id: str
    detail: str


@dataclass(slots=True)
class ProfileVerdict:
    profile_id: str
    member: bool
    clauses: list[ClauseResult]


@dataclass
class PatientVerdict:
    patient: PatientRecord
    age: int
    eligible: bool
    ineligible_reason: str
    colours: dict[str, ColourResult] = field(default_factory=dict)
    profiles: dict[str, ProfileVerdict] = field(default_factory=dict)

    @property
    def cpr(self) -> str:
        return self.patient.cpr

    def member_of(self) -> list[str]:
        return [p for p, v in self.profiles.items() if v.member]


@dataclass
class OracleResult:
    pack: RulePack
    population: Population
    as_of: dt.date
    verdicts: dict[str, PatientVerdict]

    def members(self, profile_id: str) -> list[PatientVerdict]:
        self.pack.profile(profile_id)  # unknown ids raise KeyError with the known ones
        return sorted(
            (v for v in self.verdicts.values() if v.profiles[profile_id].member),
            key=lambda v: v.cpr,
        )

    def member_cprs(self, profile_id: str) -> set[str]:
        return {v.cpr for v in self.members(profile_id)}

    def verdict(self, cpr: str) -> PatientVerdict:
        try:
            return self.verdicts[cpr]
        except KeyError:
            raise KeyError(f"no patient with CPR {cpr[:6]}-xxxx in the population") from None


class _Context:
    """One patient at one as-of date: windows and latest values, computed on demand."""

    def __init__(
        self, pack: RulePack, patient: PatientRecord, as_of: dt.date, starts: dict[int, dt.date]
    ) -> None:
        self.pack = pack
        self.patient = patient
        self.as_of = as_of
        self.starts = starts  # window starts per length, shared by all patients of one date
        self.data_start = self.start(pack.param("data_max_age"))
        self.age = age_at(patient.birth, as_of)
        self.profiles: dict[str, ProfileVerdict] = {}
        self.colours: dict[str, ColourResult] = {}

    def start(self, months: int) -> dt.date:
        if months not in self.starts:
            self.starts[months] = window_start(self.as_of, months)
        return self.starts[months]

    def within(self, day: dt.date, months: int) -> bool:
        return self.start(months) <= day <= self.as_of

    def fresh(self, key: str) -> list[Measurement]:
        """Measurements of one kind, dated inside the data window and not after the as-of date."""
        found = self.patient.measurements.get(self.pack.observations[key], [])
        return [m for m in found if self.data_start <= m.date <= self.as_of]

    def latest(self, key: str) -> Measurement | None:
        """The newest measurement; on equal dates the one written later in the population."""
        found = self.fresh(key)
        return _last_max(found, lambda m: m.date) if found else None

    def latest_startback(self) -> StartBack | None:
        found = [
            s
            for s in self.patient.startbacks
            if s.complete and self.data_start <= s.date <= self.as_of
        ]
        return _last_max(found, lambda s: s.date) if found else None


def _last_max(items: list[_T], key: Callable[[_T], dt.date]) -> _T:
    best = items[0]
    for item in items[1:]:
        if key(item) >= key(best):
            best = item
    return best


def _describe(m: Measurement) -> str:
    value = m.text if m.number is None else f"{m.number:g}"
    return f"{value} on {m.date.isoformat()}"


# ---- stratifications -------------------------------------------------------------------------


def _kol_colour(ctx: _Context) -> ColourResult:
    pack = ctx.pack
    ids = {c["colour"]: c["id"] for c in pack.stratifications["kol"]}
    window = pack.param("exacerbation_window")
    moderate = [m for m in ctx.fresh("exacerbation_moderate") if ctx.within(m.date, window)]
    hospital = [m for m in ctx.fresh("hospitalisation") if ctx.within(m.date, window)]
    if len(moderate) >= pack.param("moderate_exacerbations_red") or len(hospital) >= pack.param(
        "hospitalisations_red"
    ):
        return ColourResult(
            "red",
            ids["red"],
            f"{len(moderate)} moderate exacerbation(s), {len(hospital)} hospitalisation(s) "
            f"within {window} months",
        )
    mrc, cat = ctx.latest("mrc"), ctx.latest("cat")
    high_mrc = (
        mrc is not None and mrc.number is not None and mrc.number >= pack.threshold("mrc_yellow")
    )
    high_cat = (
        cat is not None and cat.number is not None and cat.number >= pack.threshold("cat_yellow")
    )
    shown = (
        f"latest MRC {_describe(mrc) if mrc else 'none'}, "
        f"latest CAT {_describe(cat) if cat else 'none'}"
    )
    if high_mrc or high_cat:
        return ColourResult("yellow", ids["yellow"], shown)
    if mrc is not None or cat is not None:
        return ColourResult("green", ids["green"], shown)
    return ColourResult(
        None, "kol-farve.ingen", "no exacerbation data, MRC or CAT within the data window"
    )


def _lrs_colour(ctx: _Context) -> ColourResult:
    pack = ctx.pack
    ids = {c["colour"]: c["id"] for c in pack.stratifications["lrs"]}
    latest = ctx.latest_startback()
    if latest is None:
        return ColourResult(
            None, "lrs-farve.ingen", "no complete STarT Back within the data window"
        )
    shown = (
        f"STarT Back {latest.date.isoformat()}: total {latest.total}, "
        f"psychosocial {latest.psychosocial}"
    )
    if latest.total <= pack.threshold("startback_low_max"):
        return ColourResult("green", ids["green"], shown)
    if latest.psychosocial >= pack.threshold("startback_psychosocial_high_min"):
        return ColourResult("red", ids["red"], shown)
    return ColourResult("yellow", ids["yellow"], shown)


STRATIFIERS: dict[str, Callable[[_Context], ColourResult]] = {
    "kol": _kol_colour,
    "lrs": _lrs_colour,
}


def _colour(ctx: _Context, name: str) -> ColourResult:
    if name not in ctx.colours:
        ctx.colours[name] = STRATIFIERS[name](ctx)
    return ctx.colours[name]


# ---- clauses ---------------------------------------------------------------------------------

ClauseFunc = Callable[[_Context, Clause], tuple[bool, str]]


def _age(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    return ctx.age >= ctx.pack.param(
        clause.args["param"]
    ), f"age {ctx.age} on {ctx.as_of.isoformat()}"


def _condition(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    group = ctx.pack.groups[clause.args["group"]]
    icpc, prefixes = set(group["icpc2"]), tuple(group["sks_prefix"])
    for cond in ctx.patient.conditions:
        matches = (cond.system == ICPC2 and cond.code in icpc) or (
            cond.system == SKS and bool(prefixes) and cond.code.startswith(prefixes)
        )
        if not matches:
            continue
        recorded_ok = cond.recorded is None or cond.recorded <= ctx.as_of
        if cond.status in ACTIVE_STATUSES and recorded_ok:
            return True, f"{cond.code} {cond.status}"
    return False, "no active diagnosis of the group"


def _member_of(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    ref = clause.args["profile"]
    member = ctx.profiles[ref].member
    return member, f"{'in' if member else 'not in'} {ref}"


def _member_of_at_least(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    inside = [p for p in clause.args["profiles"] if ctx.profiles[p].member]
    return len(inside) >= ctx.pack.threshold(
        clause.args["param"]
    ), f"in {', '.join(inside) or 'none'}"


def _no_service(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    codes = ctx.pack.services[clause.args["services"]]
    months = ctx.pack.param(clause.args["param"])
    found = [d for code, d in ctx.patient.services if code in codes and ctx.within(d, months)]
    if found:
        return False, f"service on {max(found).isoformat()}"
    return True, f"no {'/'.join(sorted(codes))} since {ctx.start(months).isoformat()}"


def _insurance(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    group = ctx.patient.insurance_group
    return group == clause.args["value"], f"insurance group {group if group else 'unknown'}"


def _above(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    latest = ctx.latest(clause.args["observation"])
    if latest is None:
        return False, "no measurement within the data window"
    limit = ctx.pack.params[clause.args["param"]]
    return latest.number is not None and latest.number > limit, f"latest {_describe(latest)}"


def _below(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    latest = ctx.latest(clause.args["observation"])
    if latest is None:
        return False, "no measurement within the data window"
    limit = ctx.pack.params[clause.args["param"]]
    if latest.number is None:
        return False, f"latest {_describe(latest)} is not a number"
    return latest.number < limit, f"latest {_describe(latest)}"


def _colour_is(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    result = _colour(ctx, clause.args["stratification"])
    return result.colour == clause.args[
        "colour"
    ], f"colour {result.colour or 'none'}: {result.detail}"


def _followup(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    codes = ctx.pack.services[clause.args["services"]]
    reasons = {(ICPC2, c) for c in ctx.pack.groups[clause.args["group"]]["icpc2"]}
    dates = [d for code, d in ctx.patient.services if code in codes and d <= ctx.as_of]
    dates += [d for why, d in ctx.patient.encounters if why & reasons and d <= ctx.as_of]
    colour = _colour(ctx, clause.args["stratification"]).colour or "none"
    months = ctx.pack.param(clause.args["intervals"][colour])
    if not dates:
        return True, f"no follow-up at all (colour {colour})"
    latest = max(dates)
    due = shift_months(latest, months)
    return (
        due < ctx.as_of,
        f"latest follow-up {latest.isoformat()} + {months} months = {due.isoformat()}",
    )


def _no_startback(ctx: _Context, clause: Clause) -> tuple[bool, str]:
    months = ctx.pack.param(clause.args["param"])
    found = [s.date for s in ctx.patient.startbacks if s.complete and ctx.within(s.date, months)]
    if found:
        return False, f"complete STarT Back on {max(found).isoformat()}"
    return True, f"no complete STarT Back since {ctx.start(months).isoformat()}"


CLAUSES: dict[str, ClauseFunc] = {
    "age-at-least": _age,
    "active-condition": _condition,
    "member-of": _member_of,
    "member-of-at-least": _member_of_at_least,
    "no-service-within": _no_service,
    "insurance-group": _insurance,
    "latest-observation-above": _above,
    "latest-observation-below": _below,
    "colour-is": _colour_is,
    "followup-overdue": _followup,
    "no-startback-within": _no_startback,
}


def eligibility(patient: PatientRecord, clinic_sor: str, as_of: dt.date) -> str:
    """Why a patient is in no profile at all, or "" when the patient is on the clinic's list."""
    if patient.deceased or (patient.deceased_date is not None and patient.deceased_date <= as_of):
        return "deceased"
    if not patient.active:
        return "inactive on the clinic's list (moved away)"
    if patient.gp_sor != clinic_sor:
        return f"general practitioner is another clinic (SOR {patient.gp_sor})"
    return ""


def evaluate(pack: RulePack, population: Population, as_of: dt.date) -> OracleResult:
    verdicts: dict[str, PatientVerdict] = {}
    starts: dict[int, dt.date] = {}
    for patient in population.patients:
        reason = eligibility(patient, population.clinic_sor, as_of)
        ctx = _Context(pack, patient, as_of, starts)
        verdict = PatientVerdict(patient, ctx.age, not reason, reason)
        for profile in pack.profiles:
            if reason:
                ctx.profiles[profile.id] = ProfileVerdict(profile.id, False, [])
                continue
            results = []
            member = True
            for clause in profile.clauses:
                holds, detail = CLAUSES[clause.kind](ctx, clause)
                results.append(ClauseResult(clause.id, holds, detail))
                if not holds:
                    member = False
                    break  # the first failing clause is the reason; later ones are not needed
            ctx.profiles[profile.id] = ProfileVerdict(profile.id, member, results)
        if not reason:
            for name in pack.stratifications:
                _colour(ctx, name)
        verdict.profiles = ctx.profiles
        verdict.colours = ctx.colours
        verdicts[patient.cpr] = verdict
    return OracleResult(pack, population, as_of, verdicts)


def latest_measurement(result: OracleResult, cpr: str, observation: str) -> Measurement | None:
    """The measurement a plan or a list row should show: newest within the data window."""
    ctx = _Context(result.pack, result.verdict(cpr).patient, result.as_of, {})
    return ctx.latest(observation)


def explain(result: OracleResult, cpr: str, lang: str = "en") -> dict[str, Any]:
    """Everything the oracle concluded about one patient, with the rule texts."""
    verdict = result.verdict(cpr)
    texts = {c.id: c.text.get(lang) for p in result.pack.profiles for c in p.clauses}
    return {
        "cpr": verdict.cpr,
        "name": verdict.patient.name,
        "as_of": result.as_of.isoformat(),
        "age": verdict.age,
        "eligible": verdict.eligible,
        "ineligible_reason": verdict.ineligible_reason,
        "colours": {
            name: {"colour": c.colour, "rule": c.rule_id, "detail": c.detail}
            for name, c in verdict.colours.items()
        },
        "profiles": {
            pid: {
                "member": pv.member,
                "clauses": [
                    {
                        "id": c.clause_id,
                        "holds": c.holds,
                        "rule": texts[c.clause_id],
                        "detail": c.detail,
                    }
                    for c in pv.clauses
                ],
            }
            for pid, pv in verdict.profiles.items()
        },
    }
