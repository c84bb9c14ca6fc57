"""A signed connectathon dossier per system: what it did at the event, checkable offline.

The folder holds `dossier.json` (the session, the system, its matrix rows, its instances'
grades and run ids), `matrix.csv` (its rows), `instances/<id>.json` (each instance's steps,
exchange summaries and the whole grading audit trail) and the grading attachments. It is
sealed exactly as a certification run folder is: harness.dossier's manifest.json over every
file, the sha256sum form beside it, an Ed25519 signature (manifest.sig) and its signature
page, so `kcert verify DIR` checks it like any run and a changed byte fails.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

from harness.checks.realcpr import mask_real_cprs, mask_text
from harness.connectathon.api import StoreApi
from harness.connectathon.export import instance_record, masked_json, matrix_csv, matrix_rows
from harness.dossier.manifest import MANIFEST, DossierError, read_manifest
from harness.dossier.manifest import write_manifest as write_dossier_manifest
from harness.dossier.signing import sign
from harness.report.evidence import write_manifest as write_sums
from harness.report.signature_page import write_signature_page
from harness.store.runstore import RunStore, StoreError

KIND = "connectathon-dossier"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/fhir")


def write_dossier(
    store: StoreApi,
    session_id: str,
    system_id: str,
    out: Path,
    key: Path,
    *,
    signer: str = "",
    lang: str = "da",
) -> Path:
    """Writes and signs the dossier of one system in `out` (a new folder, or an earlier
    dossier of kcert's, which is replaced). DossierError when it cannot; KeyError for an
    unknown session or system."""
    session = store.session(session_id)
    system = store.system(session_id, system_id)
    _fresh(out)
    instances = store.instances(session_id, system_id)
    records = [instance_record(store, i.instance_id, i) for i in instances]
    rows = matrix_rows(store, session_id, system_id, lang)
    (out / "instances").mkdir()
    for record in records:
        name = _SAFE.sub("_", record["instance_id"])
        (out / "instances" / f"{name}.json").write_text(masked_json(record), encoding="utf-8")
        _attachments(store, out, record)
    (out / "matrix.csv").write_text(matrix_csv(rows), encoding="utf-8")
    run_ids = sorted({i.run_id for i in instances if i.run_id})
    grades = {g: sum(1 for i in instances if i.grade == g) for g in _GRADE_ORDER}
    summary: dict[str, Any] = {
        "kind": KIND,
        "session": {
            "session_id": session.session_id,
            "name": session.name,
            "starts": session.starts,
            "ends": session.ends,
            "scenarios": list(session.scenarios),
        },
        "system": {
            "system_id": system.system_id,
            "vendor": system.vendor,
            "product": system.product,
            "version": system.version,
            "roles": list(system.roles),
        },
        "grades": grades,
        "matrix": rows,
        "instances": [
            {
                "instance_id": i.instance_id,
                "scenario_id": i.scenario_id,
                "bindings": [{"role": b.role, "system_id": b.system_id} for b in i.bindings],
                "grade": i.grade,
                "outcome": i.outcome,
                "run_id": i.run_id,
            }
            for i in instances
        ],
        "run_ids": run_ids,
        "runs": _runs(store.url, run_ids),
    }
    (out / "dossier.json").write_text(masked_json(summary), encoding="utf-8")
    (out / "index.html").write_text(mask_text(_page(summary, lang)), encoding="utf-8")
    facts = {
        "kind": KIND,
        # the signature page and `kcert verify` name a folder by its run id
        "run_id": f"{session.session_id}--{system.system_id}",
        "test_type": "connectathon",
        "lang": lang,
        "started": session.starts,
        "finished": session.ends,
        "tester": signer,
        "sut": {"name": system.product, "vendor": system.vendor, "version": system.version},
        "verdict": ", ".join(f"{g} {n}" for g, n in grades.items()),
        "session_id": session.session_id,
        "system_id": system.system_id,
        "run_ids": run_ids,
    }
    # the certification dossier's order: manifest.json, its sha256sum form, then the signature
    write_dossier_manifest(out, facts)
    write_sums(out)
    sign(out, key, signer)
    write_signature_page(out, lang)
    return out


_GRADE_ORDER = ("verified", "partial", "failed", "waiting")


def _fresh(out: Path) -> None:
    """`out` empty and ready; an earlier dossier of kcert's there is replaced, anything else
    refused (a wrong --out never deletes someone's folder)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise DossierError(f"{out}: not a folder")
    if out.is_dir() and any(out.iterdir()):
        try:
            earlier = read_manifest(out).get("kind") == KIND
        except DossierError:
            earlier = False
        if not earlier:
            raise DossierError(
                f"{out} is not empty and holds no connectathon dossier: choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _attachments(store: StoreApi, out: Path, record: dict[str, Any]) -> None:
    for grade in record["grades"]:
        for meta in grade["attachments"]:
            if meta.get("missing"):
                continue
            name, content_type, data = store.attachment(meta["attachment_id"])
            if content_type.startswith(_TEXT_TYPES):
                data = mask_real_cprs(data)  # a log or a message a monitor attached
            folder = out / "attachments"
            folder.mkdir(exist_ok=True)
            safe = _SAFE.sub("_", name) or "attachment"
            (folder / f"{meta['attachment_id']}_{safe}").write_bytes(data)


def dossier_facts(folder: Path) -> dict[str, Any]:
    """manifest.json of a connectathon dossier (DossierError when it is none)."""
    manifest = read_manifest(folder)
    if manifest.get("kind") != KIND:
        raise DossierError(f"{folder / MANIFEST}: not a connectathon dossier")
    return manifest


def read_summary(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "dossier.json").read_text(encoding="utf-8"))
    return data


def _runs(url: str, run_ids: list[str]) -> list[dict[str, Any]]:
    """Each instance's normal kcert run as the run store (the same database) has it."""
    if not run_ids:
        return []
    try:
        runs = RunStore(url)
    except StoreError as exc:
        return [{"run_id": r, "missing": str(exc)} for r in run_ids]
    found = []
    try:
        for run_id in run_ids:
            try:
                row = runs.run(run_id)
            except StoreError:
                found.append({"run_id": run_id, "missing": "not in the run store"})
                continue
            found.append(
                {
                    "run_id": row.run_id,
                    "status": row.status,
                    "verdict": row.verdict,
                    "started": row.started,
                    "finished": row.finished,
                    "suite_version": row.suite_version,
                    "sut_name": row.sut_name,
                    "sut_version": row.sut_version,
                }
            )
    finally:
        runs.close()
    return found


_LABELS = {
    "da": {
        "title": "Connectathon-dossier",
        "session": "Session",
        "system": "System",
        "roles": "Roller",
        "matrix": "Resultatmatrix",
        "scenario": "Scenarie",
        "role": "Rolle",
        "partners": "Partnere brugt / tilgængelige",
        "instances": "Testinstanser",
        "instance": "Instans",
        "bindings": "Parring",
        "grade": "Bedømmelse",
        "run": "Kørsel",
        "files": "Detaljer, bedømmelser og revisionsspor: instances/*.json; "
        "signaturen kontrolleres med kcert verify",
    },
    "en": {
        "title": "Connectathon dossier",
        "session": "Session",
        "system": "System",
        "roles": "Roles",
        "matrix": "Results matrix",
        "scenario": "Scenario",
        "role": "Role",
        "partners": "Partners used / available",
        "instances": "Test instances",
        "instance": "Instance",
        "bindings": "Pairing",
        "grade": "Grade",
        "run": "Run",
        "files": "Details, grades and audit trail: instances/*.json; "
        "the signature is checked with kcert verify",
    },
}


def _page(summary: dict[str, Any], lang: str) -> str:
    """index.html: the dossier for people (dossier.json is the same for programs)."""
    L = _LABELS["en" if lang == "en" else "da"]
    e = html.escape
    session, system = summary["session"], summary["system"]
    cells = "".join(
        f"<tr><td>{e(r['scenario_title'] or r['scenario_id'])}</td><td>{e(r['role'])}</td>"
        + "".join(f"<td>{int(r[g])}</td>" for g in _GRADE_ORDER)
        + f"<td>{e(' '.join(r['partners_used']) or '-')} / {int(r['partners_available'])}</td>"
        "</tr>"
        for r in summary["matrix"]
    )
    rows = "".join(
        f"<tr><td>{e(i['instance_id'])}</td><td>{e(i['scenario_id'])}</td>"
        f"<td>{e(', '.join(b['role'] + '=' + b['system_id'] for b in i['bindings']))}</td>"
        f"<td>{e(i['grade'])}</td><td>{e(i['run_id'] or '-')}</td></tr>"
        for i in summary["instances"]
    )
    grades = "".join(f"<th>{e(g)}</th>" for g in _GRADE_ORDER)
    return (
        f'<!doctype html>\n<html lang="{e(lang)}"><head><meta charset="utf-8">'
        f"<title>{e(L['title'])}: {e(system['system_id'])}</title></head><body>"
        f"<h1>{e(L['title'])}</h1>"
        f"<p>{e(L['session'])}: {e(session['name'])} ({e(session['session_id'])}), "
        f"{e(session['starts'])} – {e(session['ends'])}</p>"
        f"<p>{e(L['system'])}: {e(system['vendor'])} {e(system['product'])} "
        f"{e(system['version'])} ({e(system['system_id'])}); {e(L['roles'])}: "
        f"{e(', '.join(system['roles']))}</p>"
        f"<h2>{e(L['matrix'])}</h2><table><tr><th>{e(L['scenario'])}</th>"
        f"<th>{e(L['role'])}</th>{grades}<th>{e(L['partners'])}</th></tr>{cells}</table>"
        f"<h2>{e(L['instances'])}</h2><table><tr><th>{e(L['instance'])}</th>"
        f"<th>{e(L['scenario'])}</th><th>{e(L['bindings'])}</th><th>{e(L['grade'])}</th>"
        f"<th>{e(L['run'])}</th></tr>{rows}</table>"
        f"<p>{e(L['files'])}</p></body></html>\n"
    )
