"""The test agent contract's own expectations: a refusal is a problem document with the status
asked for; generated requests (contract-fuzz) get no 5xx or answer outside the contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks.diagnostics import with_quote
from harness.checks.registry import CHECKS, CheckContext
from harness.model.finding import Finding
from harness.safeparse import PayloadError, parse_json


@CHECKS.register("contract-conforms", {"type": "object", "additionalProperties": False})
def contract_conforms(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """No generated request got a 5xx, an undocumented status or a non-conforming answer."""
    # One finding per distinct failure (operation, status, problem): twenty generated
    # requests that all meet the same fault are one root cause, counted.
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for failure in ctx.notes.get("fuzz_failures", []):
        key = (str(failure["operation"]), str(failure["status"]), str(failure["problem"]))
        groups.setdefault(key, []).append(failure)
    by_answer: dict[tuple[str, str], list[str]] = {}
    for operation, status, problem in groups:
        by_answer.setdefault((operation, status), []).append(problem)
    for (operation, status), problems in by_answer.items():
        found = [f for key in groups if key[:2] == (operation, status) for f in groups[key]]
        times = f" ({len(found)} generated requests)" if len(found) > 1 else ""
        said = next((str(f["says"]) for f in found if f.get("says")), "")
        yield ctx.finding(
            "CONTRACT-FUZZ",
            f"{operation} -> HTTP {status}{times}: {'; '.join(problems)}"
            + (f"; the SUT says: {said}" if said else "")
            + f"; reproduce: {found[0]['curl']}",
            operation,
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
    if status is None or not 400 <= status < 500:
        # The SUT took what it should refuse (2xx) or broke (5xx): that is the one finding;
        # there is no refusal to judge.
        yield ctx.bad_status(str(params["status"]), "CONTRACT-STATUS")
        return
    ct = ctx.exchange.response_content_type.split(";")[0].strip().lower()
    try:
        body = parse_json(ctx.exchange.response_body)
        ok = ct == "application/problem+json" and isinstance(body, dict) and "title" in body
    except PayloadError:
        ok = False
    missing = "" if ok else f"no problem document (application/problem+json with a title); got {ct}"
    if status != params["status"]:
        # A wrong refusal is one finding, also when it lacks the problem document.
        also = f", and {missing}" if missing else ""
        yield ctx.finding(
            "CONTRACT-STATUS",
            with_quote(f"HTTP {status}, expected {params['status']}{also}", ctx.exchange),
            "status",
            "http",
        )
    elif missing:
        yield ctx.finding("CONTRACT-PROBLEM", with_quote(missing, ctx.exchange), "", "http")
