"""The defect matrix: the clean reference LPS passes everything; each defect is caught."""

from __future__ import annotations

import re
from pathlib import Path

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
    "ack-missing-destination-use": ("CC-R-12", Severity.F3),
    "ack-missing-timestamp": ("CC-R-12", Severity.F3),
    "ack-destination-cc": ("CC-R-12", Severity.F3),
    "server-error-on-garbage": ("CC-R-08", Severity.F3),
    "xml-unsupported": ("CC-R-02", Severity.F2),
    "bp-threshold-inclusive": ("KC-P04", Severity.F2),
    "stale-data-counted": ("KC-P04", Severity.F2),
    "egfr-text-skipped": ("KC-P10", Severity.F2),
    "deceased-included": ("KC-P01", Severity.F2),
    "other-clinic-included": ("KC-P01", Severity.F2),
    "moved-away-included": ("KC-P01", Severity.F2),
    "red-yellow-swapped": ("KC-P05", Severity.F2),
    "as-of-ignored": ("KC-ASOF", Severity.F2),
    "deep-link-wrong-patient": ("KC-LINK", Severity.F1),
    "age-by-year": ("KC-P01", Severity.F2),
    "send-missing-topic": ("CC-S-01", Severity.F2),
    "send-wrong-profile": ("CC-S-01", Severity.F2),
    "no-resend": ("CC-S-02", Severity.F2),
    "referral-bad-gln": ("REF-S-01", Severity.F2),
    "fatal-ack-as-ok": ("CC-S-03", Severity.F2),
    "cpd-missing-goal-section": ("CP-01", Severity.F2),
    "cpd-wrong-cpr-root": ("CP-01", Severity.F2),
    "cpd-metadata-cpr-mismatch": ("CP-02", Severity.F1),
    "cpd-stale-measurement": ("CP-03", Severity.F2),
    "cpd-replacement-without-parent": ("CP-04", Severity.F2),
    "qrd-ignored": ("PRO-02", Severity.F2),
}


# Defects only MedCom's profiles catch (kcert's own rules do not look there): their matrix
# entry runs with the dev FHIR packs installed, and is skipped, saying so, without them.
PROFILE_ONLY = frozenset(
    {"ack-missing-destination-use", "ack-missing-timestamp", "ack-destination-cc"}
)

# defects of what the LPS sends on request of a TestScript (agent API 1.4.0): caught by named
# tests of harness/tests/test_testscript_sending.py, which run the reference LPS with them
CAUGHT_BY_TESTSCRIPT: dict[str, str] = {
    "reply-new-thread": "test_a_reply_with_a_new_thread_identifier_is_caught",
    "attachment-wrong-size": "test_an_attachment_stated_wrongly_fails_the_operation",
    "attachment-sha256-hash": "test_an_attachment_stated_wrongly_fails_the_operation",
}


def protocol_file_of(case_id: str) -> str:
    for prefix, name in (
        ("CC-S-", "carecommunication-send.yaml"),
        ("REF-S-", "referral-send.yaml"),
        ("CC-", "carecommunication-receive.yaml"),
        ("CP-", "careplan-sharing.yaml"),
        ("PRO-", "pro-documents.yaml"),
    ):
        if case_id.startswith(prefix):
            return name
    return "cockpit-profiles.yaml"


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
    mine = [p for p in protocols if Path(p.source.file).name == protocol_file_of(case_id)]
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
    # the catching case's own protocol only: the matrix stays fast as the suite grows
    mine = [p for p in protocols if Path(p.source.file).name == protocol_file_of(case_id)]
    assert mine, protocol_file_of(case_id)
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
