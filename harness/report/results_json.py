"""results.json: the machine-readable run result (schema in results.schema.json)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.model.outcome import Outcome
from harness.model.result import CaseResult, RunResult, StepResult
from harness.report.evidence import artifact_name, attachment_name
from harness.report.i18n import scope_text

SCHEMA_ID = "kcert-results/1"


def _step(step: StepResult, case_id: str) -> dict[str, Any]:
    data = {
        "id": step.step.id,
        "handling": step.step.handling.to_dict(),
        "testdata": step.step.testdata,
        "expected": step.step.expected.to_dict(),
        "manual": step.step.manual,
        "outcome": step.outcome.value,
        "message": step.message,
        "duration_ms": round(step.duration_ms, 2),
        "source": str(step.step.source),
        "exchanges": [e.to_dict() for e in step.exchanges],
        "findings": [f.to_dict() for f in step.findings],
        "answer": _answer(step),
    }
    if step.artifacts:  # only a step that made files says so: other runs read as before
        data["artifacts"] = [
            {
                "name": a.name,
                "media_type": a.media_type,
                "sha256": a.sha256,
                "bytes": len(a.data),
                "file": "evidence/" + artifact_name(case_id, step.step.id, a.name),
                "caption": a.caption.to_dict(),
            }
            for a in step.artifacts
        ]
    return data


def _answer(step: StepResult) -> dict[str, Any] | None:
    if step.answer is None:
        return None
    data = step.answer.to_dict()
    for item in data["attachments"]:
        item["file"] = "evidence/" + attachment_name(
            step.answer.case_id, step.answer.step_id, item["name"]
        )
    return data


def _case(case: CaseResult) -> dict[str, Any]:
    return {
        "id": case.case.id,
        "title": case.case.title.to_dict(),
        "requirements": list(case.case.requirements),
        "severity": case.case.severity.value,
        "outcome": case.outcome.value,
        "assessment": case.assessment.value,
        "started": case.started,
        "duration_ms": round(case.duration_ms, 2),
        "error": case.error,
        "not_in_scope": case.not_in_scope,
        "needs": case.case.needs.to_dict(),
        "source": str(case.case.source),
        "steps": [_step(s, case.case.id) for s in case.steps],
    }


def requirement_coverage(run: RunResult) -> dict[str, dict[str, Any]]:
    table: dict[str, list[CaseResult]] = {}
    for case in run.cases:
        for req in case.case.requirements:
            table.setdefault(req, []).append(case)
    return {
        req: {
            "cases": [c.case.id for c in cases],
            "outcome": Outcome.worst(c.outcome for c in cases).value,
        }
        for req, cases in sorted(table.items())
    }


def answerers(run: RunResult) -> list[str]:
    """Who answered the attended steps, in the order of their first answer."""
    names = [s.answer.tester for c in run.cases for s in c.steps if s.answer is not None]
    return list(dict.fromkeys(n for n in names if n))


def to_results(run: RunResult) -> dict[str, Any]:
    counts = Counter(c.outcome.value for c in run.cases)
    return {
        "schema": SCHEMA_ID,
        "run_id": run.run_id,
        "suite_version": run.suite_version,
        "started": run.started,
        "finished": run.finished,
        "test_type": run.test_type,
        "tester": run.tester,
        "operator": run.tester,
        "answerers": answerers(run),
        "lang": run.lang,
        "place": run.place,
        "verdict": run.verdict.value,
        "outcome": run.outcome.value,
        "error": run.error,
        "packs": list(run.packs),
        "parent_run": run.parent_run,
        "relation": run.relation,
        "scope": {**run.scope.to_dict(), "text": scope_text(run.scope, run.lang)},
        "sut": run.sut.to_dict(),
        "summary": {"cases": len(run.cases), **{o.value: counts.get(o.value, 0) for o in Outcome}},
        "requirements": requirement_coverage(run),
        "protocols": [
            {
                "id": p.protocol.id,
                "version": p.protocol.version,
                "title": p.protocol.title.to_dict(),
                "standard": p.protocol.standard,
                "file": p.protocol.source.file,
                "sha256": p.protocol.sha256,
                "outcome": p.outcome.value,
                "cases": [_case(c) for c in p.cases],
            }
            for p in run.protocols
        ],
    }
