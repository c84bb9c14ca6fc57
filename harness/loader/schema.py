"""The protocol JSON Schema, merged from the core shape and the registered plug-ins."""

from __future__ import annotations

from typing import Any

import harness.standards  # (every standard's checks and kinds registered)
import harness.testscript.steps  # noqa: F401  (registers the TestScript actions and checks)
from harness.checks import CHECKS
from harness.runner.actions import ACTIONS
from harness.sut.contract import operation_names

FORMAT_VERSION = 1

_TEXT: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["da"],
            "properties": {"da": {"type": "string"}, "en": {"type": "string"}},
        },
    ]
}

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"}
_SEVERITY = {"enum": ["F1", "F2", "F3", "F4"]}
_REQUIREMENT = {"type": "string", "pattern": r"^MVP[0-9]-[A-Z]+-[0-9]{2}$"}


def needs_schema() -> dict[str, Any]:
    """What a protocol (or one of its cases) needs of the SUT; operations are the contract's."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "standard": {"type": "string", "pattern": r"^[A-Za-z0-9-]+$"},
            "direction": {"enum": ["send", "receive"]},
            "versions": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "maxItems": 20,
            },
            "operations": {
                "type": "array",
                "items": {"enum": operation_names()},
                "maxItems": 50,
            },
        },
    }


def _one_of_registry(
    kind_to_schema: dict[str, dict[str, Any]], extra: dict[str, Any]
) -> dict[str, Any]:
    """An object keyed by one plug-in name (plus `extra` keys), the value its parameters.

    propertyNames + if/then rather than oneOf, so a misspelt name is reported as such.
    """
    names = sorted(kind_to_schema)
    return {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1 + len(extra),
        "propertyNames": {"enum": names + sorted(extra)},
        "allOf": [
            {"if": {"required": [name]}, "then": {"properties": {name: kind_to_schema[name]}}}
            for name in names
        ],
    }


def protocol_schema() -> dict[str, Any]:
    actions = {e.name: e.params_schema for e in ACTIONS}
    checks = {e.name: e.params_schema for e in CHECKS}
    step = {
        "type": "object",
        "additionalProperties": False,
        "required": ["step", "handling", "expected"],
        "properties": {
            "step": {"type": ["string", "integer"]},
            "handling": _TEXT,
            "testdata": {"type": "string"},
            "expected": _TEXT,
            "manual": {"type": "boolean"},
            "do": _one_of_registry(actions, {}),
            "expect": {
                "type": "array",
                "items": _one_of_registry(checks, {"severity": _SEVERITY}),
            },
        },
    }
    case = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "title", "requirements", "severity", "steps"],
        "properties": {
            "id": _ID,
            "title": _TEXT,
            "description": _TEXT,
            "requirements": {"type": "array", "items": _REQUIREMENT, "minItems": 1},
            "severity": _SEVERITY,
            "reset": {"type": "boolean"},
            "needs": needs_schema(),
            "steps": {"type": "array", "items": step, "minItems": 1},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kcert protocol",
        "type": "object",
        "additionalProperties": False,
        "required": ["kcert-protocol", "id", "version", "title", "standard", "cases"],
        "properties": {
            "kcert-protocol": {"const": FORMAT_VERSION},
            "id": _ID,
            "version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
            "title": _TEXT,
            "standard": {"type": "string", "pattern": r"^[A-Za-z0-9-]+$"},
            "capability": {"type": "string"},
            "needs": needs_schema(),
            "cases": {"type": "array", "items": case, "minItems": 1},
        },
    }
