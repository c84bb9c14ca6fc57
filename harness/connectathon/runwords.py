"""The console words of `kcert connectathon run` and `demo`, Danish (default) and English.

The front doors' own words (`harness.cli.words`) live a layer above this one; these are the
lines the connectathon's orchestration prints itself. `--lang en` or KCERT_LANG=en switch.
"""

from __future__ import annotations

import os

LANG_ENV = "KCERT_LANG"

WORDS: dict[str, dict[str, str]] = {
    "da": {
        "instances": "{n} testinstans(er) i session {session}",
        "nothing": "ingen testinstans venter i session {session}",
        "proxy": "optagende proxy: {n} endepunkt(er) på 127.0.0.1",
        "no_proxy": "uden proxy: kcert taler direkte med systemerne",
        "line": "[{i}/{n}] {scenario} · {systems}: {grade} ({outcome}, {seconds:.1f} s)",
        "error_line": "[{i}/{n}] {scenario} · {systems}: fejl: {reason}",
        "time_up": "tidsgrænsen på {seconds:.0f} s er nået: {n} testinstans(er) ikke startet",
        "summary": "kørt: {done}, fejl: {errors}, ikke startet: {left} ({seconds:.1f} s)",
        "unknown_instance": "testinstansen {id} findes ikke i session {session}",
        "unknown_session": "sessionen {id} findes ikke",
        "fleet": "starter {n} reference-LPS (leverandører) …",
        "fleet_up": "{n} reference-LPS kører ({seconds:.1f} s)",
        "demo_store": "demo-session {session} i {store}",
        "accounts": "konti (adgangskoderne vises kun her, én gang):",
        "account": "  {role:8} {username:10} adgangskode: {password}",
        "paired": "{n} testinstans(er) parret",
        "matrix": "matrix: {url}",
        "serving": "web-appen kører på {url} — stop med Ctrl-C",
        "serving_for": "web-appen kører på {url} i {seconds:.0f} s",
        "expected": "forventet: {clean} rene systemer verificeret overalt, "
        "{defective} med defekter fejler netop hvor defekterne ligger",
        "plan_line": "  {system:12} defekter: {defects:44} skal fejle: {failing}",
        "no_store": "demoen laver sin egen SQLite-session i {folder}; --store bruges ikke her",
        "demo_ok": "demoen viser det forventede: alle {n} systemer som planlagt",
        "demo_off": "afviger fra planen: {system} {scenario}: forventet {expected}, fik {got}",
        "stopped": "stoppet",
    },
    "en": {
        "instances": "{n} test instance(s) in session {session}",
        "nothing": "no test instance is pending in session {session}",
        "proxy": "recording proxy: {n} endpoint(s) on 127.0.0.1",
        "no_proxy": "no proxy: kcert talks to the systems directly",
        "line": "[{i}/{n}] {scenario} · {systems}: {grade} ({outcome}, {seconds:.1f} s)",
        "error_line": "[{i}/{n}] {scenario} · {systems}: error: {reason}",
        "time_up": "time limit of {seconds:.0f} s reached: {n} test instance(s) not started",
        "summary": "ran: {done}, errors: {errors}, not started: {left} ({seconds:.1f} s)",
        "unknown_instance": "test instance {id} is not in session {session}",
        "unknown_session": "no session {id}",
        "fleet": "starting {n} reference LPS (vendors) …",
        "fleet_up": "{n} reference LPS running ({seconds:.1f} s)",
        "demo_store": "demo session {session} in {store}",
        "accounts": "accounts (the passwords are shown here only, once):",
        "account": "  {role:8} {username:10} password: {password}",
        "paired": "{n} test instance(s) paired",
        "matrix": "matrix: {url}",
        "serving": "the web app runs on {url} — stop with Ctrl-C",
        "serving_for": "the web app runs on {url} for {seconds:.0f} s",
        "expected": "expected: {clean} clean systems verified everywhere, "
        "{defective} with defects failing exactly where their defects lie",
        "plan_line": "  {system:12} defects: {defects:44} must fail: {failing}",
        "no_store": "the demo makes its own SQLite session in {folder}; --store is not for it",
        "demo_ok": "the demo shows what was planned: all {n} systems as expected",
        "demo_off": "differs from the plan: {system} {scenario}: expected {expected}, got {got}",
        "stopped": "stopped",
    },
}

GRADE_WORDS: dict[str, dict[str, str]] = {
    "da": {
        "verified": "verificeret",
        "failed": "fejlet",
        "partial": "delvist verificeret",
        "waiting": "afventer",
    },
    "en": {"verified": "verified", "failed": "failed", "partial": "partial", "waiting": "waiting"},
}

OUTCOME_WORDS: dict[str, dict[str, str]] = {
    "da": {"passed": "bestået", "failed": "ikke bestået", "error": "fejl", "not-run": "ikke kørt"},
    "en": {"passed": "passed", "failed": "failed", "error": "error", "not-run": "not run"},
}


def console_lang(given: object = None) -> str:
    """--lang when given, else KCERT_LANG, else Danish."""
    value = str(given) if given else os.environ.get(LANG_ENV, "da")
    return "en" if value == "en" else "da"


def say(lang: str, key: str, **values: object) -> str:
    return WORDS["en" if lang == "en" else "da"][key].format(**values)


def grade_word(grade: str, lang: str) -> str:
    return GRADE_WORDS["en" if lang == "en" else "da"].get(grade, grade)


def outcome_word(outcome: str, lang: str) -> str:
    return OUTCOME_WORDS["en" if lang == "en" else "da"].get(outcome, outcome or "-")
