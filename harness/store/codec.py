"""Turn results into store rows and back: findings, exchanges, answers, whole test cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.model.answer import Attachment, ManualAnswer
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Protocol
from harness.model.result import CaseResult, StepResult


class StoreMismatch(ValueError):
    """Stored results do not fit the protocol files they are rebuilt with."""


def finding_row(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "message": finding.message,
        "location": {
            "path": loc.path,
            "language": loc.language,
            "line": loc.line,
            "evidence": loc.evidence,
        },
        "waiver": finding.waiver,
    }


def finding_from_row(row: dict[str, Any], step_id: str = "") -> Finding:
    loc = row.get("location") or {}
    line = loc.get("line")
    return Finding(
        str(row["rule_id"]),
        Severity(row["severity"]),
        str(row["message"]),
        Location(
            str(loc.get("path", "")),
            str(loc.get("language", "")),
            int(line) if line is not None else None,
            str(loc.get("evidence", "")),
        ),
        step_id=step_id,
        waiver=str(row.get("waiver") or ""),
    )


def exchange_row(exchange: Exchange) -> dict[str, Any]:
    return {
        "method": exchange.method,
        "url": exchange.url,
        "status": exchange.status,
        "request_headers": dict(exchange.request_headers),
        "request_body": exchange.request_body,
        "response_headers": dict(exchange.response_headers),
        "response_body": exchange.response_body,
        "started": exchange.started,
        "duration_ms": exchange.duration_ms,
        "error": exchange.error,
        "truncated": exchange.truncated,
        "evidence": {**exchange.evidence, **_masking_keys(exchange)},
        "inbound": exchange.inbound,
    }


# Real-CPR masking (harness.checks.realcpr) travels in the evidence column, under keys no
# evidence direction uses, so the table keeps its shape.
_MASKED, _WITHHELD = "masked:", "withheld:"


def _masking_keys(exchange: Exchange) -> dict[str, str]:
    keys = {_MASKED + d: digest for d, digest in exchange.masked.items()}
    keys.update({_WITHHELD + d: "1" for d in exchange.withheld})
    return keys


def exchange_from_row(row: dict[str, Any]) -> Exchange:
    return Exchange(
        method=str(row["method"]),
        url=str(row["url"]),
        request_headers=dict(row["request_headers"]),
        request_body=bytes(row["request_body"]),
        status=row["status"],
        response_headers=dict(row["response_headers"]),
        response_body=bytes(row["response_body"]),
        started=str(row["started"]),
        duration_ms=float(row["duration_ms"]),
        error=str(row["error"]),
        truncated=bool(row["truncated"]),
        evidence={k: v for k, v in row["evidence"].items() if ":" not in k},
        inbound=bool(row.get("inbound", False)),
        masked={k[len(_MASKED) :]: v for k, v in row["evidence"].items() if k.startswith(_MASKED)},
        withheld=[k[len(_WITHHELD) :] for k in row["evidence"] if k.startswith(_WITHHELD)],
    )


@dataclass
class StoredCase:
    """Everything the store holds about one test case of a run, as plain values."""

    protocol_id: str
    case_id: str
    started: str
    duration_ms: float
    error: str
    steps: list[dict[str, Any]]
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by step id
    exchanges: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by step id
    answers: dict[str, ManualAnswer] = field(default_factory=dict)  # by step id
    not_in_scope: str = ""


def step_rows(case: CaseResult) -> list[dict[str, Any]]:
    return [
        {
            "id": s.step.id,
            "outcome": s.outcome.value,
            "message": s.message,
            "duration_ms": s.duration_ms,
        }
        for s in case.steps
    ]


def rebuild_case(stored: StoredCase, protocol: Protocol) -> CaseResult:
    """A CaseResult from the store, with the protocol's own case and step objects."""
    cases = {c.id: c for c in protocol.cases}
    case = cases.get(stored.case_id)
    if case is None:
        raise StoreMismatch(
            f"test case {stored.case_id} is no longer in protocol {protocol.id} "
            f"({protocol.source.file})"
        )
    steps = {s.id: s for s in case.steps}
    result = CaseResult(
        case,
        protocol.id,
        started=stored.started,
        duration_ms=stored.duration_ms,
        error=stored.error,
        not_in_scope=stored.not_in_scope,
    )
    for raw in stored.steps:
        step = steps.get(str(raw["id"]))
        if step is None:
            raise StoreMismatch(f"step {raw['id']} of {case.id} is no longer in the protocol")
        result.steps.append(
            StepResult(
                step,
                Outcome(raw["outcome"]),
                [finding_from_row(f, step.id) for f in stored.findings.get(step.id, [])],
                [exchange_from_row(e) for e in stored.exchanges.get(step.id, [])],
                message=str(raw.get("message", "")),
                duration_ms=float(raw.get("duration_ms", 0.0)),
                answer=stored.answers.get(step.id),
            )
        )
    return result


def answer_from_row(row: dict[str, Any], files: list[dict[str, Any]]) -> ManualAnswer:
    return ManualAnswer(
        protocol_id=str(row["protocol_id"]),
        case_id=str(row["case_id"]),
        step_id=str(row["step_id"]),
        verdict=str(row["verdict"]),
        note=str(row["note"]),
        tester=str(row["tester"]),
        answered_at=str(row["answered_at"]),
        attachments=tuple(Attachment(str(f["name"]), bytes(f["data"])) for f in files),
    )
