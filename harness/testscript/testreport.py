"""The FHIR TestReport of one script run (R4), written next to the kcert report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness import __version__
from harness.sut.config import SutConfig
from harness.testscript.engine import ActionResult, ScriptResult
from harness.testscript.protocol import SETUP, TEARDOWN

FOLDER = "testreports"
_SAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _action(action: ActionResult) -> dict[str, Any]:
    body: dict[str, Any] = {"result": action.result}
    if action.message:
        body["message"] = action.message
    if action.detail and action.kind == "operation":
        body["detail"] = action.detail
    if action.kind == "operation" and action.result == "warning":
        body["result"] = "fail"
    return {action.kind: body}


def build(done: ScriptResult, sut: SutConfig, run_id: str) -> dict[str, Any]:
    script = done.script
    asserts = [a for s in done.sections for a in s.actions if a.kind == "assert"]
    passed = sum(a.result in ("pass", "warning") for a in asserts)
    failed = any(a.result in ("fail", "error") for s in done.sections for a in s.actions)
    report: dict[str, Any] = {
        "resourceType": "TestReport",
        "id": _SAFE.sub("-", f"{run_id}-{done.protocol.id}")[:64],
        "identifier": {"system": "urn:kcert:run", "value": f"{run_id}/{done.protocol.id}"},
        "name": script.title,
        "status": "completed",
        "testScript": {
            "reference": str(script.data.get("url") or f"TestScript/{script.id}"),
            "display": script.file,
        },
        "result": "fail" if failed else "pass",
        "score": round(100.0 * passed / len(asserts), 1) if asserts else 100.0,
        "tester": f"kcert {__version__}",
        "issued": done.issued,
        "participant": [
            {"type": "test-engine", "uri": f"urn:kcert:{__version__}", "display": "kcert"},
            {
                "type": "client" if script.client_mode() else "server",
                "uri": sut.endpoints.get("fhir", "urn:unknown"),
                "display": sut.name,
            },
        ],
    }
    tests = []
    for section in done.sections:
        actions = [_action(a) for a in section.actions]
        if section.section == SETUP:
            report["setup"] = {"action": actions}
        elif section.section == TEARDOWN:
            # TestReport's teardown holds operations only
            ops = [a for a in actions if "operation" in a]
            if ops:
                report["teardown"] = {"action": ops}
        else:
            test: dict[str, Any] = {"action": actions}
            if section.name:
                test["name"] = section.name
            if section.description:
                test["description"] = section.description
            if section.case.error and not actions:
                test["action"] = [{"operation": {"result": "error", "message": section.case.error}}]
            tests.append(test)
    if tests:
        report["test"] = tests
    return report


def file_name(done: ScriptResult) -> str:
    return _SAFE.sub("-", done.protocol.id) + ".json"


def write(report: dict[str, Any], folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
