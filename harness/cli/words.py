"""The console's words in Danish (default) and English: `--lang` switches the terminal too.

Verdicts and case states come from the report's one table (`harness.report.i18n`), so the
terminal and the report never name the same thing differently. What kcert itself prints
around them (progress, the verdict line, not-run notes, the frame of an error) is here.
Details that come from deeper down (a finding's message, the reason of an error) stay in the
language they were written in, English, as in the report.
"""

from __future__ import annotations

from harness.model.outcome import Outcome, Verdict
from harness.report.i18n import outcome_text, verdict_text

CONSOLE: dict[str, dict[str, str]] = {
    "da": {
        "cases": "{n} testcases",
        "reason": "årsag: {text}",
        "caught_by": "fanget af: {names}",
        "not_run": "ikke kørt:",
        "pack_missing": "valideringspakke mangler",
        "pack_hint": "(kcert packs install …, eller make packs-dev)",
        "awaiting": "afventer en tester: {steps}",
        "step": "{case} trin {step}",
        "answer_with": "svar med: kcert answer {run}",
        "report": "rapport: {path}",
        "error": "kcert: fejl: {text}",
        "interrupted": "kcert: afbrudt",
        "writing": "skriver rapporten …",
        "writing_pdf": "skriver rapporten og report.pdf …",
        "resuming": "genoptager {run}: {done} af {total} testcases er allerede registreret",
        "answered": "{n} af {total} manuelle trin besvaret",
        "no_manual": "kørsel {run}: intet manuelt trin afventer svar",
        "same_verdict": "samme resultat som {run}: {verdict}",
        "verdict_changed": "resultatet er ændret fra {before} ({run}) til {after}",
        "differ": "bemærk: {n} forespørgsel(er) afviger fra de registrerede bytes, fx {first}",
        "not_rejudged": "kunne ikke bedømmes igen: {cases}",
        "packs_gone": "bemærk: kørslens valideringspakke(r) er ikke længere installeret: "
        "{packs}; deres kontroller vises som ikke kørt",
        "signature_dropped": "kørslen er ændret, så dens gamle signatur gælder ikke længere: "
        "signér den igen med kcert sign {run}",
        "runs_in": "{n} kørsel(er) i {store}",
        "unfinished": "ikke afsluttet ({n} testcase(s) registreret): kcert resume {run}",
        "signed": "signeret: {path}",
        "signature_page": "signaturside: {path}",
        "verified": "VERIFICERET",
        "not_verified": "IKKE VERIFICERET",
        "signed_by": "signeret af: {who} (nøgle {fp})",
        "trust_hint": "nøglen {fp} er ikke betroet: er den underskriverens, så stol på den med "
        "kcert keys trust FIL --name NAVN (eller giv den med --public-key FIL)",
        "key_trusted": "betroet: {name} (nøgle {fp})",
        "key_untrusted": "ikke længere betroet: {name} (nøgle {fp})",
        "keys_trusted": "betroede nøgler: {n} i {folder}",
        "key_readable": "advarsel: den private nøgle {path} kan læses af andre end ejeren "
        "(tilstand {mode}): chmod 600 {path}",
        "peer": "kcerts modtager: {url} (lytter på {bind}, {mode})",
        "peer_http": "uden TLS",
        "peer_tls": "TLS",
        "peer_mtls": "TLS, klientcertifikat påkrævet",
        "handling": "Handling",
        "testdata": "Testdata",
        "expected": "Forventet",
        "assessment": "Vurdering",
        "note": "Bemærkning",
        "answered_by": "Besvaret af (navn)",
        "attachments": "Bilag (filer, adskilt af komma; tom for ingen)",
        "not_found": "findes ikke",
    },
    "en": {
        "cases": "{n} test cases",
        "reason": "reason: {text}",
        "caught_by": "caught by: {names}",
        "not_run": "not run:",
        "pack_missing": "pack missing",
        "pack_hint": "(kcert packs install …, or make packs-dev)",
        "awaiting": "awaiting a tester: {steps}",
        "step": "{case} step {step}",
        "answer_with": "answer with: kcert answer {run}",
        "report": "report: {path}",
        "error": "kcert: error: {text}",
        "interrupted": "kcert: interrupted",
        "writing": "writing the report …",
        "writing_pdf": "writing the report and report.pdf …",
        "resuming": "resuming {run}: {done} of {total} test cases already recorded",
        "answered": "{n} of {total} manual step(s) answered",
        "no_manual": "run {run}: no manual step awaits an answer",
        "same_verdict": "same verdict as {run}: {verdict}",
        "verdict_changed": "verdict changed from {before} ({run}) to {after}",
        "differ": "note: {n} request(s) differ from the recorded bytes, e.g. {first}",
        "not_rejudged": "could not be judged again: {cases}",
        "packs_gone": "note: pack(s) of the recorded run no longer installed: {packs}; "
        "their checks show as not run",
        "signature_dropped": "the run changed, so its old signature no longer applies: sign it "
        "again with kcert sign {run}",
        "runs_in": "{n} run(s) in {store}",
        "unfinished": "unfinished ({n} case(s) recorded): kcert resume {run}",
        "signed": "signed: {path}",
        "signature_page": "signature page: {path}",
        "verified": "VERIFIED",
        "not_verified": "NOT VERIFIED",
        "signed_by": "signed by: {who} (key {fp})",
        "trust_hint": "key {fp} is not trusted: if it is the signer's, trust it with "
        "kcert keys trust FILE --name NAME (or give it with --public-key FILE)",
        "key_trusted": "trusted: {name} (key {fp})",
        "key_untrusted": "no longer trusted: {name} (key {fp})",
        "keys_trusted": "{n} trusted key(s) in {folder}",
        "key_readable": "warning: the private key {path} is readable by others than its owner "
        "(mode {mode}): chmod 600 {path}",
        "peer": "kcert's peer: {url} (listening on {bind}, {mode})",
        "peer_http": "no TLS",
        "peer_tls": "TLS",
        "peer_mtls": "TLS, client certificate required",
        "handling": "Action",
        "testdata": "Test data",
        "expected": "Expected",
        "assessment": "Assessment",
        "note": "Note",
        "answered_by": "Answered by (name)",
        "attachments": "Attachments (files, separated by commas; empty for none)",
        "not_found": "not found",
    },
}

# How the checks word a missing pack (English): "not run: [context X: ]pack missing (…)".
NOT_RUN = "not run:"
PACK_MISSING = "pack missing"


def say(lang: str, key: str, **values: object) -> str:
    """One console line in `lang` (Danish unless "en")."""
    return CONSOLE["en" if lang == "en" else "da"][key].format(**values)


def state(outcome: Outcome, lang: str) -> str:
    """A case or step state as the report names it."""
    return outcome_text(outcome, lang)


def verdict(value: Verdict, lang: str) -> str:
    return verdict_text(value, lang)


def not_run_note(message: str, lang: str) -> str:
    """A PACK-MISSING finding's message with its fixed words in `lang`; the names in it (the
    context, the packages) stay as they are."""
    if not message.startswith(NOT_RUN):
        return message
    rest = message[len(NOT_RUN) :].replace(PACK_MISSING, say(lang, "pack_missing"), 1)
    return say(lang, "not_run") + rest
