"""A TestScript seen as a kcert protocol: one test case per test, one step per action."""

from __future__ import annotations

from typing import Any

from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.model.protocol import Action, Expectation, Protocol, Source, Step, TestCase
from harness.testscript.script import Script

STANDARD = "fhir-testscript"
SETUP = "setup"
TEARDOWN = "teardown"


def _text(value: Any) -> Text:
    """The script's own words serve both report languages."""
    return Text.of(str(value)) if value else Text()


def action_text(action: dict[str, Any]) -> str:
    body = action.get("operation") or action.get("assert") or {}
    for key in ("description", "label"):
        if isinstance(body.get(key), str) and body[key].strip():
            return str(body[key]).strip()
    if "operation" in action:
        code = (body.get("type") or {}).get("code") or body.get("method") or "?"
        return f"operation {code} {body.get('resource', '')}".strip()
    return "assert " + ", ".join(k for k in body if k not in ("warningOnly", "direction"))


def _steps(script: Script, block: dict[str, Any], section: str) -> tuple[Step, ...]:
    steps = []
    for index, action in enumerate(block.get("action", [])):
        kind = "operation" if "operation" in action else "assert"
        source = Source(f"{script.path}#{section}.action[{index}]", index + 1)
        text = action_text(action)
        steps.append(
            Step(
                id=str(index + 1),
                handling=_text(text) if kind == "operation" else Text(),
                testdata=str((action.get("operation") or {}).get("sourceId", "")),
                expected=_text(text) if kind == "assert" else Text(),
                # the registered action and check of the same name (harness.testscript.steps)
                action=Action(f"testscript-{kind}", dict(action[kind]), source),
                expectations=(Expectation(f"testscript-{kind}", {}, source),),
                source=source,
            )
        )
    return tuple(steps)


def case_ids(script: Script) -> list[str]:
    """Unique case ids: "setup", each test's id (or test-N), "teardown"."""
    ids: list[str] = []
    for section, block in script.blocks():
        if section in (SETUP, TEARDOWN):
            ids.append(section)
            continue
        base = str(block.get("id") or block.get("name") or f"test-{len(ids) + 1}")
        base = "".join(c if c.isalnum() or c in "._-" else "-" for c in base) or "test"
        candidate, n = base, 2
        while candidate in ids:
            candidate, n = f"{base}-{n}", n + 1
        ids.append(candidate)
    return ids


def to_protocol(script: Script, protocol_id: str) -> Protocol:
    cases = []
    for case_id, (section, block) in zip(case_ids(script), script.blocks(), strict=True):
        title = block.get("name") or block.get("description") or case_id
        if section in (SETUP, TEARDOWN):
            title = f"{section}: {script.title}"
        cases.append(
            TestCase(
                id=case_id,
                title=_text(title),
                requirements=(),
                severity=Severity.F2,
                steps=_steps(script, block, section),
                source=Source(f"{script.path}#{section}", 1),
                description=_text(block.get("description", "")),
            )
        )
    return Protocol(
        id=protocol_id,
        version=str(script.data.get("version", "")),
        title=_text(script.title),
        standard=STANDARD,
        capability=str(script.data.get("url") or script.data.get("name") or script.id),
        cases=tuple(cases),
        source=Source(str(script.path), 1),
        sha256=script.sha256,
        shares_state=True,
        setup_case=SETUP if script.section(SETUP) else "",
        teardown_case=TEARDOWN if script.section(TEARDOWN) else "",
    )
