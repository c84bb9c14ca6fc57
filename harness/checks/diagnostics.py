"""What the SUT itself said in an answer, quoted once and the same way everywhere.

A finding about a SUT answer (a wrong status, an unreadable body, a refused operation) quotes
the SUT's own diagnostics so a vendor can act on it: an OperationOutcome's issues (severity,
code, diagnostics, details.text; also inside a message Bundle), an RFC 9457 problem
document's title and detail, otherwise the first bytes of the body. Every quote is redacted
(credentials) and bounded. The protocol runs and the TestScript path share this one quoting.
"""

from __future__ import annotations

import re
from typing import Any

from harness.model.exchange import Exchange
from harness.redact import redact_text
from harness.safeparse import PayloadError, parse_json

BODY_BYTES = 300  # of a body that is neither an OperationOutcome nor a problem document
PART_CHARS = 200  # of one diagnostics, detail or title text
MAX_ISSUES = 3
MAX_QUOTE = 600  # of the whole quote
_SPACE = re.compile(r"\s+")


def sut_says(exchange: Exchange) -> str:
    """The SUT's own words in the step's answer, or "" when it said nothing."""
    return quote_answer(exchange.response_content_type, exchange.response_body)


def with_quote(message: str, exchange: Exchange) -> str:
    """`message`, followed by what the SUT said in `exchange` when it said anything."""
    said = sut_says(exchange)
    return f"{message}; the SUT says: {said}" if said else message


def quote_answer(content_type: str, body: bytes) -> str:
    """The diagnostics in a body (any content type): structured ones first, else its start."""
    if not body:
        return ""
    data = _json(body)
    structured = _structured(data, content_type) if data is not None else ""
    if structured:
        return _bound(structured, MAX_QUOTE)
    text = body[:BODY_BYTES].decode("utf-8", errors="replace")
    more = "…" if len(body) > BODY_BYTES else ""
    return _bound(f'"{_clean(text)}{more}"', MAX_QUOTE)


def _json(body: bytes) -> Any:
    try:
        return parse_json(body)
    except PayloadError:
        return None


def _structured(data: Any, content_type: str) -> str:
    if not isinstance(data, dict):
        return ""
    if data.get("resourceType") == "OperationOutcome":
        return _outcome(data)
    if data.get("resourceType") == "Bundle":
        outcomes = [
            e["resource"]
            for e in data.get("entry") or []
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "OperationOutcome"
        ]
        return " | ".join(filter(None, (_outcome(o) for o in outcomes[:2])))
    if "problem+json" in content_type.lower() or "title" in data or "detail" in data:
        return _problem(data)
    return ""


def _outcome(outcome: dict[str, Any]) -> str:
    issues = [i for i in outcome.get("issue") or [] if isinstance(i, dict)]
    parts = []
    for issue in issues[:MAX_ISSUES]:
        head = "/".join(_text(issue.get(k)) for k in ("severity", "code") if issue.get(k))
        details = issue.get("details")
        words = [_text(issue.get("diagnostics"))]
        if isinstance(details, dict):
            words.append(_text(details.get("text")))
        said = " — ".join(f'"{w}"' for w in words if w)
        parts.append(f"{head or 'issue'} {said}".strip())
    if len(issues) > MAX_ISSUES:
        parts.append(f"(+{len(issues) - MAX_ISSUES} more issues)")
    return "OperationOutcome " + "; ".join(parts) if parts else ""


def _problem(problem: dict[str, Any]) -> str:
    parts = [f'{key} "{_text(problem[key])}"' for key in ("title", "detail") if problem.get(key)]
    return "problem " + "; ".join(parts) if parts else ""


def _text(value: Any) -> str:
    return _bound(_clean(str(value)), PART_CHARS) if value is not None else ""


def _clean(text: str) -> str:
    """One line, no control characters, no credentials."""
    printable = "".join(c if c.isprintable() else " " for c in text)
    return redact_text(_SPACE.sub(" ", printable).strip())


def _bound(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# An operation answered one of these does not exist at the SUT at all.
NOT_IMPLEMENTED = frozenset({404, 405, 501})
OPERATION_MISSING = "SUT-OPERATION-MISSING"
NOT_EVALUATED = "NOT-EVALUATED"


def request_line(exchange: Exchange) -> str:
    """`METHOD /path?query` of a recorded request (its URL is already redacted)."""
    from urllib.parse import urlsplit

    parts = urlsplit(exchange.url)
    return f"{exchange.method} {parts.path}" + (f"?{parts.query}" if parts.query else "")


def status_message(exchange: Exchange, expected: str) -> tuple[str, str]:
    """(rule override or "", message) for an answer whose status is not the one expected:
    SUT-OPERATION-MISSING when the SUT does not offer the operation at all, with its words."""
    status = exchange.status
    if status in NOT_IMPLEMENTED and expected.lstrip().startswith("2"):
        message = (
            f"{request_line(exchange)} answered HTTP {status} (expected {expected}): the SUT "
            "does not offer this operation"
            + (" (or found nothing to apply it to)" if status == 404 else "")
        )
        return OPERATION_MISSING, with_quote(message, exchange)
    return "", with_quote(
        f"{request_line(exchange)} answered HTTP {status}, expected {expected}", exchange
    )
