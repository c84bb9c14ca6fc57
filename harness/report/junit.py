"""JUnit XML: one testsuite per protocol, one testcase per test case (for CI dashboards)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.model.outcome import Outcome
from harness.model.result import RunResult

_NOT_RUN = (Outcome.SKIP, Outcome.PENDING, Outcome.NOT_IN_SCOPE)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """SUT text may hold control characters XML 1.0 cannot carry: shown as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def write_junit(run: RunResult, path: Path) -> Path:
    suites = ET.Element("testsuites", name=f"kcert {run.run_id}")
    for presult in run.protocols:
        cases = presult.cases
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=presult.protocol.id,
            tests=str(len(cases)),
            failures=str(sum(c.outcome is Outcome.FAIL and c.blocking for c in cases)),
            errors=str(sum(c.outcome is Outcome.ERROR for c in cases)),
            skipped=str(sum(c.outcome in _NOT_RUN for c in cases)),
            time=f"{sum(c.duration_ms for c in cases) / 1000:.3f}",
            timestamp=run.started,
        )
        for case in cases:
            element = ET.SubElement(
                suite,
                "testcase",
                classname=presult.protocol.id,
                name=f"{case.case.id} {case.case.title.en}",
                time=f"{case.duration_ms / 1000:.3f}",
            )
            props = ET.SubElement(element, "properties")
            for req in case.case.requirements:
                ET.SubElement(props, "property", name="requirement", value=req)
            ET.SubElement(props, "property", name="assessment", value=case.assessment.value)
            text = "\n".join(
                f"[{f.severity.value}] {f.rule_id} step {f.step_id}: {f.message}"
                for f in case.findings
                if f.is_problem
            )
            if case.outcome is Outcome.FAIL and not case.blocking:
                ET.SubElement(element, "system-out").text = _xml_text(text)
            elif case.outcome is Outcome.FAIL:
                ET.SubElement(
                    element, "failure", message=f"{case.assessment.value}", type="kcert.fail"
                ).text = _xml_text(text)
            elif case.outcome is Outcome.ERROR:
                ET.SubElement(
                    element, "error", message=_xml_text(case.error), type="kcert.error"
                ).text = _xml_text(case.error)
            elif case.outcome is Outcome.NOT_IN_SCOPE:
                ET.SubElement(
                    element, "skipped", message=_xml_text(f"not in scope: {case.not_in_scope}")
                )
            elif case.outcome in (Outcome.SKIP, Outcome.PENDING):
                ET.SubElement(element, "skipped", message=case.outcome.value)
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
