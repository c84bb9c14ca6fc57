"""Build the reference LPS's DK-CPD care plan document from its own template."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from harness.reflps.careplan.codes import CPR_ROOT, KCERT_CODES, RESULT_LABELS, SOR_ROOT
from harness.reflps.cockpit.evaluation import months_back

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_GENDER = {"female": "F", "male": "M"}
_STRATIFICATION = {"kol": "kol-stratificering", "lrs": "lrs-stratificering"}
_CONCERNS = {
    "kol": "KOL (R95)",
    "lrs": "Lænderygsmerter",
    "t2d": "Type 2-diabetes (T90)",
    "hjerte": "Hjertesygdom",
}


@dataclass(frozen=True)
class Version:
    """One document of a plan's set: its id, the set it belongs to and its number."""

    id: str
    set_id: str
    version: int


def hl7_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")


def _day(text: str) -> str:
    return dt.date.fromisoformat(text[:10]).strftime("%Y%m%d") + "000000+0000"


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _results(plan: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in plan["measurements"]:
        label, unit = RESULT_LABELS.get(item["code"], (item["code"], "1"))
        value = item["value"]
        row = {
            "id": str(uuid.uuid4()).upper(),
            "code": item["code"],
            "system": str(item["system"]).removeprefix("urn:oid:"),
            "system_name": "",
            "time": _day(item["date"]),
            "day": item["date"],
            "label": label,
        }
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row.update(kind="PQ", value=_number(float(value)), unit=unit)
            row["shown"] = f"{row['value']} {unit}"
        else:
            row.update(kind="ST", value=str(value), shown=str(value))
        rows.append(row)
    for package, colour in sorted(plan["stratification"].items()):
        if colour is None:
            continue
        rows.append(
            {
                "id": str(uuid.uuid4()).upper(),
                "code": _STRATIFICATION[package],
                "system": KCERT_CODES,
                "system_name": "kcert",
                "time": hl7_time(dt.datetime.now(dt.UTC)),
                "day": plan["asOf"],
                "label": f"Stratificering {package}",
                "kind": "CD",
                "value": colour,
                "value_system": KCERT_CODES,
                "shown": colour,
            }
        )
    return rows


def build_cpd(
    plan: dict[str, Any],
    patient: dict[str, str],
    clinic: dict[str, str],
    this: Version,
    parent: Version | None,
    created: dt.datetime,
    defects: frozenset[str],
) -> bytes:
    """The plan as a DK-CPD document (UTF-8 bytes)."""
    as_of = dt.date.fromisoformat(plan["asOf"])
    packages = [str(g.get("package", "")) for g in plan["goals"]]
    goals: list[dict[str, str]] | None = [
        {"id": str(uuid.uuid4()).upper(), "text": str(g["text"])} for g in plan["goals"]
    ]
    if "cpd-missing-goal-section" in defects:
        goals = None  # the vendor forgot the section when the plan had no structured goals
    context = {
        "doc": {
            "id": this.id,
            "set_id": this.set_id,
            "version": this.version,
            "time": hl7_time(created),
            "period_start": months_back(as_of, 24).strftime("%Y%m%d"),
            "intervention_id": str(uuid.uuid4()).upper(),
        },
        "patient": {
            "cpr": patient["cpr"],
            "id_root": SOR_ROOT if "cpd-wrong-cpr-root" in defects else CPR_ROOT,
            "given": patient["given"],
            "family": patient["family"],
            "gender": _GENDER.get(patient["gender"], "UN"),
            "birth": patient["birth"].replace("-", ""),
        },
        "clinic": clinic,
        "parent": parent,
        "concerns": [
            {"id": str(uuid.uuid4()).upper(), "text": _CONCERNS.get(p, p)} for p in packages
        ]
        or [{"id": str(uuid.uuid4()).upper(), "text": "Ingen kroniske forløb"}],
        "goals": goals,
        "results": _results(plan),
    }
    return _ENV.get_template("cpd.xml.j2").render(context).encode("utf-8")
