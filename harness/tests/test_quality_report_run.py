"""A quality run as a kcert run (`harness.quality.runrecord`): a case per clinic, a step per
check, a failed check an F3 finding naming its patient list, not applicable a skip, an error
an error; real-format CPRs masked on the way to the store."""

from __future__ import annotations

import dataclasses

from harness.model.outcome import Outcome, Severity, Verdict
from harness.quality.model import Status
from harness.quality.runrecord import REQUIREMENT, build_run
from harness.tests.quality_standin import CATALOGUE, hand_built_run

OWN = "999991000016008"


def test_a_case_per_clinic_and_a_step_per_check() -> None:
    qrun = hand_built_run()
    run = build_run(qrun, {OWN: (b"<svg/>", b"<svg/>")}, run_id="RUN-1", lang="en")
    assert [c.case.id for c in run.cases] == [f"DQ-{OWN}", "DQ-999971000016005"]
    own = run.cases[0]
    assert own.case.requirements == (REQUIREMENT,)
    assert [s.step.id for s in own.steps] == ["1", *(c.id for c in CATALOGUE.checks)]
    assert [a.name for a in own.steps[0].artifacts] == ["rates.svg", "data-age.svg"]
    by_id = {s.step.id: s for s in own.steps}
    gp = by_id["patient-without-gp"]
    assert gp.outcome is Outcome.FAIL
    (finding,) = gp.findings
    assert finding.severity is Severity.F3 and finding.rule_id == "DQ-patient-without-gp"
    assert finding.location.evidence == f"quality/failing-{OWN}-patient-without-gp.csv"
    assert "3.8 % (1/26) over the threshold 0.0 %" in finding.message
    assert by_id["birthdate-not-cpr"].outcome is Outcome.PASS
    assert by_id["startback-missing"].outcome is Outcome.SKIP
    assert by_id["startback-missing"].message == "nobody to judge"
    assert run.verdict is Verdict.IKKE_GODKENDT and run.verdict.exit_code == 1
    assert all(s.outcome is not Outcome.FAIL for s in run.cases[1].steps)
    assert run.protocols[0].protocol.sha256 == CATALOGUE.sha256


def test_an_error_is_fejl_and_all_passed_is_godkendt() -> None:
    qrun = hand_built_run()
    other = qrun.clinics[1]
    clean = dataclasses.replace(qrun, clinics=(other,))
    assert build_run(clean, {}, run_id="R").verdict is Verdict.GODKENDT
    erring = dataclasses.replace(
        other,
        results=(
            dataclasses.replace(other.results[0], status=Status.ERROR, reason="boom"),
            *other.results[1:],
        ),
    )
    run = build_run(dataclasses.replace(qrun, clinics=(erring,)), {}, run_id="R")
    assert run.verdict is Verdict.FEJL and run.cases[0].steps[1].message == "boom"


def test_a_real_format_cpr_in_a_name_or_source_is_masked() -> None:
    qrun = hand_built_run()
    real = "0101501234"
    named = dataclasses.replace(qrun.clinics[0], name=f"Klinik {real}", source=f"/x/{real}.json")
    run = build_run(
        dataclasses.replace(qrun, clinics=(named,)), {}, run_id="R", sources=[f"/x/{real}.json"]
    )
    case = run.cases[0]
    texts = [
        case.case.title.get("da"),
        run.sut.name,
        case.steps[0].message,
        case.case.steps[0].testdata,
    ]
    assert all(real not in t and "010150-xxxx" in t for t in texts)
