"""Outcome precedence, MedCom severities and the verdict rule."""

from __future__ import annotations

import itertools

import pytest

from harness.model.finding import Finding
from harness.model.i18n import Text
from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Action, Protocol, Source, Step, TestCase
from harness.model.result import CaseResult, ProtocolResult, RunResult, StepResult, SutInfo

SRC = Source("t.yaml", 1)


def test_outcome_precedence() -> None:
    order = [Outcome.PASS, Outcome.SKIP, Outcome.PENDING, Outcome.FAIL, Outcome.ERROR]
    for low, high in itertools.pairwise(order):
        assert Outcome.worst([low, high]) is high
        assert Outcome.worst([high, low]) is high
    assert Outcome.worst([], default=Outcome.SKIP) is Outcome.SKIP


def test_severity_scale() -> None:
    assert [s.blocks_approval for s in Severity] == [True, True, True, False, False]
    assert Severity.gravest([Severity.F4, Severity.F2, Severity.F3]) is Severity.F2
    assert Severity.gravest([]) is Severity.OK
    with pytest.raises(ValueError, match="Expected a MedCom severity"):
        Severity.parse("F9")


def _run(*steps: tuple[Outcome, list[Finding]], error: str = "") -> RunResult:
    step = Step("1", Text("a"), "", Text("b"), Action("reset", {}, SRC), (), SRC)
    case = TestCase("T-1", Text("t"), ("MVP1-LPS-03",), Severity.F2, (step,), SRC)
    result = CaseResult(case, "p", [StepResult(step, o, f) for o, f in steps])
    protocol = Protocol("p", "1.0.0", Text("p"), "S", "", (case,), SRC)
    sut = SutInfo("s", "v", "1", "http", {}, {})
    return RunResult(
        "r", sut, "egentest", "", "", protocols=[ProtocolResult(protocol, [result])], error=error
    )


def f(sev: Severity) -> Finding:
    return Finding("R", sev, "m")


@pytest.mark.parametrize(
    ("steps", "error", "verdict"),
    [
        ([(Outcome.PASS, [])], "", Verdict.GODKENDT),
        ([(Outcome.FAIL, [f(Severity.F4)])], "", Verdict.GODKENDT),
        ([(Outcome.FAIL, [f(Severity.F3)])], "", Verdict.IKKE_GODKENDT),
        ([(Outcome.FAIL, [f(Severity.F1)]), (Outcome.PENDING, [])], "", Verdict.IKKE_GODKENDT),
        ([(Outcome.PASS, []), (Outcome.PENDING, [])], "", Verdict.AFVENTER),
        ([(Outcome.PASS, [])], "SUT unreachable", Verdict.FEJL),
        ([(Outcome.ERROR, []), (Outcome.FAIL, [f(Severity.F1)])], "", Verdict.FEJL),
    ],
)
def test_verdict(steps: list[tuple[Outcome, list[Finding]]], error: str, verdict: Verdict) -> None:
    run = _run(*steps, error=error)
    assert run.verdict is verdict
    assert verdict.exit_code == {"godkendt": 0, "fejl": 2, "afventer": 3}.get(verdict.value, 1)


def test_case_assessment_is_gravest_problem() -> None:
    run = _run((Outcome.FAIL, [f(Severity.F4), f(Severity.F2), f(Severity.OK)]))
    assert run.cases[0].assessment is Severity.F2
    assert run.cases[0].outcome is Outcome.FAIL


def test_text_falls_back_between_languages() -> None:
    assert Text("da", "").get("en") == "da"
    assert Text("", "en").get("da") == "en"
    assert Text.of("both").get("en") == "both"
