"""The check catalogue: kcert's versioned YAML of data-quality checks, schema-checked.

`load_catalogue(path)` reads a catalogue (default: the built-in `catalogues/lps-quality.yaml`)
into `model.Catalogue`. Each check names a check *type* (`checks.TYPES`: one evaluation per
type); the type's parameters are checked by the type's own schema, unknown fields refused, and
the catalogue's named systems, code groups and package populations are resolved into the
check's `params`, so the engine reads plain values only. Every mistake is a `CatalogueError`
whose text is `file:line: field: reason`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.quality.model import Catalogue, Category, CheckSpec, Distortion, Level
from harness.yamlsource import SourceError, YamlDocument, check_schema, load_yaml

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogues"
DEFAULT_CATALOGUE = CATALOGUE_DIR / "lps-quality.yaml"

# The fact tables and their date columns (harness/population/facts.py).
TABLES = (
    "patients",
    "conditions",
    "observations",
    "medications",
    "services",
    "encounters",
    "startbacks",
)
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "observations": ("date",),
    "conditions": ("recorded",),
    "services": ("date",),
    "encounters": ("date",),
    "startbacks": ("date",),
    "medications": ("start", "end"),
}
CODED_TABLES = ("conditions", "observations", "medications")
OBSERVATION_KEYS = ("system", "code", "date", "value_kind", "number", "value_text", "unit")
READER_FAULTS_BY_TABLE = {
    "patients": ("missing-gp", "birthdate-mismatch"),
    "conditions": ("diagnosis-free-text", "diagnosis-wrong-system", "condition-without-status"),
    "observations": ("lab-local-code", "observation-without-value"),
    "medications": ("medication-uncoded",),
}


class CatalogueError(ValueError):
    """A catalogue file is broken: `file:line: field: reason`."""


_TEXT = {
    "type": "object",
    "required": ["da", "en"],
    "additionalProperties": False,
    "properties": {
        "da": {"type": "string", "minLength": 1},
        "en": {"type": "string", "minLength": 1},
    },
}
_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"}
_NAMES = {"type": "array", "minItems": 1, "items": _NAME, "uniqueItems": True}
_CODES = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1},
}
_MONTHS = {"type": "integer", "minimum": 1, "maximum": 600}
_DATES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["table", "column"],
        "properties": {"table": {"enum": list(DATE_COLUMNS)}, "column": {"type": "string"}},
    },
}


def _params(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


# Each check type and the schema of its parameters (the evaluation is in checks.py).
TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "medication-without-diagnosis": _params(
        ["system", "atc", "diagnoses"],
        system=_NAME,
        atc=_CODES,
        diagnoses=_NAMES,
        statuses=_CODES,
    ),
    "code-system": _params(
        ["table", "systems", "finds"],
        table={"enum": list(CODED_TABLES)},
        systems=_NAMES,
        finds={"enum": ["uncoded", "other-system", "not-allowed"]},
    ),
    "unit": _params(
        ["system", "units"],
        system=_NAME,
        units={
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string", "minLength": 1},
        },
    ),
    "value-range": _params(
        ["system", "code", "low", "high"],
        system=_NAME,
        code={"type": "string", "minLength": 1},
        low={"type": "number"},
        high={"type": "number"},
    ),
    "date-order": _params(["after", "dates"], after={"enum": ["as-of", "death"]}, dates=_DATES),
    "duplicate": _params(
        ["table", "keys"],
        table={"enum": ["observations"]},
        keys={
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(OBSERVATION_KEYS)},
        },
    ),
    "service-in-window": _params(
        ["population", "services", "months"],
        population=_NAME,
        services=_CODES,
        months=_MONTHS,
        insurance_group={"enum": [1, 2]},
    ),
    "observation-in-window": _params(
        ["population", "system", "codes", "months"],
        population=_NAME,
        system=_NAME,
        codes=_CODES,
        months=_MONTHS,
    ),
    "questionnaire-in-window": _params(
        ["population", "months"], population=_NAME, months=_MONTHS, complete={"type": "boolean"}
    ),
    "relation-present": _params(["column"], column={"enum": ["gp_sor"]}),
    "still-active": _params(["left"], left={"enum": ["deceased", "moved"]}),
    "register-age": _params(["max_age_months"], max_age_months=_MONTHS),
    "data-age": _params(
        ["older_than_months", "max_share", "dates"],
        older_than_months=_MONTHS,
        max_share={"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        dates=_DATES,
    ),
    "reader-fault": _params(
        ["table", "fault"],
        table={"enum": list(READER_FAULTS_BY_TABLE)},
        fault={"type": "string"},
    ),
}
TYPES = tuple(TYPE_SCHEMAS)
CLINIC_TYPES = ("register-age",)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kcert-quality-catalogue", "id", "version", "title", "systems", "checks"],
    "properties": {
        "kcert-quality-catalogue": {"const": 1},
        "id": _NAME,
        "version": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)*$"},
        "title": _TEXT,
        "systems": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _NAME,
            "additionalProperties": {"type": "string"},
        },
        "codes": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["system", "prefix"],
                    "properties": {"system": _NAME, "prefix": {"type": "string", "minLength": 1}},
                },
            },
        },
        "populations": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": _params(
                ["diagnoses"],
                diagnoses=_NAMES,
                min_age={"type": "integer", "minimum": 0, "maximum": 130},
            ),
        },
        "condition_statuses": _CODES,
        "checks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "id",
                    "type",
                    "category",
                    "level",
                    "threshold",
                    "title",
                    "explanation",
                    "params",
                    "distorts",
                ],
                "properties": {
                    "id": _NAME,
                    "type": {"type": "string"},
                    "category": {"enum": [c.value for c in Category]},
                    "level": {"enum": [lv.value for lv in Level]},
                    "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                    "title": _TEXT,
                    "explanation": _TEXT,
                    "params": {"type": "object"},
                    "distorts": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["target", "da", "en"],
                            "properties": {
                                "target": {
                                    "type": "string",
                                    "pattern": "^(plan\\.)?[a-z0-9][a-z0-9-]*$",
                                },
                                "da": {"type": "string", "minLength": 1},
                                "en": {"type": "string", "minLength": 1},
                            },
                        },
                    },
                },
            },
        },
    },
}


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at `path` (None: the built-in one); CatalogueError at file:line."""
    target = path or DEFAULT_CATALOGUE
    try:
        doc = load_yaml(target)
        checks = _checks(doc)
    except SourceError as exc:
        raise CatalogueError(str(exc)) from None
    data = doc.data
    return Catalogue(
        id=str(data["id"]),
        version=str(data["version"]),
        checks=checks,
        path=target,
        sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
    )


def _checks(doc: YamlDocument) -> tuple[CheckSpec, ...]:
    if not isinstance(doc.data, dict):
        raise SourceError(doc.file, 1, "", "a catalogue is a mapping (kcert-quality-catalogue, …)")
    data = doc.data
    listed = data.get("checks")
    for index, raw in enumerate(listed if isinstance(listed, list) else []):
        _known(doc, ("checks", index), raw, SCHEMA["properties"]["checks"]["items"])
    check_schema(doc, SCHEMA)
    systems: dict[str, str] = data["systems"]
    statuses = list(data.get("condition_statuses") or ["active"])
    codes = {
        name: [
            {
                "system": _system(doc, systems, ("codes", name, i, "system"), c["system"]),
                "prefix": c["prefix"],
                "group": name,
            }
            for i, c in enumerate(entries)
        ]
        for name, entries in (data.get("codes") or {}).items()
    }
    populations = {
        name: {
            "name": name,
            "diagnoses": _diagnoses(doc, codes, ("populations", name, "diagnoses"), p["diagnoses"]),
            "min_age": int(p.get("min_age", 0)),
            "condition_statuses": statuses,
        }
        for name, p in (data.get("populations") or {}).items()
    }
    seen: set[str] = set()
    out = []
    for index, raw in enumerate(data["checks"]):
        at = ("checks", index)
        if raw["id"] in seen:
            raise doc.error((*at, "id"), f"duplicate check id {raw['id']!r}")
        seen.add(raw["id"])
        kind = raw["type"]
        if kind not in TYPE_SCHEMAS:
            raise doc.error(
                (*at, "type"), f"unknown check type {kind!r}; known: {', '.join(TYPES)}"
            )
        _known(doc, (*at, "params"), raw["params"], TYPE_SCHEMAS[kind])
        check_schema(doc, TYPE_SCHEMAS[kind], (*at, "params"))
        level = Level(raw["level"])
        if (kind in CLINIC_TYPES) != (level is Level.CLINIC):
            want = "clinic" if kind in CLINIC_TYPES else "patient"
            raise doc.error((*at, "level"), f"a {kind} check is {want} level")
        if level is Level.CLINIC and raw["threshold"] != 0:
            raise doc.error((*at, "threshold"), "a clinic-level check tolerates nothing: write 0")
        params = _resolve(
            doc, (*at, "params"), kind, dict(raw["params"]), systems, codes, populations, statuses
        )
        out.append(
            CheckSpec(
                id=raw["id"],
                category=Category(raw["category"]),
                level=level,
                title_da=raw["title"]["da"],
                title_en=raw["title"]["en"],
                explanation_da=raw["explanation"]["da"],
                explanation_en=raw["explanation"]["en"],
                threshold=float(raw["threshold"]),
                params={"type": kind, **params},
                distorts=tuple(Distortion(d["target"], d["da"], d["en"]) for d in raw["distorts"]),
                line=doc.line_of(at),
            )
        )
    return tuple(out)


def _known(
    doc: YamlDocument, at: tuple[str | int, ...], raw: object, schema: dict[str, Any]
) -> None:
    """A misspelt key at its own line, with the fields there are (before the schema's check)."""
    if not isinstance(raw, dict):
        return
    known = list(schema["properties"])
    for key in raw:
        if key not in known:
            raise doc.error((*at, str(key)), f"unknown field; known: {', '.join(known)}")


def _system(
    doc: YamlDocument, systems: dict[str, str], at: tuple[str | int, ...], name: str
) -> str:
    if name not in systems:
        raise doc.error(at, f"unknown system {name!r}; named: {', '.join(systems)}")
    return systems[name]


def _diagnoses(
    doc: YamlDocument, codes: dict[str, Any], at: tuple[str | int, ...], names: list[str]
) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for i, name in enumerate(names):
        if name not in codes:
            raise doc.error((*at, i), f"unknown code group {name!r}; named: {', '.join(codes)}")
        out += codes[name]
    return out


def _resolve(
    doc: YamlDocument,
    at: tuple[str | int, ...],
    kind: str,
    params: dict[str, Any],
    systems: dict[str, str],
    codes: dict[str, Any],
    populations: dict[str, Any],
    statuses: list[str],
) -> dict[str, Any]:
    """Names → values: systems → URIs, code groups → codings, a population → its definition."""
    if "system" in params:
        params["system"] = _system(doc, systems, (*at, "system"), params["system"])
    if "systems" in params:
        params["systems"] = [
            _system(doc, systems, (*at, "systems", i), s) for i, s in enumerate(params["systems"])
        ]
    if "diagnoses" in params:
        params["diagnoses"] = _diagnoses(doc, codes, (*at, "diagnoses"), params["diagnoses"])
        params["condition_statuses"] = statuses
    if "population" in params:
        name = params["population"]
        if name not in populations:
            raise doc.error(
                (*at, "population"), f"unknown population {name!r}; named: {', '.join(populations)}"
            )
        params["population"] = populations[name]
    for i, spec in enumerate(params.get("dates") or []):
        if spec["column"] not in DATE_COLUMNS[spec["table"]]:
            known = ", ".join(DATE_COLUMNS[spec["table"]])
            raise doc.error(
                (*at, "dates", i, "column"),
                f"{spec['table']} has no date column {spec['column']!r}; known: {known}",
            )
    if kind == "reader-fault" and params["fault"] not in READER_FAULTS_BY_TABLE[params["table"]]:
        known = ", ".join(READER_FAULTS_BY_TABLE[params["table"]])
        raise doc.error(
            (*at, "fault"), f"the reader notes no such fault on {params['table']}: known: {known}"
        )
    if kind == "value-range" and params["low"] > params["high"]:
        raise doc.error((*at, "low"), "low is above high")
    if kind == "medication-without-diagnosis":
        params.setdefault("statuses", ["active"])
    return params
