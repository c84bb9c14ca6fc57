"""Report vocabulary in Danish (default) and English."""

from __future__ import annotations

from harness.model.outcome import Outcome, Verdict
from harness.model.scope import Scope

LABELS: dict[str, dict[str, str]] = {
    "da": {
        "title": "Testprotokol og certificeringsrapport",
        "vendor": "Leverandør",
        "system": "System",
        "version": "Version",
        "test_type": "Testtype",
        "date": "Testdato",
        "tester": "Udført af",
        "place": "Testlokation",
        "approved": "Godkendt",
        "yes": "Ja",
        "no": "Nej",
        "verdict": "Resultat",
        "run_id": "Kørsels-id",
        "suite": "kcert-version",
        "sut_endpoints": "SUT-adresser",
        "defects": "Indlagte fejl (reference-LPS)",
        "coverage": "Kravdækning",
        "requirement": "Krav",
        "cases": "Testcases",
        "result": "Resultat",
        "step": "Step",
        "handling": "Handling",
        "testdata": "Testdata",
        "expected": "Forventet resultat",
        "actual": "Aktuelt resultat",
        "assessment": "Vurdering",
        "findings": "Fund",
        "attention": "Kræver opmærksomhed",
        "waived": "dispenseret",
        "evidence": "Bevis",
        "as_expected": "Som forventet",
        "severity": "Alvorlighed ved fejl",
        "protocol": "Protokol",
        "summary": "Oversigt",
        "error": "Infrastrukturfejl (ikke en fejl i SUT)",
        "scale": "Skala: F1 Kritisk, F2 Alvorlig, F3 Betydelig, F4 Mindre betydelig, OK. "
        "Godkendelse kræver udelukkende F4 og OK.",
        "egentest": "Egentest",
        "endelig": "Endelig test/certificering",
        "manifest": "Manifest (SHA-256)",
        "rule": "Regel",
        "location": "Placering",
        "message": "Besked",
        "packs": "Valideringspakker",
        "no_packs": "ingen",
        "parent_run": "Genbedømmelse af",
        "answered_by": "Besvaret af",
        "attachments": "Bilag",
        "pending_manual": "afventer testerens svar",
        "not_run": "Ikke kørt (valideringspakke mangler)",
        "fhir_context": "FHIR-valideringskontekst",
        "artifact_files": "Filer",
        "slo_table": "SLO-resultater",
        "slo_operation": "Operation",
        "slo_measure": "Mål",
        "slo_measured": "Målt",
        "slo_allowed": "Tilladt",
        "scope": "Omfang",
        "not_in_scope_reason": "Ikke omfattet",
        "time_not_recorded": "tidspunkt ikke registreret",
        "answerers": "Manuelle trin besvaret af",
        "not_evaluated": "Ikke vurderet",
        "requirement_title": "Krav i den nationale plan",
        "wording_kcert": "kcerts egen beskrivelse af kravet; den nationale plans titel er ikke "
        "indført endnu.",
        "see_appendix": "se bilag A",
        "appendix_packs": "Bilag A: Valideringspakker",
        "pack_id": "Pakke",
        "pack_kind": "Type",
        "signoff": "Underskrifter",
        "signoff_note": "Underskrevet af de tre parter efter gennemgang af rapporten.",
        "signoff_role": "Rolle",
        "signoff_name": "Navn",
        "signoff_signature": "Underskrift",
        "signoff_date": "Dato",
        "signoff_tester": "Tester",
        "signoff_approver": "Godkender, MedCom",
        "signoff_vendor": "Leverandørens repræsentant",
        "digital_signature": "Digital signatur",
        "digital_signature_text": "kcert sign signerer manifest.json (SHA-256 af hver fil i "
        "kørslen, også denne rapport) og skriver signatursiden med underskriver og "
        "nøglefingeraftryk; kontrollér med kcert verify.",
        "signature_title": "Signaturside",
        "signature_state": "Signeret",
        "signer": "Underskriver",
        "fingerprint": "Nøglefingeraftryk",
        "algorithm": "Algoritme",
        "signed_file": "Signeret fil",
        "signed_at": "Signeret (tidspunkt fra kcert sign)",
        "signed_report": "Rapport",
        "signature_about": "Denne side er skrevet sammen med signaturen (manifest.sig) og er "
        "ikke selv en del af manifestet; signaturen dækker manifest.json, som har SHA-256 af "
        "rapporten og alle beviser.",
        "signature_check": "Kontrollér offline",
    },
    "en": {
        "title": "Test protocol and certification report",
        "vendor": "Vendor",
        "system": "System",
        "version": "Version",
        "test_type": "Test type",
        "date": "Test date",
        "tester": "Performed by",
        "place": "Test location",
        "approved": "Approved",
        "yes": "Yes",
        "no": "No",
        "verdict": "Result",
        "run_id": "Run id",
        "suite": "kcert version",
        "sut_endpoints": "SUT endpoints",
        "defects": "Planted defects (reference LPS)",
        "coverage": "Requirement coverage",
        "requirement": "Requirement",
        "cases": "Test cases",
        "result": "Result",
        "step": "Step",
        "handling": "Action",
        "testdata": "Test data",
        "expected": "Expected result",
        "actual": "Actual result",
        "assessment": "Assessment",
        "findings": "Findings",
        "attention": "Needs attention",
        "waived": "waived",
        "evidence": "Evidence",
        "as_expected": "As expected",
        "severity": "Severity on failure",
        "protocol": "Protocol",
        "summary": "Summary",
        "error": "Infrastructure error (not a fault of the SUT)",
        "scale": "Scale: F1 Critical, F2 Serious, F3 Significant, F4 Minor, OK. "
        "Approval requires only F4 and OK.",
        "egentest": "Self-test (Egentest)",
        "endelig": "Final test/certification (Endelig)",
        "manifest": "Manifest (SHA-256)",
        "rule": "Rule",
        "location": "Location",
        "message": "Message",
        "packs": "Validation packs",
        "no_packs": "none",
        "parent_run": "Re-judging of",
        "answered_by": "Answered by",
        "attachments": "Attachments",
        "pending_manual": "awaits the tester's answer",
        "not_run": "Not run (validation pack missing)",
        "fhir_context": "FHIR validation context",
        "artifact_files": "Files",
        "slo_table": "SLO outcomes",
        "slo_operation": "Operation",
        "slo_measure": "Measure",
        "slo_measured": "Measured",
        "slo_allowed": "Allowed",
        "scope": "Scope",
        "not_in_scope_reason": "Not in scope",
        "time_not_recorded": "time not recorded",
        "answerers": "Attended steps answered by",
        "not_evaluated": "Not evaluated",
        "requirement_title": "Requirement in the national plan",
        "wording_kcert": "kcert's own description of the requirement; the national plan's "
        "title is not entered yet.",
        "see_appendix": "see appendix A",
        "appendix_packs": "Appendix A: Validation packs",
        "pack_id": "Pack",
        "pack_kind": "Kind",
        "signoff": "Sign-off",
        "signoff_note": "Signed by the three parties after reviewing the report.",
        "signoff_role": "Role",
        "signoff_name": "Name",
        "signoff_signature": "Signature",
        "signoff_date": "Date",
        "signoff_tester": "Tester",
        "signoff_approver": "Approver, MedCom",
        "signoff_vendor": "Vendor representative",
        "digital_signature": "Digital signature",
        "digital_signature_text": "kcert sign signs manifest.json (the SHA-256 of every file "
        "of the run, this report included) and writes the signature page with the signer and "
        "the key fingerprint; check it with kcert verify.",
        "signature_title": "Signature page",
        "signature_state": "Signed",
        "signer": "Signer",
        "fingerprint": "Key fingerprint",
        "algorithm": "Algorithm",
        "signed_file": "Signed file",
        "signed_at": "Signed (time recorded by kcert sign)",
        "signed_report": "Report",
        "signature_about": "This page is written with the signature (manifest.sig) and is not "
        "itself part of the manifest; the signature covers manifest.json, which holds the "
        "SHA-256 of the report and of all evidence.",
        "signature_check": "Check offline",
    },
}

VERDICTS = {
    "da": {
        Verdict.GODKENDT: "Godkendt",
        Verdict.IKKE_GODKENDT: "Ikke godkendt",
        Verdict.AFVENTER: "Afventer",
        Verdict.FEJL: "Fejl (kunne ikke gennemføres)",
    },
    "en": {
        Verdict.GODKENDT: "Approved (Godkendt)",
        Verdict.IKKE_GODKENDT: "Not approved (Ikke godkendt)",
        Verdict.AFVENTER: "Pending (Afventer)",
        Verdict.FEJL: "Error (could not be completed)",
    },
}

# The states of a step or test case, for the report and the console alike. They never reuse a
# verdict's word: a failed case next to the verdict "Fejl" must not read "Fejl" (that verdict
# means kcert could not judge); a case kcert could not finish is "Afbrudt" (aborted).
OUTCOMES = {
    "da": {
        Outcome.PASS: "Bestået",
        Outcome.FAIL: "Ikke bestået",
        Outcome.ERROR: "Afbrudt",
        Outcome.PENDING: "Venter på tester",
        Outcome.SKIP: "Sprunget over",
        Outcome.NOT_IN_SCOPE: "Ikke omfattet",
    },
    "en": {
        Outcome.PASS: "Passed",
        Outcome.FAIL: "Failed",
        Outcome.ERROR: "Aborted",
        Outcome.PENDING: "Awaiting tester",
        Outcome.SKIP: "Skipped",
        Outcome.NOT_IN_SCOPE: "Not in scope",
    },
}


def labels(lang: str) -> dict[str, str]:
    return LABELS["en" if lang == "en" else "da"]


def verdict_text(verdict: Verdict, lang: str) -> str:
    return VERDICTS["en" if lang == "en" else "da"][verdict]


def outcome_text(outcome: Outcome, lang: str) -> str:
    words = OUTCOMES["en" if lang == "en" else "da"]
    return words.get(outcome, outcome.value)  # a state added without a word still shows


_SCOPE_WORDS = {
    "da": {
        "whole": "hele testsuiten (SUT har ikke erklæret sit omfang)",
        "none": "ingen standard",
        "send": "afsendelse",
        "receive": "modtagelse",
        "operations": "testagent-operationer",
        "selected": "udvalgte testcases",
        "sut-config": "erklæret i SUT-konfigurationen",
        "agent-health": "erklæret af testagenten (health)",
    },
    "en": {
        "whole": "the whole suite (the SUT declared no scope)",
        "none": "no standard",
        "send": "send",
        "receive": "receive",
        "operations": "test agent operations",
        "selected": "selected test cases",
        "sut-config": "declared in the SUT configuration",
        "agent-health": "declared by the test agent (health)",
    },
}


def scope_text(scope: Scope, lang: str) -> str:
    """The run's scope in one line: standards with version and directions, the operations,
    who declared them, and a --case/--requirement selection."""
    w = _SCOPE_WORDS["en" if lang == "en" else "da"]
    caps = scope.capabilities
    if caps is None:
        parts = [w["whole"]]
    else:
        claims = [
            f"{c.standard}{' ' + c.version if c.version else ''} "
            f"({', '.join(w[d] for d in c.directions)})"
            for c in caps.standards
        ]
        parts = ["; ".join(claims) or w["none"]]
        if caps.operations is not None:
            parts.append(f"{w['operations']}: {', '.join(sorted(caps.operations)) or '—'}")
        if caps.source in w:
            parts.append(w[caps.source])
    if scope.selection:
        parts.append(f"{w['selected']}: {' '.join(scope.selection)}")
    return " · ".join(parts)
