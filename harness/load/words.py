"""The console words of `kcert load run`, Danish (default) and English (`--lang en`).

One table for every line a load run prints itself: the engine's progress (preflight, master,
load, the end), the command's own (the reference FLP service, the report) and `kcert load
worker`'s. Verdicts come
from the report's table (`harness.report.i18n`); the SLO texts carry both languages
themselves (`harness.load.slo`). What comes from deeper down — the service's own answer in a
failed preflight check, the reason of an error in `LoadResult.error` — is quoted as it was
written, as everywhere in kcert's console. Standard library only: the engine imports it.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "da": {
        # engine.run_load
        "note": "bemærk: {text}",
        "clipped": "{count} brugere ville sende {rate:.3g}/s med {low:g}-{high:g} s tænketid; "
        "begrænset til profilens grænse max_users {bound} (hver bruger sender så hurtigere)",
        "preflight": "korrekthedstjek: hver operation én gang mod {url}",
        "preflight_ok": "korrekthedstjek {operation}: ok",
        "preflight_failed": "korrekthedstjek {operation}: {message}",
        "master": "master på {bind}:{port}, venter på {n} worker(s)",
        "load_starting": "belastning 0/{total:.0f} s: starter",
        "load_line": "belastning {at:.0f}/{total:.0f} s: {users} brugere, {rate:.1f} "
        "forespørgsler/s, {requests} forespørgsler, {failures} fejl ({share:.1f} %)",
        "load_cpu": ", generatorens CPU højst {percent:.0f} % ({process})",
        "interrupted": "afbrudt: stopper Locusts master og workers",
        "ended": "belastningen sluttede ({how}) efter {seconds:.0f} s",
        "ended_error": "belastningen sluttede ({how}) efter {seconds:.0f} s: {error}",
        "stopped_time": "tiden udløb",
        "stopped_signal": "afbrudt",
        "stopped_error": "fejl",
        # command.run_load_command
        "seeding": "reference-FLP: fylder {clinics} × {plans} planer i …",
        "reference": "reference-FLP: {url} ({workers} workers)",
        "reference_defects": "reference-FLP: {url} ({workers} workers, defekter {defects})",
        "error": "kcert: fejl: {text}",
        "reason": "årsag: {text}",
        "report": "rapport: {path}",
        "writing": "skriver rapporten …",
        "writing_pdf": "skriver rapporten og report.pdf …",
        # distributed.worker_command (kcert load worker)
        "joining": "kcert: {n} Locust-worker(s) slutter sig til masteren på {host}:{port}",
        "workers_interrupted": "kcert: afbrudt: stopper workerne",
    },
    "en": {
        "note": "note: {text}",
        "clipped": "{count} users would offer {rate:.3g}/s with {low:g}-{high:g} s think time; "
        "clipped to the profile's bound max_users {bound} (each user then paces faster)",
        "preflight": "preflight: each operation once against {url}",
        "preflight_ok": "preflight {operation}: ok",
        "preflight_failed": "preflight {operation}: {message}",
        "master": "master on {bind}:{port}, waiting for {n} worker(s)",
        "load_starting": "load 0/{total:.0f} s: starting",
        "load_line": "load {at:.0f}/{total:.0f} s: {users} users, {rate:.1f} req/s, "
        "{requests} requests, {failures} failures ({share:.1f} %)",
        "load_cpu": ", generator CPU at most {percent:.0f} % ({process})",
        "interrupted": "interrupted: stopping Locust's master and workers",
        "ended": "load ended ({how}) after {seconds:.0f} s",
        "ended_error": "load ended ({how}) after {seconds:.0f} s: {error}",
        "stopped_time": "time",
        "stopped_signal": "interrupted",
        "stopped_error": "error",
        "seeding": "reference FLP: seeding {clinics} × {plans} plans …",
        "reference": "reference FLP: {url} (workers {workers})",
        "reference_defects": "reference FLP: {url} (workers {workers}, defects {defects})",
        "error": "kcert: error: {text}",
        "reason": "reason: {text}",
        "report": "report: {path}",
        "writing": "writing the report …",
        "writing_pdf": "writing the report and report.pdf …",
        "joining": "kcert: {n} Locust worker(s) joining the master at {host}:{port}",
        "workers_interrupted": "kcert: interrupted: stopping the workers",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    """One console line in `lang` (Danish unless "en")."""
    return WORDS["en" if lang == "en" else "da"][key].format(**values)
