"""Waivers: accepted deviations stop blocking while valid, and say so when expired."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.model.outcome import Verdict
from harness.model.protocol import Protocol
from harness.report.waivers import apply_waivers, load_waivers
from harness.tests.conftest import run_reference
from harness.yamlsource import SourceError

TODAY = dt.date(2027, 3, 1)


def register(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _cc(protocols: list[Protocol]) -> list[Protocol]:
    return [p for p in protocols if p.id == "carecommunication-receive"]


def test_valid_waiver_turns_the_verdict(protocols: list[Protocol], tmp_path: Path) -> None:
    run = run_reference(_cc(protocols), ("server-error-on-garbage",))
    assert run.verdict is Verdict.IKKE_GODKENDT
    waivers = load_waivers(
        register(
            tmp_path,
            """\
waivers:
  - case: CC-R-08
    reason: Leverandøren retter 5xx i næste version
    approver: MedCom testleder
    expires: "2027-06-30"
""",
        )
    )
    apply_waivers(run, waivers, TODAY)
    assert run.verdict is Verdict.GODKENDT
    case = next(c for c in run.cases if c.case.id == "CC-R-08")
    problems = [f for f in case.findings if f.is_problem]  # notes (not evaluated) need none
    assert problems and all(f.waiver.startswith("Leverandøren retter") for f in problems)


def test_expired_waiver_stops_applying_and_says_so(
    protocols: list[Protocol], tmp_path: Path
) -> None:
    run = run_reference(_cc(protocols), ("server-error-on-garbage",))
    waivers = load_waivers(
        register(
            tmp_path,
            """\
waivers:
  - requirement: MVP1-LPS-03
    rule: HTTP-5XX
    reason: midlertidig
    approver: X
    expires: "2027-02-28"
""",
        )
    )
    apply_waivers(run, waivers, TODAY)
    assert run.verdict is Verdict.IKKE_GODKENDT
    rules = [f.rule_id for c in run.cases for f in c.findings]
    assert "WAIVER-EXPIRED" in rules


def test_rule_waiver_covers_only_its_rule(protocols: list[Protocol], tmp_path: Path) -> None:
    run = run_reference(_cc(protocols), ("server-error-on-garbage",))
    waivers = load_waivers(
        register(
            tmp_path,
            """\
waivers:
  - case: CC-R-08
    rule: HTTP-5XX
    reason: r
    approver: a
    expires: "2030-01-01"
""",
        )
    )
    apply_waivers(run, waivers, TODAY)
    case = next(c for c in run.cases if c.case.id == "CC-R-08")
    waived = {f.rule_id for f in case.findings if f.waiver}
    assert waived == {"HTTP-5XX"}
    # the 5xx is the step's one root finding: the status and OperationOutcome checks that
    # depend on it were not evaluated, so waiving it waives the case
    assert [f.rule_id for f in case.findings if not f.is_problem] == ["NOT-EVALUATED"] * 2
    assert run.verdict is Verdict.GODKENDT


def test_a_waiver_for_another_rule_leaves_the_finding_blocking(
    protocols: list[Protocol], tmp_path: Path
) -> None:
    run = run_reference(_cc(protocols), ("server-error-on-garbage",))
    waivers = load_waivers(
        register(
            tmp_path,
            """\
waivers:
  - case: CC-R-08
    rule: OO-MISSING
    reason: r
    approver: a
    expires: "2030-01-01"
""",
        )
    )
    apply_waivers(run, waivers, TODAY)
    case = next(c for c in run.cases if c.case.id == "CC-R-08")
    assert not any(f.waiver for f in case.findings)
    assert run.verdict is Verdict.IKKE_GODKENDT


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("waivers:\n  - case: X\n    reason: r\n    approver: a\n", 2, "expires"),
        (
            "waivers:\n  - case: X\n    reason: r\n    approver: a\n    expires: '2027-02-30'\n",
            5,
            "not a calendar date",
        ),
        ("waivers:\n  - reason: r\n    approver: a\n    expires: '2027-01-01'\n", 2, "case"),
    ],
)
def test_bad_register_is_an_error_at_file_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    path = register(tmp_path, text)
    with pytest.raises(SourceError) as err:
        load_waivers(path)
    assert str(err.value).startswith(f"{path}:{line}:") and needle in str(err.value)
