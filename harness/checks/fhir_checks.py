"""FHIR expectations: the answer is a resource of a type, an OperationOutcome, or FHIRPath holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks import profiles
from harness.checks.diagnostics import with_quote
from harness.checks.registry import CHECKS, CheckContext
from harness.fhir.fhirpath import evaluate, truthy
from harness.fhir.resource import structure_issues
from harness.model.finding import Finding


@CHECKS.register(
    "fhir-resource",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"type": {"type": "string", "pattern": "^[A-Z][A-Za-z]+$"}},
    },
)
def fhir_resource(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The body parses as FHIR (R4B model): right resource type, types and required elements;
    with the packs, it meets the profiles it declares (none: the FHIR R4 base definitions)."""
    problem = ctx.parse_problem()
    if problem:
        yield problem
        return
    resource = ctx.response_resource() or {}
    wanted = params.get("type")
    if wanted and resource.get("resourceType") != wanted:
        yield ctx.bad_answer(
            "FHIR-TYPE",
            f"resourceType is {resource.get('resourceType')}, expected {wanted}",
            "resourceType",
            "fhirpath",
        )
        return
    issues = structure_issues(resource)[:20]
    for issue in issues:
        yield ctx.finding("FHIR-STRUCTURE", issue.message, issue.path)
    if not issues:
        yield from answer_profile(ctx, "FHIR profile validation")


def answer_profile(ctx: CheckContext, what: str) -> Iterator[Finding]:
    """The SUT's answer against the profiles it declares (none: the FHIR R4 base definitions),
    in the version the SUT claims for them."""
    yield from profiles.validate(
        ctx, ctx.exchange, ctx.exchange.response_body, ctx.exchange.response_content_type, what
    )


@CHECKS.register(
    "operation-outcome",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"mentions": {"type": "array", "items": {"type": "string"}}},
    },
)
def operation_outcome(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The body is an OperationOutcome with an error issue (optionally naming given words),
    valid against the FHIR R4 base definitions (or the profiles it declares)."""
    problem = ctx.parse_problem()
    if problem:
        yield ctx.root(
            ctx.finding(
                "OO-MISSING", f"no OperationOutcome in the answer: {problem.message}", "", "http"
            ),
            instead=True,
        )
        return
    problems = ctx.fhir_problems()
    if problems:
        yield from problems
        return
    resource = ctx.response_resource() or {}
    if resource.get("resourceType") != "OperationOutcome":
        yield ctx.bad_answer(
            "OO-MISSING",
            f"answer (HTTP {ctx.exchange.status}) is a {resource.get('resourceType')}, "
            "expected an OperationOutcome",
            "resourceType",
            "fhirpath",
        )
        return
    yield from outcome_findings(ctx, resource, "OperationOutcome", params.get("mentions", []))
    yield from answer_profile(ctx, "FHIR validation of the OperationOutcome")


def outcome_findings(
    ctx: CheckContext, outcome: dict[str, Any], path: str, mentions: list[str]
) -> Iterator[Finding]:
    """Shared by the HTTP and acknowledgement checks: an error issue that explains itself."""
    issues = [i for i in outcome.get("issue", []) if isinstance(i, dict)]
    if not any(i.get("severity") in ("error", "fatal") for i in issues):
        yield ctx.finding(
            "OO-SEVERITY", "the OperationOutcome has no issue of severity error or fatal", path
        )
    text = " ".join(_issue_text(i) for i in issues).lower()
    for word in mentions:
        if word.lower() not in text:
            yield ctx.finding(
                "OO-MENTIONS",
                f"the OperationOutcome does not name the problem ({word!r} not mentioned)",
                f"{path}.issue",
            )


def _issue_text(issue: dict[str, Any]) -> str:
    parts = [str(issue.get("diagnostics", ""))]
    details = issue.get("details") or {}
    parts.append(str(details.get("text", "")))
    parts += [str(c.get("code", "")) for c in details.get("coding", []) if isinstance(c, dict)]
    parts += [str(e) for e in issue.get("expression", []) or []]
    return " ".join(parts)


FHIRPATH_VARIABLES = frozenset(
    {"resource", "sentHeaderId", "sentBundleId", "sutSor", "sutGln", "peerSor", "peerGln"}
)


@CHECKS.register(
    "fhirpath",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["expr"],
        "properties": {
            "expr": {"type": "string", "minLength": 1},
            "rule": {"type": "string", "pattern": "^[A-Za-z0-9.-]+$"},
            "message": {"type": "string"},
            "equals": {},
        },
    },
)
def fhirpath(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """A FHIRPath expression on the answer is true (or equals a value); %sent* variables given."""
    problems = ctx.fhir_problems()
    if problems:
        yield from problems
        return
    expr = params["expr"]
    env = {
        "resource": ctx.response_resource(),
        "sentHeaderId": ctx.sent.header_id if ctx.sent else "",
        "sentBundleId": ctx.sent.bundle_id if ctx.sent else "",
        "sutSor": ctx.sut_identity.get("sor", ""),
        "sutGln": ctx.sut_identity.get("gln", ""),
        "peerSor": ctx.peer_identity.get("sor", ""),
        "peerGln": ctx.peer_identity.get("gln", ""),
    }
    # An expression that cannot be evaluated is the protocol's fault: it raises (error verdict).
    result = evaluate(ctx.response_resource(), expr, env)
    if "equals" in params:
        ok = result == [params["equals"]]
        detail = f"gave {result!r}, expected {params['equals']!r}"
    else:
        ok = truthy(result)
        detail = f"is not true (gave {result!r})"
    if not ok:
        message = params.get("message") or f"{expr} {detail}"
        resource = ctx.response_resource() or {}
        status = ctx.exchange.status or 0
        if resource.get("resourceType") == "OperationOutcome" or not 200 <= status < 300:
            # The SUT answered with an error of its own: its words explain the miss.
            message = with_quote(f"{message} (HTTP {status})", ctx.exchange)
        yield ctx.finding(params.get("rule", "FHIRPATH"), message, expr)
