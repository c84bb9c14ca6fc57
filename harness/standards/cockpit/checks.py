"""Cockpit expectations: the SUT's lists and plans against the oracle, patient by patient."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from harness.checks.diagnostics import NOT_IMPLEMENTED, with_quote
from harness.checks.oracle_view import oracle_at, rulepack
from harness.checks.registry import CHECKS, CheckContext
from harness.dates import window_start
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.oracle.engine import OracleResult, PatientVerdict, latest_measurement
from harness.safeparse import PayloadError, parse_json


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
            return ctx.root(
                ctx.finding(
                    "COCKPIT-FORMAT", f"the exported list is not usable CSV: {exc}", "", "csv"
                )
            )
    if exchange.status != 200:
        return ctx.bad_status("200", "COCKPIT-HTTP", "the member list")
    try:
        data = parse_json(exchange.response_body)
        rows = data["members"]
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("cpr"), str) for r in rows
        ):
            raise TypeError("members must be a list of rows with a cpr")
    except (PayloadError, KeyError, TypeError) as exc:
        return ctx.bad_answer(
            "COCKPIT-FORMAT", f"not a member list of the contract: {exc}", "/members"
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
    yield from _row_values(ctx, result, profile, rows, got, expected)
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


def _row_values(
    ctx: CheckContext,
    result: OracleResult,
    profile: str,
    rows: list[dict[str, Any]],
    got: dict[str, int],
    expected: set[str],
) -> Iterator[Finding]:
    """A row decided by a measurement shows that measurement (value and date)."""
    observation = next(
        (
            c.args["observation"]
            for c in result.pack.profile(profile).clauses
            if c.kind in ("latest-observation-above", "latest-observation-below")
        ),
        None,
    )
    if observation is None or "csv" in ctx.exchange.response_content_type.lower():
        return  # a tester's CSV export need not carry the values
    for cpr in sorted(expected & set(got)):
        latest = latest_measurement(result, cpr, observation)
        if latest is None:
            continue
        values = rows[got[cpr]].get("values") or {}
        shown = values.get("value") if isinstance(values, dict) else None
        when = values.get("date") if isinstance(values, dict) else None
        right = latest.text if latest.number is None else latest.number
        if shown != right or when != latest.date.isoformat():
            yield ctx.finding(
                "COCKPIT-VALUE",
                f"{profile}: the row of {cpr} shows {shown!r} on {when!r}; the measurement that "
                f"puts the patient there is {right!r} on {latest.date.isoformat()}",
                f"/members/{got[cpr]}/values",
                "json-pointer",
            )


@CHECKS.register("profiles-offered", {"type": "object", "additionalProperties": False})
def profiles_offered(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The SUT offers every profile of the rule pack."""
    if ctx.exchange.status != 200:
        yield ctx.bad_status("200", "COCKPIT-HTTP", "the profile list")
        return
    try:
        offered = {str(p["id"]) for p in parse_json(ctx.exchange.response_body)["profiles"]}
    except (PayloadError, KeyError, TypeError) as exc:
        yield ctx.bad_answer(
            "COCKPIT-FORMAT", f"not a profile list of the contract: {exc}", "/profiles"
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
        return ctx.finding_on(
            exchange,
            "COCKPIT-PLAN-HTTP",
            with_quote(f"plan of {cpr} answered HTTP {exchange.status}", exchange),
            where,
            "http",
        )
    try:
        plan = parse_json(exchange.response_body)
        if not isinstance(plan, dict) or not isinstance(plan.get("stratification", {}), dict):
            raise TypeError("a plan is an object with a stratification object")
        if not isinstance(plan.get("measurements") or [], list):
            raise TypeError("measurements is not a list")
        return plan
    except (PayloadError, TypeError) as exc:
        return ctx.finding_on(
            exchange,
            "COCKPIT-FORMAT",
            with_quote(f"plan of {cpr} is not a plan of the contract: {exc}", exchange),
            where,
            "json-pointer",
        )


def _plans(
    ctx: CheckContext, pairs: list[tuple[Exchange, str]]
) -> Iterator[tuple[Exchange, str, dict[str, Any] | Finding]]:
    """Each walked plan, or why it is unusable. When every request of the walk failed the
    same way (all refused, all unreadable) that is one root cause: one finding for all."""
    plans = [(e, cpr, _plan(ctx, e, cpr)) for e, cpr in pairs]
    failed = [p for _, _, p in plans if isinstance(p, Finding)]
    statuses = {e.status for e, _ in pairs}
    if len(pairs) > 1 and len(failed) == len(pairs) and len({f.rule_id for f in failed}) == 1:
        first, cpr = pairs[0]
        if len(statuses) == 1 and failed[0].rule_id == "COCKPIT-PLAN-HTTP":
            found = ctx.bad_status(
                "200", "COCKPIT-PLAN-HTTP", f"all {len(pairs)} plan requests", exchange=first
            )
        else:
            found = ctx.root(
                ctx.finding_on(
                    first,
                    failed[0].rule_id,
                    f"all {len(pairs)} plans are unusable, the first: {failed[0].message}",
                    failed[0].location.path,
                    failed[0].location.language,
                )
            )
        yield first, cpr, found
        return
    if len(pairs) == 1 and failed and pairs[0][0].status in NOT_IMPLEMENTED:
        yield pairs[0][0], pairs[0][1], ctx.bad_status("200", "COCKPIT-PLAN-HTTP", "the plan")
        return
    yield from plans


@CHECKS.register("links-resolve", {"type": "object", "additionalProperties": False})
def links_resolve(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """Every row's deep link opens that same patient's plan."""
    pairs = list(zip(ctx.exchanges, ctx.notes["expected_cprs"], strict=True))
    for exchange, cpr, plan in _plans(ctx, pairs):
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
    pairs = list(zip(ctx.exchanges, ctx.notes["expected_cprs"], strict=True))
    for exchange, cpr, plan in _plans(ctx, pairs):
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
        yield from _plan_measurements(ctx, result, cpr, plan, exchange)
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


def _plan_measurements(
    ctx: CheckContext, result: OracleResult, cpr: str, plan: dict[str, Any], exchange: Exchange
) -> Iterator[Finding]:
    """The plan shows the latest of each measurement the rules use, and nothing stale."""
    shown: dict[str, dict[str, Any]] = {}
    oldest_allowed = window_start(result.as_of, result.pack.param("data_max_age"))
    for index, item in enumerate(plan.get("measurements") or []):
        if not isinstance(item, dict):
            continue
        shown[str(item.get("code"))] = item
        when = str(item.get("date", ""))
        if when[:10] < oldest_allowed.isoformat():
            yield ctx.finding(
                "COCKPIT-STALE",
                f"plan of {cpr} shows {item.get('code')} from {when}: older than "
                "two years, which a plan must not show",
                f"/measurements/{index}",
                "json-pointer",
            )
    for key, (system, code) in result.pack.observations.items():
        if system == result.pack.codes["event"]:
            continue  # events (exacerbations) are counted, not shown as measurements
        latest = latest_measurement(result, cpr, key)
        if latest is None:
            continue
        item = shown.get(code)
        right = latest.text if latest.number is None else latest.number
        if (
            item is None
            or item.get("value") != right
            or item.get("date") != latest.date.isoformat()
        ):
            got = f"{item.get('value')!r} on {item.get('date')!r}" if item else "nothing"
            yield ctx.finding(
                "COCKPIT-PLAN-MEASUREMENT",
                f"plan of {cpr} shows {got} for {code}; the latest is {right!r} on "
                f"{latest.date.isoformat()}",
                "/measurements",
                "json-pointer",
            )
    if not plan.get("goals"):
        yield ctx.finding("COCKPIT-GOALS", f"plan of {cpr} has no goals", "/goals", "json-pointer")
