"""The defect matrix: the clean reference LPS passes everything; each defect is caught."""

from __future__ import annotations

import pytest

from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.reflps.defects import CATALOGUE
from harness.tests.conftest import run_reference

# defect -> (the named test case that must catch it, the assessment it must carry)
CAUGHT_BY: dict[str, tuple[str, Severity]] = {
    "ack-wrong-reference": ("CC-R-01", Severity.F2),
    "ack-sender-not-swapped": ("CC-R-01", Severity.F2),
    "duplicate-processed-twice": ("CC-R-05", Severity.F2),
    "no-negative-ack": ("CC-R-06", Severity.F2),
    "ack-missing-operationoutcome": ("CC-R-06", Severity.F2),
    "ack-without-provenance": ("CC-R-12", Severity.F3),
    "server-error-on-garbage": ("CC-R-08", Severity.F3),
    "xml-unsupported": ("CC-R-02", Severity.F2),
}


def test_clean_reference_passes_everything(clean_run: RunResult) -> None:
    assert clean_run.verdict is Verdict.GODKENDT
    assert [c.case.id for c in clean_run.cases if c.outcome is not Outcome.PASS] == []
    assert len(clean_run.cases) >= 10
    assert all(not f.is_problem for c in clean_run.cases for f in c.findings)


def test_every_defect_has_a_catching_case() -> None:
    assert set(CAUGHT_BY) == set(CATALOGUE)
    assert len(CATALOGUE) >= 4


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY))
def test_defect_is_caught_by_its_named_case(protocols: list[Protocol], defect: str) -> None:
    case_id, severity = CAUGHT_BY[defect]
    run = run_reference(protocols, (defect,))
    assert run.verdict is Verdict.IKKE_GODKENDT
    by_id = {c.case.id: c for c in run.cases}
    catching = by_id[case_id]
    assert catching.outcome is Outcome.FAIL, f"{defect} not caught by {case_id}"
    assert catching.assessment is severity
    # no defect may surface as a kcert error instead of a finding
    assert not [c.case.id for c in run.cases if c.outcome is Outcome.ERROR]
