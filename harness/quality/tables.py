"""A clinic extract's fact rows as Polars frames, typed, so an empty table has its columns.

Built straight from the fact rows (not through `Extract.columns`): the codings become a list of
their systems and the reader's faults a list, so the checks test membership, not substrings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from harness.population.facts import Extract

_S, _D, _B = pl.Utf8, pl.Date, pl.Boolean
_L = pl.List(pl.Utf8)

SCHEMAS: dict[str, dict[str, Any]] = {
    "patients": {
        "id": _S,
        "cpr": _S,
        "birth": _D,
        "active": _B,
        "deceased": _B,
        "deceased_date": _D,
        "gp_sor": _S,
        "insurance_group": pl.Int64,
        "faults": _L,
    },
    "conditions": {
        "id": _S,
        "cpr": _S,
        "system": _S,
        "code": _S,
        "systems": _L,
        "status": _S,
        "recorded": _D,
        "faults": _L,
    },
    "observations": {
        "id": _S,
        "cpr": _S,
        "system": _S,
        "code": _S,
        "systems": _L,
        "date": _D,
        "value_kind": _S,
        "number": pl.Float64,
        "value_text": _S,
        "unit": _S,
        "faults": _L,
    },
    "medications": {
        "id": _S,
        "cpr": _S,
        "system": _S,
        "code": _S,
        "systems": _L,
        "status": _S,
        "start": _D,
        "end": _D,
        "faults": _L,
    },
    "services": {"id": _S, "cpr": _S, "code": _S, "date": _D, "faults": _L},
    "encounters": {"id": _S, "cpr": _S, "date": _D, "faults": _L},
    "startbacks": {"id": _S, "cpr": _S, "status": _S, "date": _D, "complete": _B, "faults": _L},
}


@dataclass(frozen=True)
class Tables:
    frames: dict[str, pl.DataFrame]

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.frames[name]


def _value(row: Any, name: str) -> Any:
    if name == "systems":
        return [system for system, _ in row.codings]
    if name == "faults":
        return list(row.faults)
    if name == "complete":
        return bool(row.complete)
    return getattr(row, name)


def tables_of(extract: Extract) -> Tables:
    frames = {}
    for name, schema in SCHEMAS.items():
        rows = extract.table(name)
        data = {column: [_value(r, column) for r in rows] for column in schema}
        frames[name] = pl.DataFrame(data, schema=schema)
    return Tables(frames)
