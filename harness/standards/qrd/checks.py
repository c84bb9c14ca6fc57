"""PRO documents into the LPS: the SUT attaches a QRD to the right patient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks.registry import CHECKS, CheckContext
from harness.model.finding import Finding
from harness.safeparse import PayloadError, parse_json


@CHECKS.register("document-attached", {"type": "object", "additionalProperties": False})
def document_attached(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """HTTP 200 with status attached (or already-attached) for the document's own patient."""
    if ctx.exchange.status != 200:
        yield ctx.bad_status("200", "PRO-HTTP", "the QRD document")
        return
    try:
        answer = parse_json(ctx.exchange.response_body)
        if not isinstance(answer, dict):
            raise TypeError("not an object")
        status, cpr = answer.get("status"), answer.get("patientCpr")
        if not isinstance(status, str) or not isinstance(cpr, (str, type(None))):
            raise TypeError("status and patientCpr must be strings")
    except (PayloadError, TypeError) as exc:
        yield ctx.bad_answer(
            "PRO-FORMAT", f"the answer is not the contract's DocumentReceipt: {exc}"
        )
        return
    if status not in ("attached", "already-attached"):
        yield ctx.finding(
            "PRO-FORMAT",
            f"status {status!r}, expected attached or already-attached",
            "/status",
            "json-pointer",
        )
    if cpr != ctx.notes.get("cpr"):
        yield ctx.finding(
            "PRO-PATIENT",
            f"the document was attached to {cpr!r}, not to its patient {ctx.notes.get('cpr')}",
            "/patientCpr",
            "json-pointer",
        )
