"""Read a load profile (YAML, `kcert-load-profile: 1`) into a `LoadProfile`.

The file is schema-checked (JSON Schema: unknown fields refused), then checked for what a
schema cannot say: operation ids known and loaded once, SLOs only for loaded operations and
with p50 ≤ p95 ≤ p99, figures known by name with the unit the arithmetic expects, every
figure an operation's rate needs present, the stress shape within the profile's own rate
bound. Every mistake is a `ProfileError` whose text is `file:line: field: reason`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path
from typing import Any

from harness.inputfile import InputFileError, read_limited
from harness.load.model import OPERATIONS, Bounds, Figure, LoadProfile, Slo, Source
from harness.load.rates import FIGURES, HOUR, NEEDS, OPTIONAL, SHARE, derive_rates
from harness.yamlsource import MAX_YAML_BYTES, SourceError, YamlDocument, check_schema, parse_yaml

MARKER = "kcert-load-profile"
FORMAT_VERSION = 1
MAX_PROFILE_BYTES = min(MAX_YAML_BYTES, 256 * 1024)  # a profile is a page of figures
MAX_USERS = 100_000
MAX_RATE_PER_S = 100_000.0
MAX_RUN_TIME_S = 7 * 24 * 3600.0
MAX_STRESS_FACTOR = 100.0
MAX_THINK_S = 600.0


class ProfileError(SourceError):
    """A load profile is broken: `file:line: field: reason` (a ValueError)."""


_TEXT = {"type": "string", "minLength": 1, "maxLength": 500}
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
_FIGURE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["value", "unit", "source", "note"],
    "properties": {
        "value": {"type": "number"},
        "unit": {"type": "string", "minLength": 1, "maxLength": 40},
        "source": {"enum": [s.value for s in Source]},
        "note": _TEXT,
    },
}
_SLO = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "p50_ms": _POSITIVE,
        "p95_ms": _POSITIVE,
        "p99_ms": _POSITIVE,
        "max_error_rate": _FRACTION,
        "min_rate_share": _FRACTION,
        "note": _TEXT,
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        MARKER,
        "id",
        "version",
        "title",
        "operations",
        "figures",
        "slos",
        "think_time_s",
        "bounds",
        "stress_factor",
    ],
    "properties": {
        MARKER: {"const": FORMAT_VERSION},
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": 80},
        "version": {"type": "string", "pattern": r"^[0-9A-Za-z][0-9A-Za-z.+-]*$", "maxLength": 40},
        "title": {
            "type": "object",
            "additionalProperties": False,
            "required": ["da", "en"],
            "properties": {"da": _TEXT, "en": _TEXT},
        },
        "operations": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {"type": "string", "maxLength": 80},
        },
        "figures": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*$", "maxLength": 80},
            "maxProperties": 100,
            "additionalProperties": _FIGURE,
        },
        "slos": {
            "type": "object",
            "propertyNames": {"maxLength": 80},
            "additionalProperties": _SLO,
        },
        "think_time_s": {
            "type": "object",
            "additionalProperties": False,
            "required": ["min", "max"],
            "properties": {
                "min": {"type": "number", "minimum": 0, "maximum": MAX_THINK_S},
                "max": {"type": "number", "minimum": 0, "maximum": MAX_THINK_S},
            },
        },
        "bounds": {
            "type": "object",
            "additionalProperties": False,
            "required": ["max_users", "max_rate_per_s", "max_run_time_s"],
            "properties": {
                "max_users": {"type": "integer", "minimum": 1, "maximum": MAX_USERS},
                "max_rate_per_s": {**_POSITIVE, "maximum": MAX_RATE_PER_S},
                "max_run_time_s": {**_POSITIVE, "maximum": MAX_RUN_TIME_S},
            },
        },
        "stress_factor": {"type": "number", "minimum": 1, "maximum": MAX_STRESS_FACTOR},
    },
}


def load_profile(path: Path) -> LoadProfile:
    """The profile at `path`; `ProfileError` (file:line: field: reason) when it is broken."""
    name = str(path)
    try:
        raw = read_limited(path, MAX_PROFILE_BYTES)
    except InputFileError as exc:
        raise ProfileError(name, 1, "", f"cannot read file: {exc.reason}") from None
    try:
        doc = parse_yaml(raw, name)
        if not isinstance(doc.data, dict):
            raise doc.error((), "a load profile is a mapping of fields")
        check_schema(doc, SCHEMA)
        profile = _build(doc, path, hashlib.sha256(raw).hexdigest())
    except ProfileError:
        raise
    except SourceError as exc:
        raise ProfileError(exc.file, exc.line, exc.field, exc.message) from None
    return profile


def _fail(doc: YamlDocument, path: tuple[str | int, ...], message: str) -> ProfileError:
    err = doc.error(path, message)
    return ProfileError(err.file, err.line, err.field, err.message)


def _operations(doc: YamlDocument) -> tuple[str, ...]:
    seen: list[str] = []
    for index, operation in enumerate(doc.data["operations"]):
        if operation not in OPERATIONS:
            raise _fail(
                doc,
                ("operations", index),
                f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}",
            )
        if operation in seen:
            raise _fail(doc, ("operations", index), f"operation {operation!r} listed twice")
        seen.append(operation)
    return tuple(seen)


def _figures(doc: YamlDocument, operations: tuple[str, ...]) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    for name, entry in doc.data["figures"].items():
        at = ("figures", name)
        kind = FIGURES.get(name)
        if kind is None:
            raise _fail(doc, at, f"unknown figure; known: {', '.join(FIGURES)}")
        if entry["unit"] != kind.unit:
            raise _fail(doc, (*at, "unit"), f"{entry['unit']!r}: this figure is in {kind.unit!r}")
        value = float(entry["value"])
        reason = _out_of_range(value, kind.kind)
        if reason:
            raise _fail(doc, (*at, "value"), reason)
        figures[name] = Figure(
            name=name,
            value=value,
            unit=entry["unit"],
            source=Source(entry["source"]),
            note=entry["note"],
            line=doc.line_of(at),
        )
    for operation in operations:
        for needed in NEEDS[operation]:
            if needed not in figures and needed not in OPTIONAL:
                raise _fail(
                    doc,
                    ("figures",),
                    f"missing figure {needed!r} (the rate of {operation} needs it)",
                )
    return figures


def _out_of_range(value: float, kind: str) -> str:
    if not math.isfinite(value):
        return "must be a finite number"
    if kind == SHARE and not 0 < value <= 1:
        return f"{value:g}: a share is more than 0 and at most 1 (90 % is 0.9)"
    if kind == HOUR and not (value == int(value) and 0 <= value <= 23):
        return f"{value:g}: an hour of the day, 0 to 23"
    if kind not in (SHARE, HOUR) and not value > 0:
        return f"{value:g}: must be more than 0"
    return ""


def _slos(doc: YamlDocument, operations: tuple[str, ...]) -> dict[str, Slo]:
    slos: dict[str, Slo] = {}
    for operation, entry in doc.data["slos"].items():
        at = ("slos", operation)
        if operation not in OPERATIONS:
            raise _fail(doc, at, f"unknown operation; known: {', '.join(OPERATIONS)}")
        if operation not in operations:
            raise _fail(doc, at, "an SLO for an operation the profile does not load")
        limits = [(key, entry[key]) for key in ("p50_ms", "p95_ms", "p99_ms") if key in entry]
        for (low_key, low), (high_key, high) in itertools.pairwise(limits):
            if high < low:
                raise _fail(doc, (*at, high_key), f"{high:g} ms is below {low_key} ({low:g} ms)")
        slos[operation] = Slo(
            operation=operation,
            p50_ms=_number(entry.get("p50_ms")),
            p95_ms=_number(entry.get("p95_ms")),
            p99_ms=_number(entry.get("p99_ms")),
            max_error_rate=_number(entry.get("max_error_rate")),
            min_rate_share=_number(entry.get("min_rate_share")),
            line=doc.line_of(at),
        )
    return slos


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _build(doc: YamlDocument, path: Path, sha256: str) -> LoadProfile:
    data = doc.data
    operations = _operations(doc)
    figures = _figures(doc, operations)
    slos = _slos(doc, operations)
    think = data["think_time_s"]
    if think["max"] < think["min"]:
        raise _fail(
            doc, ("think_time_s", "max"), f"{think['max']:g} s is below min ({think['min']:g} s)"
        )
    bounds = data["bounds"]
    profile = LoadProfile(
        id=data["id"],
        version=data["version"],
        title_da=data["title"]["da"],
        title_en=data["title"]["en"],
        figures=figures,
        operations=operations,
        slos=slos,
        think_time_s=(float(think["min"]), float(think["max"])),
        bounds=Bounds(
            max_users=int(bounds["max_users"]),
            max_rate_per_s=float(bounds["max_rate_per_s"]),
            max_run_time_s=float(bounds["max_run_time_s"]),
        ),
        stress_factor=float(data["stress_factor"]),
        path=path,
        sha256=sha256,
    )
    # A profile whose own stress shape exceeds its rate bound could never run as written.
    stress = derive_rates(profile).total("stress")
    if stress > profile.bounds.max_rate_per_s:
        raise _fail(
            doc,
            ("bounds", "max_rate_per_s"),
            f"{profile.bounds.max_rate_per_s:g} requests/s is below the stress shape's "
            f"{stress:.1f} requests/s",
        )
    return profile
