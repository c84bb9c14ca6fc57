"""Results out: the matrix as JSON and CSV, and each test instance as JSON.

An instance's record holds its bindings, patient, steps with findings, a summary of its
recorded exchanges (ids, not bodies: the bodies stay in the store behind their permanent
links), its grades with the whole audit trail, and the id of its normal kcert run. Every text
written passes the project's real-CPR masking (harness.checks.realcpr) last, so a real-format
CPR number never leaves unmasked whatever field carried it; kcert's synthetic persons stay.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from typing import Any

from harness.checks.realcpr import mask_text
from harness.connectathon.api import StoreApi
from harness.connectathon.model import MatrixCell, RecordedExchange, ScenarioInfo, TestInstance

EXPORT_VERSION = 1
MATRIX_COLUMNS = (
    "system_id",
    "vendor",
    "product",
    "version",
    "scenario_id",
    "scenario_title",
    "role",
    "verified",
    "waiting",
    "partial",
    "failed",
    "partners_used",
    "partners_needed",
    "partners_available",
)


def masked_json(data: Any) -> str:
    """JSON text with every real-format CPR number masked (DDMMYY-xxxx)."""
    return mask_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)) + "\n"


def matrix_rows(
    store: StoreApi, session_id: str, system_id: str | None = None, lang: str = "da"
) -> list[dict[str, Any]]:
    """The matrix cells with each system's names and each scenario's title beside them."""
    systems = {s.system_id: s for s in store.systems(session_id)}
    titles = {i.scenario_id: _title(i, lang) for i in _infos(store, session_id)}
    rows = []
    for cell in store.matrix(session_id):
        if system_id is not None and cell.system_id != system_id:
            continue
        system = systems.get(cell.system_id)
        rows.append(
            {
                **dataclasses.asdict(cell),
                "partners_used": list(cell.partners_used),
                "vendor": system.vendor if system else "",
                "product": system.product if system else "",
                "version": system.version if system else "",
                "scenario_title": titles.get(cell.scenario_id, ""),
            }
        )
    return rows


def matrix_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MATRIX_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        cells = {**row, "partners_used": " ".join(row["partners_used"])}
        # each value masked alone: a comma after a number reads to the masking as a decimal
        writer.writerow({k: mask_text(str(v)) for k, v in cells.items()})
    return out.getvalue()


def session_record(store: StoreApi, session_id: str, lang: str = "da") -> dict[str, Any]:
    """The session, its systems, the matrix and every test instance's record."""
    session = store.session(session_id)
    return {
        "kcert-connectathon-export": EXPORT_VERSION,
        "session": dataclasses.asdict(session),
        "scenarios": [dataclasses.asdict(i) for i in _infos(store, session_id)],
        "systems": [
            {k: v for k, v in dataclasses.asdict(s).items() if k != "registration"}
            for s in store.systems(session_id)
        ],
        "matrix": matrix_rows(store, session_id, lang=lang),
        "instances": [
            instance_record(store, i.instance_id, i) for i in store.instances(session_id)
        ],
    }


def instance_record(
    store: StoreApi, instance_id: str, instance: TestInstance | None = None
) -> dict[str, Any]:
    """One test instance: steps, exchanges (summaries with their ids), grades, run id."""
    inst = instance or store.instance(instance_id)
    data = dataclasses.asdict(inst)
    data["bindings"] = [dataclasses.asdict(b) for b in inst.bindings]
    data["steps"] = [dataclasses.asdict(s) for s in store.steps(inst.instance_id)]
    data["exchanges"] = [
        exchange_summary(e) for e in store.exchanges(inst.session_id, instance_id=inst.instance_id)
    ]
    data["grades"] = [
        {**dataclasses.asdict(g), "attachments": [_attachment(store, a) for a in g.attachments]}
        for g in store.grades(inst.instance_id)
    ]
    return data


def exchange_summary(exchange: RecordedExchange) -> dict[str, Any]:
    """What an exchange was, without its bodies: their size and SHA-256 identify them."""
    return {
        "exchange_id": exchange.exchange_id,
        "endpoint_id": exchange.endpoint_id,
        "step_id": exchange.step_id,
        "match": exchange.match,
        "source": exchange.source,
        "target": exchange.target,
        "method": exchange.method,
        "path": exchange.path,
        "status": exchange.status,
        "started": exchange.started,
        "elapsed_ms": exchange.elapsed_ms,
        "error": exchange.error,
        "kind": exchange.kind,
        "validated": exchange.validated,
        "findings": exchange.findings,
        "request": _body(exchange.request_body),
        "response": _body(exchange.response_body),
    }


def _body(body: bytes) -> dict[str, Any]:
    return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _attachment(store: StoreApi, attachment_id: str) -> dict[str, Any]:
    try:
        name, content_type, data = store.attachment(attachment_id)
    except KeyError:
        return {"attachment_id": attachment_id, "missing": True}
    return {
        "attachment_id": attachment_id,
        "name": name,
        "content_type": content_type,
        **_body(data),
    }


def _infos(store: StoreApi, session_id: str) -> list[ScenarioInfo]:
    # ConnectathonStore keeps what pairing knew of the scenarios; another StoreApi may not
    keep = getattr(store, "scenario_infos", None)
    return list(keep(session_id)) if keep is not None else []


def _title(info: ScenarioInfo, lang: str) -> str:
    return (info.title_en if lang == "en" else info.title_da) or info.scenario_id


def cells_of(rows: list[dict[str, Any]]) -> list[MatrixCell]:
    """Matrix rows back as cells (the plain fields only): for readers of an export."""
    fields = {f.name for f in dataclasses.fields(MatrixCell)}
    cells = []
    for row in rows:
        values: dict[str, Any] = {k: v for k, v in row.items() if k in fields}
        values["partners_used"] = tuple(values.get("partners_used", ()))
        cells.append(MatrixCell(**values))
    return cells
