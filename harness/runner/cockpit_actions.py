"""Cockpit step actions: load a population, read profiles, members, links and plans.

Where the SUT cannot expose an operation (SUT configuration `manual.operations`), the same
step hands the tester files instead and waits for an exported list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness.checks.diagnostics import with_quote
from harness.checks.registry import NotEvaluated
from harness.dates import now_iso
from harness.fixtures import FIXTURES_DIR
from harness.model.exchange import Exchange
from harness.population.generator import GeneratorError, generate, to_csv
from harness.population.model import Population
from harness.population.reader import POPULATION_LIMITS, read_population
from harness.runner.actions import (
    ACTIONS,
    ActionContext,
    ActionError,
    ActionResult,
    ManualStepPending,
    SutFault,
    builds_on,
)
from harness.runner.runcache import shared
from harness.safeparse import PayloadError, parse_json

_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
POPULATION_KEY = "population"
MAX_REQUESTS = 200  # per step: bounds link and plan walks


def as_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ActionError(f"{text!r} is not a date YYYY-MM-DD") from None


def _manual_exchange(method: str, where: Path, body: bytes, content_type: str) -> Exchange:
    exchange = Exchange(
        method, where.as_uri(), {"Content-Type": content_type}, b"", started=now_iso("milliseconds")
    )
    exchange.status = 200
    exchange.response_headers = {"Content-Type": content_type}
    exchange.response_body = body
    return exchange


@ACTIONS.register(
    "load-population",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["as_of"],
        "properties": {
            "as_of": _DATE,
            "file": {"type": "string", "pattern": r"^[\w./-]+\.json$"},
            "generate": {
                "type": "object",
                "additionalProperties": False,
                "required": ["seed", "size"],
                "properties": {
                    "seed": {"type": "integer"},
                    "size": {"type": "integer", "minimum": 50, "maximum": 200000},
                },
            },
        },
        "oneOf": [{"required": ["file"]}, {"required": ["generate"]}],
    },
)
def load_population(ctx: ActionContext, **params: Any) -> ActionResult:
    """Load a synthetic population (generated for the SUT's clinic, or a fixture file)."""
    as_of = as_date(params["as_of"])
    key: tuple[Any, ...]
    if "generate" in params:
        spec = params["generate"]
        key = (
            spec["seed"] if ctx.population_seed is None else ctx.population_seed,
            spec["size"],
            params["as_of"],
            ctx.sut.sor,
            ctx.sut.org_name or ctx.sut.name,
        )
    else:
        key = (params["file"],)
    bundle, body, population = _population(key)
    ctx.state[POPULATION_KEY] = population
    if "population-load" in ctx.sut.manual_operations:
        handover = Path(ctx.sut.exports_dir) / "handover"
        handover.mkdir(parents=True, exist_ok=True)
        target = handover / f"population-{as_of.isoformat()}.json"
        target.write_bytes(body)
        (handover / f"population-{as_of.isoformat()}.csv").write_text(to_csv(bundle), "utf-8")
        exchange = _manual_exchange(
            "HANDOVER", target, b'{"status": "handed over"}', "application/json"
        )
        exchange.request_body = body
        return ActionResult(exchange, notes={"manual": True})
    exchange = ctx.transport.request(
        "agent", "POST", "population", body, {"Content-Type": "application/fhir+json"}
    )
    return ActionResult(exchange)


def _population(key: tuple[Any, ...]) -> tuple[dict[str, Any], bytes, Population]:
    """Generated or parsed once per run (runcache): test cases share one immutable population.

    A file is known by its path and its bytes' SHA-256, so a file changed between runs (or
    during one) is parsed again; a generated one by everything the generator is given.
    """
    if len(key) == 1:
        try:
            body = (FIXTURES_DIR / key[0]).read_bytes()
        except OSError as exc:
            raise ActionError(f"population {key[0]}: {exc}") from None
        digest = hashlib.sha256(body).hexdigest()
        bundle, population = shared(("population-file", key[0], digest), lambda: _read(key, body))
        return bundle, body, population
    return shared(("population-generated", *key), lambda: _generated(key))


def _generated(key: tuple[Any, ...]) -> tuple[dict[str, Any], bytes, Population]:
    seed, size, as_of, sor, name = key
    try:
        bundle = generate(seed, size, as_date(as_of), sor, name).bundle
    except GeneratorError as exc:
        raise ActionError(str(exc)) from None
    body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    _, population = _read(key, body, bundle)
    return bundle, body, population


def _read(
    key: tuple[Any, ...], body: bytes, bundle: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Population]:
    if bundle is None:
        try:
            bundle = parse_json(body, POPULATION_LIMITS)
        except PayloadError as exc:
            raise ActionError(f"population {key[0]}: {exc}") from None
    population, problems = read_population(bundle, str(key[0]) if len(key) == 1 else "generated")
    if problems:
        raise ActionError(f"population breaks the format: {problems[0]}")
    return bundle, population


@ACTIONS.register("read-profiles", {"type": "object", "additionalProperties": False})
def read_profiles(ctx: ActionContext, **params: Any) -> ActionResult:
    """List the profiles the SUT offers."""
    return ActionResult(ctx.transport.request("agent", "GET", "profiles"))


@ACTIONS.register(
    "read-members",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["profile", "as_of"],
        "properties": {"profile": {"type": "string"}, "as_of": _DATE},
    },
)
def read_members(ctx: ActionContext, **params: Any) -> ActionResult:
    """Read one profile's members at an as-of date (or a tester's exported CSV list)."""
    profile, as_of = params["profile"], params["as_of"]
    notes = {"profile": profile, "as_of": as_of}
    if "cockpit-members" in ctx.sut.manual_operations:
        export = Path(ctx.sut.exports_dir) / f"{profile}_{as_of}.csv"
        if not export.is_file():
            raise ManualStepPending(
                f"Eksportér listen '{profile}' pr. {as_of} fra LPS som CSV (kolonne 'cpr') til "
                f"{export} / export the list '{profile}' as of {as_of} to {export}"
            )
        body = export.read_bytes()
        return ActionResult(_manual_exchange("EXPORT", export, body, "text/csv"), notes=notes)
    path = f"profiles/{quote(profile, safe='')}/members?asOf={quote(as_of)}"
    return ActionResult(ctx.transport.request("agent", "GET", path), notes=notes)


@ACTIONS.register(
    "follow-links",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of"],
        "properties": {
            "of": {"type": ["string", "integer"]},
            "max": {"type": "integer", "minimum": 1, "maximum": MAX_REQUESTS},
        },
    },
)
def follow_links(ctx: ActionContext, **params: Any) -> ActionResult:
    """Open each row's deep link from an earlier members step; remember whose row it was."""
    ref = params["of"]
    earlier = builds_on(ctx, ref, "following links needs the member rows")
    if earlier.exchange is None:
        raise ActionError(f"step {ref} read no members")
    try:
        rows = parse_json(earlier.exchange.response_body)["members"]
        pairs = [(str(r["cpr"]), str(r["planLink"])) for r in rows]
    except (PayloadError, KeyError, TypeError) as exc:
        # The rows are the SUT's answer: unusable rows are its fault (here, since no check
        # of step `ref` found them unusable; else this step would not be evaluated).
        raise SutFault(
            "COCKPIT-FORMAT",
            with_quote(
                f"the member list of step {ref} has no rows with plan links ({exc!r} "
                "missing or malformed)",
                earlier.exchange,
            ),
            [earlier.exchange],
        ) from None
    if not pairs:  # the list's own check says whether rows are missing
        raise NotEvaluated(f"the member list of step {ref} has no rows whose links to follow")
    bad = next((link for _, link in pairs if not _usable_link(link)), None)
    if bad is not None:
        raise SutFault(
            "COCKPIT-LINK",
            f"the member list of step {ref} holds a plan link kcert cannot open: {bad[:200]!r}",
            [earlier.exchange],
        )
    pairs = pairs[: params.get("max", 50)]
    exchanges = [ctx.transport.request("agent", "GET", _relative(link)) for _, link in pairs]
    return ActionResult(
        exchanges[0], more=exchanges[1:], notes={"expected_cprs": [cpr for cpr, _ in pairs]}
    )


@ACTIONS.register(
    "read-plans",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["patients_in", "as_of"],
        "properties": {
            "patients_in": {"type": "string", "description": "an oracle profile"},
            "as_of": _DATE,
            "max": {"type": "integer", "minimum": 1, "maximum": MAX_REQUESTS},
        },
    },
)
def read_plans(ctx: ActionContext, **params: Any) -> ActionResult:
    """Read the plans of the patients the oracle puts in a profile."""
    from harness.checks.oracle_view import oracle_at

    result = oracle_at(ctx.state, params["as_of"])
    try:
        cprs = sorted(result.member_cprs(params["patients_in"]))[: params.get("max", 100)]
    except KeyError as exc:
        raise ActionError(str(exc.args[0])) from None
    if not cprs:
        raise ActionError(f"the oracle puts nobody in {params['patients_in']}: nothing to read")
    exchanges = [
        ctx.transport.request("agent", "GET", f"patients/{cpr}/plan?asOf={params['as_of']}")
        for cpr in cprs
    ]
    return ActionResult(
        exchanges[0], more=exchanges[1:], notes={"expected_cprs": cprs, "as_of": params["as_of"]}
    )


@ACTIONS.register(
    "agent-get",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {"path": {"type": "string", "pattern": r"^[A-Za-z0-9/?=&._-]+$"}},
    },
)
def agent_get(ctx: ActionContext, **params: Any) -> ActionResult:
    """GET a test agent path as written (for robustness cases)."""
    return ActionResult(ctx.transport.request("agent", "GET", params["path"]))


@ACTIONS.register(
    "agent-post",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "body", "content_type"],
        "properties": {
            "path": {"type": "string", "pattern": r"^[A-Za-z0-9/?=&._-]+$"},
            "body": {"type": "string"},
            "content_type": {"type": "string"},
        },
    },
)
def agent_post(ctx: ActionContext, **params: Any) -> ActionResult:
    """POST a literal body to a test agent path (for robustness cases)."""
    return ActionResult(
        ctx.transport.request(
            "agent",
            "POST",
            params["path"],
            params["body"].encode("utf-8"),
            {"Content-Type": params["content_type"]},
        )
    )


_LINK = re.compile(r"^[A-Za-z0-9/?=&._~%:+-]{1,2000}$")


def _usable_link(link: str) -> bool:
    """A plan link is a URL or agent path without spaces or control characters."""
    return bool(_LINK.match(link))


def _relative(link: str) -> str:
    """A plan link relative to the agent base; absolute links keep only their path on it."""
    if "://" in link:
        from urllib.parse import urlsplit

        parts = urlsplit(link)
        marker = "/kcert-agent/v1/"
        path = parts.path.split(marker, 1)[1] if marker in parts.path else parts.path
        return path + (f"?{parts.query}" if parts.query else "")
    return link.lstrip("/")
