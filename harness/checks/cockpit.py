"""Cockpit expectations: the SUT's lists and plans against the oracle, patient by patient."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from harness.checks.registry import CHECKS, CheckContext
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.oracle.engine import OracleResult, PatientVerdict, evaluate
from harness.oracle.rulepack import RulePack, load_rulepack
from harness.population.model import Population
from harness.safeparse import PayloadError, parse_json

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


def _why_in(verdict: PatientVerdict, profile: str) -> str:
    return "; ".join(c.detail for c in verdict.profiles[profile].clauses)


def _why_out(verdict: PatientVerdict, profile: str, lang: str = "en") -> str:
    if not verdict.eligible:
        return verdict.ineligible_reason
    clauses = verdict.profiles[profile].clauses
    if not clauses:
        return "no clause evaluated"
    last = clauses[-1]
    text = next(
        c.text.get(lang) for p in rulepack().profiles for c in p.clauses if c.id == last.clause_id
    )
    return f"fails '{text}' ({last.detail})"


def _rows(ctx: CheckContext, exchange: Exchange) -> list[dict[str, Any]] | Finding:
    """Member rows from JSON (the API) or CSV (a tester's export)."""
    ct = exchange.response_content_type.lower()
    if "csv" in ct:
        try:
            text = exchange.response_body.decode("utf-8-sig")
            reader = csv.DictReader(io.StringIO(text))
            if not reader.fieldnames or "cpr" not in [f.strip().lower() for f in reader.fieldnames]:
                raise ValueError("no 'cpr' column")
            return [{k.strip().lower(): v for k, v in row.items() if k} for row in reader]
        except (UnicodeDecodeError, ValueError, csv.Error) as exc:
            return ctx.finding(
                "COCKPIT-FORMAT", f"the exported list is not usable CSV: {exc}", "", "csv"
            )
    if exchange.status != 200:
        return ctx.finding(
            "COCKPIT-HTTP", f"members answered HTTP {exchange.status}", "status", "http"
        )
    try:
        data = parse_json(exchange.response_body)
        rows = data["members"]
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("cpr"), str) for r in rows
        ):
            raise TypeError("members must be a list of rows with a cpr")
    except (PayloadError, KeyError, TypeError) as exc:
        return ctx.finding(
            "COCKPIT-FORMAT",
            f"not a member list of the contract: {exc}",
            "/members",
            "json-pointer",
        )
    return rows


@CHECKS.register(
    "members-match-oracle",
    {"type": "object", "additionalProperties": False},
)
def members_match_oracle(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """Exactly the oracle's members: each missing and each extra patient named, with why."""
    profile, as_of = ctx.notes["profile"], ctx.notes["as_of"]
    rows = _rows(ctx, ctx.exchange)
    if isinstance(rows, Finding):
        yield rows
        return
    result = oracle_at(ctx.state, as_of)
    got: dict[str, int] = {}
    for index, row in enumerate(rows):
        cpr = str(row.get("cpr", "")).strip()
        if cpr in got:
            yield ctx.finding(
                "COCKPIT-DUPLICATE",
                f"{profile}: {cpr} is listed twice",
                f"/members/{index}",
                "json-pointer",
            )
        got.setdefault(cpr, index)
    expected = result.member_cprs(profile)
    for cpr in sorted(expected - set(got)):
        verdict = result.verdict(cpr)
        yield ctx.finding(
            "COCKPIT-MISSING",
            f"{profile} as of {as_of}: {cpr} {verdict.patient.name} is missing; belongs there "
            f"because {_why_in(verdict, profile)}",
            "/members",
            "json-pointer",
        )
    for cpr in sorted(set(got) - expected):
        if cpr in result.verdicts:
            reason = _why_out(result.verdict(cpr), profile)
            name = result.verdict(cpr).patient.name
        else:
            reason, name = "no such patient in the loaded population", ""
        yield ctx.finding(
            "COCKPIT-EXTRA",
            f"{profile} as of {as_of}: {cpr} {name} is listed but does not belong: {reason}",
            f"/members/{got[cpr]}",
            "json-pointer",
        )


@CHECKS.register("profiles-offered", {"type": "object", "additionalProperties": False})
def profiles_offered(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The SUT offers every profile of the rule pack."""
    try:
        offered = {str(p["id"]) for p in parse_json(ctx.exchange.response_body)["profiles"]}
    except (PayloadError, KeyError, TypeError) as exc:
        yield ctx.finding(
            "COCKPIT-FORMAT",
            f"not a profile list of the contract: {exc}",
            "/profiles",
            "json-pointer",
        )
        return
    for profile in rulepack().profiles:
        if profile.id not in offered:
            yield ctx.finding(
                "COCKPIT-PROFILE-MISSING",
                f"profile {profile.id} ({profile.title.en}) is not offered",
                "/profiles",
                "json-pointer",
            )


def _plan(ctx: CheckContext, exchange: Exchange, cpr: str) -> dict[str, Any] | Finding:
    where = exchange.evidence.get("R", "")
    if exchange.status != 200:
        return ctx.finding(
            "COCKPIT-PLAN-HTTP", f"plan of {cpr} answered HTTP {exchange.status}", where, "http"
        )
    try:
        plan = parse_json(exchange.response_body)
        if not isinstance(plan, dict) or not isinstance(plan.get("stratification", {}), dict):
            raise TypeError("a plan is an object with a stratification object")
        return plan
    except (PayloadError, TypeError) as exc:
        return ctx.finding(
            "COCKPIT-FORMAT",
            f"plan of {cpr} is not a plan of the contract: {exc}",
            where,
            "json-pointer",
        )


@CHECKS.register("links-resolve", {"type": "object", "additionalProperties": False})
def links_resolve(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """Every row's deep link opens that same patient's plan."""
    for exchange, cpr in zip(ctx.exchanges, ctx.notes["expected_cprs"], strict=True):
        plan = _plan(ctx, exchange, cpr)
        if isinstance(plan, Finding):
            yield plan
        elif plan.get("cpr") != cpr:
            yield ctx.finding(
                "COCKPIT-LINK",
                f"the row of {cpr} links to the plan of {plan.get('cpr')!r}: another patient",
                exchange.evidence.get("R", ""),
                "json-pointer",
            )


@CHECKS.register("plans-match-oracle", {"type": "object", "additionalProperties": False})
def plans_match_oracle(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """Each plan is the patient's own and carries the oracle's colour for each package."""
    result = oracle_at(ctx.state, ctx.notes["as_of"])
    for exchange, cpr in zip(ctx.exchanges, ctx.notes["expected_cprs"], strict=True):
        plan = _plan(ctx, exchange, cpr)
        if isinstance(plan, Finding):
            yield plan
            continue
        if plan.get("cpr") != cpr:
            yield ctx.finding(
                "COCKPIT-LINK",
                f"asked for the plan of {cpr}, got {plan.get('cpr')!r}",
                exchange.evidence.get("R", ""),
            )
            continue
        verdict = result.verdict(cpr)
        for package, included in (("kol", "kol-inkluderet"), ("lrs", "lrs-inkluderet")):
            if not verdict.profiles[included].member:
                continue
            want = verdict.colours[package]
            got = plan.get("stratification", {}).get(package)
            if got != want.colour:
                yield ctx.finding(
                    "COCKPIT-COLOUR",
                    f"plan of {cpr} {verdict.patient.name}: {package} colour {got!r}, expected "
                    f"{want.colour!r} ({want.detail})",
                    f"/stratification/{package}",
                    "json-pointer",
                )


@CHECKS.register("contract-conforms", {"type": "object", "additionalProperties": False})
def contract_conforms(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """No generated request got a 5xx, an undocumented status or a non-conforming answer."""
    for failure in ctx.notes.get("fuzz_failures", []):
        yield ctx.finding(
            "CONTRACT-FUZZ",
            f"{failure['operation']} -> HTTP {failure['status']}: {failure['problem']}; "
            f"reproduce: {failure['curl']}",
            failure["operation"],
            "http",
        )


@CHECKS.register(
    "problem-document",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"type": "integer", "minimum": 400, "maximum": 499}},
    },
)
def problem_document(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """A refused request gets the status asked for and an RFC 9457 problem document."""
    status = ctx.exchange.status
    if status != params["status"]:
        yield ctx.finding(
            "CONTRACT-STATUS", f"HTTP {status}, expected {params['status']}", "status", "http"
        )
    ct = ctx.exchange.response_content_type.split(";")[0].strip().lower()
    try:
        body = parse_json(ctx.exchange.response_body)
        ok = ct == "application/problem+json" and isinstance(body, dict) and "title" in body
    except PayloadError:
        ok = False
    if not ok:
        yield ctx.finding(
            "CONTRACT-PROBLEM",
            f"no problem document (application/problem+json with a title); got {ct}",
            "",
            "http",
        )
