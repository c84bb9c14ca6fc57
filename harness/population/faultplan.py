"""Fault plans: which data-quality faults to plant, how many, with which seed (YAML).

```yaml
version: 1
seed: 7
faults:
  inhaler-without-copd: {rate: 0.1}   # a share of the patients who can carry the kind
  missing-gp: {count: 3}              # or an exact number of patients
  register-stale: {}                  # a clinic-level kind: planted when listed
```

Checked against a JSON Schema; a mistake is a `SourceError` at `file:line: field`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.population.faults import BY_ID, KIND_IDS, Rate
from harness.yamlsource import SourceError, YamlDocument, check_schema, load_yaml

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "seed", "faults"],
    "properties": {
        "version": {"const": 1},
        "seed": {"type": "integer", "minimum": 0},
        "faults": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"enum": list(KIND_IDS)},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    "count": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class FaultPlan:
    seed: int
    faults: dict[str, Rate]
    source: str = ""


def load_fault_plan(path: Path) -> FaultPlan:
    """The plan in `path`; SourceError at file:line when it breaks the schema."""
    return fault_plan_of(load_yaml(path))


def fault_plan_of(doc: YamlDocument) -> FaultPlan:
    if not isinstance(doc.data, dict):
        raise SourceError(doc.file, 1, "", "a fault plan is a mapping (version, seed, faults)")
    listed = doc.data.get("faults")
    for kind in listed if isinstance(listed, dict) else ():
        if kind not in BY_ID:  # at the misspelt key's own line, with the kinds there are
            raise doc.error(("faults", kind), f"unknown fault kind; known: {', '.join(KIND_IDS)}")
    check_schema(doc, SCHEMA)
    faults: dict[str, Rate] = {}
    for kind, spec in doc.data["faults"].items():
        at = ("faults", kind)
        if BY_ID[kind].level == "clinic":
            if spec:
                raise doc.error(at, "a clinic-level kind takes no rate or count: write {}")
            faults[kind] = Rate(count=1)
            continue
        if ("rate" in spec) == ("count" in spec):
            raise doc.error(at, "give exactly one of rate (0 < rate <= 1) or count")
        faults[kind] = Rate(rate=spec.get("rate"), count=spec.get("count"))
    return FaultPlan(int(doc.data["seed"]), faults, doc.file)
