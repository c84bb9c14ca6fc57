"""HTTP-level expectations: status codes, no server errors, FHIR content types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks.diagnostics import with_quote
from harness.checks.registry import CHECKS, CheckContext
from harness.model.finding import Finding
from harness.model.outcome import Severity

_STATUS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "equals": {"type": "integer", "minimum": 100, "maximum": 599},
        "in": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
        "class": {"enum": ["2xx", "3xx", "4xx", "5xx"]},
    },
}


@CHECKS.register("status", _STATUS_SCHEMA)
def status(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The HTTP status equals a value, is one of several, or is in a class (4xx)."""
    got = ctx.exchange.status
    wanted: list[str] = []
    ok = True
    if "equals" in params:
        wanted.append(str(params["equals"]))
        ok = ok and got == params["equals"]
    if "in" in params:
        wanted.append(" or ".join(map(str, params["in"])))
        ok = ok and got in params["in"]
    if "class" in params:
        wanted.append(params["class"])
        ok = ok and got is not None and str(got)[0] == params["class"][0]
    if not ok:
        # The root of the step: what reads the answer after this is not evaluated.
        yield ctx.bad_status(", ".join(wanted), "HTTP-STATUS")


@CHECKS.register("no-server-error", {"type": "object", "additionalProperties": False})
def no_server_error(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """A SUT never answers 5xx to bad input: it must say what is wrong with it."""
    if ctx.exchange.status is not None and ctx.exchange.status >= 500:
        yield ctx.bad_answer(
            "HTTP-5XX",
            f"server error {ctx.exchange.status} instead of a 4xx answer naming the problem",
            "status",
            "http",
        )


@CHECKS.register(
    "fhir-content-type",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"format": {"enum": ["json", "xml", "as-sent"]}},
    },
)
def fhir_content_type(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The answer is labelled application/fhir+json or +xml, in the format asked for."""
    fmt = params.get("format", "as-sent")
    if fmt == "as-sent":
        fmt = ctx.sent.fmt if ctx.sent else "json"
    ct = ctx.exchange.response_content_type.split(";")[0].strip().lower()
    accepted = {f"application/fhir+{fmt}", f"application/{fmt}"}
    if ct not in accepted:
        yield ctx.finding(
            "HTTP-CONTENT-TYPE",
            with_quote(
                f"Content-Type {ct or '(none)'} (HTTP {ctx.exchange.status}), expected "
                f"application/fhir+{fmt}",
                ctx.exchange,
            ),
            "Content-Type",
            "http",
            severity=_minor(ctx.severity),
        )
    if ctx.exchange.truncated:
        yield ctx.finding(
            "HTTP-TOO-LARGE", "the response exceeded the size cap and was cut", "", "http"
        )


def _minor(severity: Severity) -> Severity:
    """A labelling slip weighs at most F3."""
    return severity if severity.rank <= Severity.F3.rank else Severity.F3
