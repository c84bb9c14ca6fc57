"""The Schematron conformance suites (../shared/corpus/schematron-tests) on kcert's compiler.

One test per testcase file (per schema variant when a file has several); the reading, running
and judging live in harness.validators.schematron.conformance. Cases kcert knowingly answers
otherwise are strict xfails with their reason; the last test reports the agreement.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.validators.schematron.conformance import (
    KNOWN_DIVERGENCES,
    Case,
    Result,
    agreement,
    discover,
    run_case,
)

SUITE = Path(__file__).parents[2].parent / "shared" / "corpus" / "schematron-tests"
TARGET = 0.95

if not SUITE.is_dir():
    pytest.skip(
        f"../shared/corpus is absent ({SUITE}): the conformance suites are not available",
        allow_module_level=True,
    )

CASES = discover(SUITE)
_results: dict[str, Result] = {}


def outcome(case: Case, tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The case's result, computed once per session (the agreement test reuses it)."""
    if case.id not in _results:
        _results[case.id] = run_case(case, tmp_path_factory.mktemp("case"))
    return _results[case.id]


def _param(case: Case) -> object:
    reason = KNOWN_DIVERGENCES.get(case.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_agrees(case: Case, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = outcome(case, tmp_path_factory)
    assert result.agrees, f"{case.id} ({case.label}): {result.describe()}"


def test_agreement_meets_the_target(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    results = [outcome(case, tmp_path_factory) for case in CASES]
    agree, total = agreement(results)
    outside = sorted(set(KNOWN_DIVERGENCES) & {r.case.id for r in results})
    line = (
        f"schematron conformance: {agree}/{total} in-scope cases agree "
        f"({100 * agree / max(total, 1):.1f} %, target {TARGET:.0%}); "
        f"{len(outside)} out of scope: {', '.join(outside) or 'none'}"
    )
    with capsys.disabled():  # shown in every run, not only with -s
        print(f"\n{line}")
    assert not set(KNOWN_DIVERGENCES) - {c.id for c in CASES}, "a divergence names no case"
    assert total and agree / total >= TARGET, line
