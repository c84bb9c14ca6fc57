"""Allure results (allure-results/): kcert outcomes mapped to Allure's vocabulary at the edge."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from pathlib import Path

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Attachment,
    Label,
    Parameter,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)

from harness.model.outcome import Outcome
from harness.model.result import CaseResult, RunResult

_STATUS = {
    Outcome.PASS: Status.PASSED,
    Outcome.FAIL: Status.FAILED,
    Outcome.ERROR: Status.BROKEN,
    Outcome.PENDING: Status.SKIPPED,
    Outcome.SKIP: Status.SKIPPED,
    Outcome.NOT_IN_SCOPE: Status.SKIPPED,
}


def _millis(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def write_allure(run: RunResult, directory: Path, evidence_dir: Path) -> Path:
    logger = AllureFileLogger(str(directory), clean=True)
    for case in run.cases:
        logger.report_result(_result(case, run, logger, evidence_dir))
    return directory


def _result(
    case: CaseResult, run: RunResult, logger: AllureFileLogger, evidence_dir: Path
) -> TestResult:
    full_name = f"{case.protocol_id}.{case.case.id}"
    start = _millis(case.started) or 0
    problems = [f for f in case.findings if f.is_problem]
    details = None
    if case.not_in_scope:
        details = StatusDetails(message=f"not in scope: {case.not_in_scope}")
    elif problems or case.error:
        details = StatusDetails(
            message=case.error or f"{case.assessment.value}: {problems[0].message}",
            trace="\n".join(f"[{f.severity.value}] {f.rule_id}: {f.message}" for f in problems),
        )
    steps = []
    for sresult in case.steps:
        attachments = []
        for exchange in sresult.exchanges:
            for name in exchange.evidence.values():
                source = evidence_dir / name
                if source.is_file():
                    target = f"{uuid.uuid4()}-attachment{source.suffix}"
                    logger.report_attached_file(str(source), target)
                    attachments.append(Attachment(name=name, source=target))
        steps.append(
            TestStepResult(
                name=f"{sresult.step.id}: {sresult.step.handling.get(run.lang)}",
                status=_STATUS[sresult.outcome],
                attachments=attachments,
            )
        )
    labels = [
        Label(name="suite", value=case.protocol_id),
        Label(name="severity", value=case.case.severity.value),
        Label(name="framework", value="kcert"),
    ]
    labels += [Label(name="story", value=req) for req in case.case.requirements]
    return TestResult(
        name=f"{case.case.id} {case.case.title.get(run.lang)}",
        fullName=full_name,
        uuid=str(uuid.uuid4()),
        historyId=hashlib.md5(f"{full_name}|{run.sut.name}".encode()).hexdigest(),
        testCaseId=hashlib.md5(full_name.encode()).hexdigest(),
        status=_STATUS[case.outcome],
        statusDetails=details,
        start=start,
        stop=start + int(case.duration_ms),
        steps=steps,
        labels=labels,
        parameters=[Parameter(name="sut", value=f"{run.sut.name} {run.sut.version}")],
    )
