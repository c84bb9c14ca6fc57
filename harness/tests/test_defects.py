"""The defect matrix: the clean reference LPS passes everything; each defect is caught."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from harness.fixtures import REPO_ROOT
from harness.loader.protocols import discover, load_all
from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.reflps.defects import CATALOGUE
from harness.standards import STANDARDS
from harness.tests.conftest import run_reference

# Every defect's catalogue entry is its standard's (harness/standards/<standard>/__init__.py):
# the named test case that must catch it and the assessment it must carry, or the kcert test
# that does. test_standards.py holds the entries to the reference LPS's own catalogue.
ENTRIES = {name: entry for name, (_, entry) in STANDARDS.defects().items()}
CAUGHT_BY: dict[str, tuple[str, Severity]] = {
    name: (entry.case, entry.severity) for name, entry in ENTRIES.items() if entry.case
}

# Defects only MedCom's profiles catch (kcert's own rules do not look there): their matrix
# entry runs with the dev FHIR packs installed, and is skipped, saying so, without them.
PROFILE_ONLY = frozenset(name for name, entry in ENTRIES.items() if entry.profile_only)

# defects of what the LPS sends on request of a TestScript (agent API 1.4.0): caught by named
# tests of harness/tests/test_testscript_sending.py, which run the reference LPS with them
CAUGHT_BY_TESTSCRIPT: dict[str, str] = {
    name: entry.test.rsplit("::", 1)[-1] for name, entry in ENTRIES.items() if entry.test
}


def protocols_of(protocols: list[Protocol], case_id: str) -> list[Protocol]:
    """The catching case's own protocol only: the matrix stays fast as the suite grows."""
    return [p for p in protocols if any(c.id == case_id for c in p.cases)]


@functools.cache
def _case_files() -> dict[str, str]:
    loaded, errors = load_all(discover(REPO_ROOT / "testcases"))
    assert not errors, errors
    return {c.id: Path(p.source.file).name for p in loaded for c in p.cases}


def protocol_file_of(case_id: str) -> str:
    """The file name (under testcases/) of the protocol that holds the case."""
    return _case_files()[case_id]


def test_clean_reference_passes_everything(clean_run: RunResult) -> None:
    assert clean_run.verdict is Verdict.GODKENDT
    assert [c.case.id for c in clean_run.cases if c.outcome is not Outcome.PASS] == []
    assert len(clean_run.cases) >= 10
    assert all(not f.is_problem for c in clean_run.cases for f in c.findings)


def test_every_defect_has_a_catching_case() -> None:
    assert set(CAUGHT_BY) | set(CAUGHT_BY_TESTSCRIPT) == set(CATALOGUE)
    assert not set(CAUGHT_BY) & set(CAUGHT_BY_TESTSCRIPT)
    assert len(CATALOGUE) >= 4
    assert set(CATALOGUE) >= PROFILE_ONLY
    from harness.tests import test_testscript_sending

    for name in CAUGHT_BY_TESTSCRIPT.values():
        assert callable(getattr(test_testscript_sending, name)), name


@pytest.mark.parametrize("defect", sorted(PROFILE_ONLY))
def test_profile_only_defects_pass_without_the_packs(
    protocols: list[Protocol], defect: str
) -> None:
    """Without the packs kcert's own rules do not see these defects: the named case passes and
    says that the profile validation did not run (so the matrix entry above is the profile's)."""
    case_id = CAUGHT_BY[defect][0]
    mine = protocols_of(protocols, case_id)
    run = run_reference(mine, (defect,))
    case = {c.case.id: c for c in run.cases}[case_id]
    assert case.outcome is Outcome.PASS, [f.message for f in case.findings if f.is_problem]
    notes = [f.message for f in case.findings if f.rule_id == "PACK-MISSING"]
    assert any("MedCom acknowledgement profile validation" in n for n in notes), notes


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY))
def test_defect_is_caught_by_its_named_case(
    protocols: list[Protocol],
    defect: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id, severity = CAUGHT_BY[defect]
    if defect in PROFILE_ONLY:
        monkeypatch.setenv("KCERT_PACKS", str(request.getfixturevalue("dev_fhir_packs")))
    mine = protocols_of(protocols, case_id)
    assert len(mine) == 1, case_id
    run = run_reference(mine, (defect,))
    assert run.verdict is Verdict.IKKE_GODKENDT
    by_id = {c.case.id: c for c in run.cases}
    catching = by_id[case_id]
    assert catching.outcome is Outcome.FAIL, f"{defect} not caught by {case_id}"
    assert catching.assessment is severity
    if case_id.startswith("KC-"):
        # the finding names the profile (or link) and the wrong patients by CPR
        messages = [f.message for f in catching.findings if f.blocking]
        assert any(re.search(r"\b[0-9]{10}\b", m) for m in messages), messages
        profile = catching.case.title.en.split(": ")[0].removeprefix("Profile ")
        if case_id.startswith("KC-P"):
            assert all(profile in m for m in messages), messages
    if defect in PROFILE_ONLY:
        # caught by MedCom's profile (the validator's rules), not by kcert's own rules
        rules = {f.rule_id for f in catching.findings if f.blocking}
        assert rules and all(r.startswith("FHIR-") for r in rules), rules
    # no defect may surface as a kcert error instead of a finding
    assert not [c.case.id for c in run.cases if c.outcome is Outcome.ERROR]
