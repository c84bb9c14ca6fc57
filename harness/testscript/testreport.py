"""The FHIR TestReport of one script run (R4), written next to the kcert report.

It is derived from the script's protocol result alone (each step is one TestScript action),
so a resumed, answered or re-judged run writes it just as the first pass did.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import __version__
from harness.checks.realcpr import mask_text
from harness.dates import now_iso
from harness.model.outcome import Outcome, Severity
from harness.model.result import CaseResult, ProtocolResult, RunResult, StepResult
from harness.testscript.protocol import SETUP, TEARDOWN, case_ids
from harness.testscript.script import Script
from harness.testscript.steps import ASSERT_RULE, SUT_RULE

FOLDER = "testreports"
_SAFE = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass
class ActionResult:
    """One action's result as TestReport states it."""

    kind: str  # "operation" or "assert"
    result: str  # pass, fail, warning, error, skip
    message: str
    detail: str = ""


def _kind(step: StepResult) -> str:
    kind = step.step.action.kind if step.step.action else "operation"
    return "assert" if kind.endswith("assert") else "operation"


def action_result(step: StepResult) -> ActionResult:
    """What one step (one TestScript action) comes to in TestReport's words."""
    kind, message = _kind(step), mask_text(step.message)
    if step.outcome is Outcome.SKIP:
        return ActionResult(kind, "skip", message)
    if step.outcome is Outcome.ERROR:
        return ActionResult(kind, "error", message)
    failed = next((f for f in step.findings if f.rule_id == SUT_RULE), None)
    if failed is not None:  # the SUT refused or sent nothing: the finding says so
        return ActionResult(kind, "fail", mask_text(failed.message))
    result = "fail" if step.outcome is Outcome.FAIL else "pass"
    if kind == "assert":
        asserted = next((f for f in step.findings if f.rule_id == ASSERT_RULE), None)
        if asserted is not None and asserted.severity is Severity.F4:
            result = "warning"
        return ActionResult(kind, result, message)
    # an operation's message starts "METHOD URL: HTTP status"; the URL is its detail
    head = message.split("; ")[0]
    url = head.partition(" ")[2].rpartition(": ")[0]
    return ActionResult(kind, result, message, url)


def case_actions(case: CaseResult) -> list[ActionResult]:
    """Every action of the case; those that did not run (the setup failed, the SUT was not
    reachable) are skipped with the case's reason."""
    done = [action_result(s) for s in case.steps]
    for step in case.case.steps[len(done) :]:
        kind = "assert" if step.action and step.action.kind.endswith("assert") else "operation"
        done.append(ActionResult(kind, "skip", case.error or case.not_in_scope or "not run"))
    return done


def _action(action: ActionResult) -> dict[str, Any]:
    body: dict[str, Any] = {"result": action.result}
    if action.message:
        body["message"] = action.message
    if action.detail and action.kind == "operation":
        body["detail"] = action.detail
    if action.kind == "operation" and action.result == "warning":
        body["result"] = "fail"
    return {action.kind: body}


def build(script: Script, done: ProtocolResult, run: RunResult) -> dict[str, Any]:
    sections = {c.case.id: c for c in done.cases}
    blocks = list(zip(case_ids(script), script.blocks(), strict=True))
    acted = {c.case.id: case_actions(c) for c in done.cases}
    every = [a for actions in acted.values() for a in actions]
    asserts = [a for a in every if a.kind == "assert"]
    passed = sum(a.result in ("pass", "warning") for a in asserts)
    failed = any(a.result in ("fail", "error") for a in every)
    report: dict[str, Any] = {
        "resourceType": "TestReport",
        "id": _SAFE.sub("-", f"{run.run_id}-{done.protocol.id}")[:64],
        "identifier": {"system": "urn:kcert:run", "value": f"{run.run_id}/{done.protocol.id}"},
        "name": script.title,
        "status": "completed",
        "testScript": {
            "reference": str(script.data.get("url") or f"TestScript/{script.id}"),
            "display": script.file,
        },
        "result": "fail" if failed else "pass",
        "score": round(100.0 * passed / len(asserts), 1) if asserts else 100.0,
        "tester": f"kcert {__version__}",
        "issued": run.finished or now_iso(),
        "participant": [
            {"type": "test-engine", "uri": f"urn:kcert:{__version__}", "display": "kcert"},
            {
                "type": "client" if script.client_mode() else "server",
                "uri": run.sut.endpoints.get("fhir", "urn:unknown"),
                "display": run.sut.name,
            },
        ],
    }
    tests = []
    for case_id, (section, block) in blocks:
        result = sections.get(case_id)
        if result is None:
            continue  # a case the run did not reach (a re-judged run covers what it recorded)
        actions = [_action(a) for a in acted[case_id]]
        if section == SETUP:
            report["setup"] = {"action": actions}
        elif section == TEARDOWN:
            # TestReport's teardown holds operations only
            ops = [a for a in actions if "operation" in a]
            if ops:
                report["teardown"] = {"action": ops}
        else:
            test: dict[str, Any] = {"action": actions}
            if block.get("name"):
                test["name"] = str(block["name"])
            if block.get("description"):
                test["description"] = str(block["description"])
            if result.error and not actions:
                test["action"] = [{"operation": {"result": "error", "message": result.error}}]
            tests.append(test)
    if tests:
        report["test"] = tests
    return report


def file_name(protocol_id: str) -> str:
    return _SAFE.sub("-", protocol_id) + ".json"


def write(report: dict[str, Any], folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
