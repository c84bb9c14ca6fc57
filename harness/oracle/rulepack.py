"""Rule packs: kcert's own versioned YAML of parameters, code groups and profile definitions."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.i18n import Text
from harness.yamlsource import check_schema, load_yaml

RULEPACK_DIR = Path(__file__).resolve().parent.parent / "rulepacks"
DEFAULT_RULEPACK = RULEPACK_DIR / "cockpit-v1.yaml"

# Each clause kind and the arguments it needs (checked at load, reported at file:line).
CLAUSE_ARGS: dict[str, tuple[str, ...]] = {
    "age-at-least": ("param",),
    "active-condition": ("group",),
    "member-of": ("profile",),
    "member-of-at-least": ("profiles", "param"),
    "no-service-within": ("services", "param"),
    "insurance-group": ("value",),
    "latest-observation-above": ("observation", "param"),
    "latest-observation-below": ("observation", "param"),
    "colour-is": ("stratification", "colour"),
    "followup-overdue": ("stratification", "group", "services", "intervals"),
    "no-startback-within": ("param",),
}
CLAUSE_KINDS = tuple(CLAUSE_ARGS)
# Stratifications have code behind them (harness/oracle/engine.py); a pack can only name these.
STRATIFICATIONS = ("kol", "lrs")
COLOURS = ("red", "yellow", "green")
# Parameters measured in these units count whole months, years or events.
WHOLE_UNITS = ("months", "years", "events", "conditions", "points")

_TEXT = {
    "type": "object",
    "required": ["da", "en"],
    "additionalProperties": False,
    "properties": {"da": {"type": "string"}, "en": {"type": "string"}},
}
_SOURCE = {"enum": ["V", "D"]}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "kcert-rulepack",
        "id",
        "version",
        "title",
        "parameters",
        "codes",
        "groups",
        "observations",
        "services",
        "stratifications",
        "profiles",
    ],
    "properties": {
        "kcert-rulepack": {"const": 1},
        "id": {"type": "string"},
        "version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
        "title": _TEXT,
        "parameters": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["value", "unit", "source"],
                "additionalProperties": False,
                "properties": {
                    "value": {"type": "number"},
                    "unit": {"type": "string"},
                    "source": _SOURCE,
                    "ref": {"type": "string"},
                    "note": {"type": "string"},
                },
            },
        },
        "codes": {"type": "object", "additionalProperties": {"type": "string"}},
        "groups": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["icpc2", "sks_prefix"],
                "properties": {
                    "icpc2": {"type": "array", "items": {"type": "string"}},
                    "sks_prefix": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "observations": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["system", "code"],
                "properties": {"system": {"type": "string"}, "code": {"type": "string"}},
            },
        },
        "services": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "stratifications": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["text", "source", "colours"],
                "properties": {
                    "text": _TEXT,
                    "source": _SOURCE,
                    "colours": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["colour", "id", "text"],
                            "properties": {
                                "colour": {"enum": ["red", "yellow", "green"]},
                                "id": {"type": "string"},
                                "text": _TEXT,
                            },
                        },
                    },
                },
            },
        },
        "profiles": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "source", "title", "clauses"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                    "source": _SOURCE,
                    "title": _TEXT,
                    "clauses": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["id", "kind", "text"],
                            "properties": {
                                "id": {"type": "string"},
                                "kind": {"enum": list(CLAUSE_KINDS)},
                                "text": _TEXT,
                            },
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Clause:
    id: str
    kind: str
    text: Text
    args: dict[str, Any]


@dataclass(frozen=True)
class Profile:
    id: str
    title: Text
    source: str
    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class RulePack:
    id: str
    version: str
    title: Text
    params: dict[str, float]
    param_meta: dict[str, dict[str, Any]]
    codes: dict[str, str]
    groups: dict[str, dict[str, list[str]]]
    observations: dict[str, tuple[str, str]]
    services: dict[str, frozenset[str]]
    stratifications: dict[str, list[dict[str, Any]]]
    profiles: tuple[Profile, ...]
    sha256: str
    file: str

    def param(self, name: str) -> int:
        """A whole-number parameter (months, years, counts); checked whole at load."""
        return int(self.params[name])

    def threshold(self, name: str) -> float:
        """A limit compared with measured values; may have decimals."""
        return self.params[name]

    def profile(self, profile_id: str) -> Profile:
        for profile in self.profiles:
            if profile.id == profile_id:
                return profile
        known = ", ".join(p.id for p in self.profiles)
        raise KeyError(f"unknown profile {profile_id!r}; known: {known}")


def _fill(text: dict[str, str], params: dict[str, float]) -> Text:
    values = {k: (int(v) if float(v).is_integer() else v) for k, v in params.items()}
    return Text(
        string.Formatter().vformat(text["da"], (), values),
        string.Formatter().vformat(text["en"], (), values),
    )


def load_rulepack(path: Path | None = None) -> RulePack:
    """Load and cross-check a rule pack; problems are SourceErrors at file:line."""
    path = path or DEFAULT_RULEPACK
    doc = load_yaml(path)
    check_schema(doc, SCHEMA)
    data = doc.data
    params = {name: float(meta["value"]) for name, meta in data["parameters"].items()}
    for name, meta in data["parameters"].items():
        if meta["unit"] in WHOLE_UNITS and not float(meta["value"]).is_integer():
            raise doc.error(
                ("parameters", name, "value"),
                f"a parameter in {meta['unit']} must be a whole number",
            )
    codes = dict(data["codes"])
    observations = {}
    for name, obs in data["observations"].items():
        if obs["system"] not in codes:
            raise doc.error(
                ("observations", name, "system"), f"unknown code system {obs['system']!r}"
            )
        observations[name] = (codes[obs["system"]], obs["code"])
    seen: set[str] = set()
    profiles = []
    for pi, raw in enumerate(data["profiles"]):
        clauses = []
        for ci, clause in enumerate(raw["clauses"]):
            where = ("profiles", pi, "clauses", ci)
            args = {k: v for k, v in clause.items() if k not in ("id", "kind", "text")}
            _check_clause(doc, where, clause["kind"], args, params, seen, data)
            try:
                text = _fill(clause["text"], params)
            except (KeyError, IndexError, ValueError) as exc:
                raise doc.error(
                    (*where, "text"), f"text names an unknown parameter or is malformed: {exc}"
                ) from None
            clauses.append(Clause(clause["id"], clause["kind"], text, args))
        if raw["id"] in seen:
            raise doc.error(("profiles", pi, "id"), f"duplicate profile {raw['id']!r}")
        seen.add(raw["id"])
        profiles.append(
            Profile(raw["id"], _fill(raw["title"], params), raw["source"], tuple(clauses))
        )
    stratifications: dict[str, list[dict[str, Any]]] = {}
    for name, strat in data["stratifications"].items():
        if name not in STRATIFICATIONS:
            raise doc.error(
                ("stratifications", name),
                f"no stratification logic named {name!r}; known: " + ", ".join(STRATIFICATIONS),
            )
        colours = []
        for index, colour in enumerate(strat["colours"]):
            try:
                text = _fill(colour["text"], params)
            except (KeyError, IndexError, ValueError) as exc:
                raise doc.error(
                    ("stratifications", name, "colours", index, "text"),
                    f"text names an unknown parameter or is malformed: {exc}",
                ) from None
            colours.append({"colour": colour["colour"], "id": colour["id"], "text": text})
        if sorted(c["colour"] for c in colours) != sorted(COLOURS):
            raise doc.error(
                ("stratifications", name, "colours"),
                "a stratification defines red, yellow and green once each",
            )
        stratifications[name] = colours
    return RulePack(
        id=data["id"],
        version=data["version"],
        title=Text.of(data["title"]),
        params=params,
        param_meta=dict(data["parameters"]),
        codes=codes,
        groups={k: dict(v) for k, v in data["groups"].items()},
        observations=observations,
        services={k: frozenset(v) for k, v in data["services"].items()},
        stratifications=stratifications,
        profiles=tuple(profiles),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        file=str(path),
    )


def _check_clause(
    doc: Any,
    where: tuple[Any, ...],
    kind: str,
    args: dict[str, Any],
    params: dict[str, float],
    seen: set[str],
    data: dict[str, Any],
) -> None:
    """References inside a clause must exist; member-of must name an earlier profile."""
    missing = [a for a in CLAUSE_ARGS[kind] if a not in args]
    if missing:
        raise doc.error(where, f"a {kind} clause needs {', '.join(missing)}")
    if kind == "colour-is" and args["colour"] not in COLOURS:
        raise doc.error((*where, "colour"), f"colour must be one of {', '.join(COLOURS)}")
    if kind == "followup-overdue" and sorted(args["intervals"]) != sorted([*COLOURS, "none"]):
        raise doc.error((*where, "intervals"), "intervals needs red, yellow, green and none")
    if "param" in args and args["param"] not in params:
        raise doc.error((*where, "param"), f"unknown parameter {args['param']!r}")
    for name in args.get("intervals", {}).values():
        if name not in params:
            raise doc.error((*where, "intervals"), f"unknown parameter {name!r}")
    if "group" in args and args["group"] not in data["groups"]:
        raise doc.error((*where, "group"), f"unknown group {args['group']!r}")
    if "services" in args and args["services"] not in data["services"]:
        raise doc.error((*where, "services"), f"unknown service set {args['services']!r}")
    if "observation" in args and args["observation"] not in data["observations"]:
        raise doc.error((*where, "observation"), f"unknown observation {args['observation']!r}")
    if "stratification" in args and args["stratification"] not in STRATIFICATIONS:
        raise doc.error(
            (*where, "stratification"), f"no stratification logic named {args['stratification']!r}"
        )
    if "stratification" in args and args["stratification"] not in data["stratifications"]:
        raise doc.error(
            (*where, "stratification"), f"unknown stratification {args['stratification']!r}"
        )
    for ref in [args["profile"]] if "profile" in args else args.get("profiles", []):
        if ref not in seen:
            raise doc.error(where, f"member-of must name an earlier profile, not {ref!r}")
