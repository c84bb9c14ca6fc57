"""A signed connectathon dossier per system: what it did at the event, checkable offline.

The folder holds `dossier.json` (the session, the system, its matrix rows, its instances'
grades and run ids), `matrix.csv` (its rows), `instances/<id>.json` (each instance's steps,
exchange summaries and the whole grading audit trail) and the grading attachments. It is
sealed exactly as a certification run folder is: harness.dossier's manifest.json over every
file, the sha256sum form beside it, an Ed25519 signature (manifest.sig) and its signature
page, so `kcert verify DIR` checks it like any run and a changed byte fails.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from harness.checks.realcpr import mask_real_cprs
from harness.connectathon.api import StoreApi
from harness.connectathon.export import instance_record, masked_json, matrix_csv, matrix_rows
from harness.dossier.manifest import MANIFEST, DossierError, read_manifest
from harness.dossier.manifest import write_manifest as write_dossier_manifest
from harness.dossier.signing import sign
from harness.report.evidence import write_manifest as write_sums
from harness.report.signature_page import write_signature_page

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
    }
    (out / "dossier.json").write_text(masked_json(summary), encoding="utf-8")
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
