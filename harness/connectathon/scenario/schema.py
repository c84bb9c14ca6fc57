"""The scenario JSON Schema: roles, steps between roles, and per step an action and checks
taken from the protocol schema (so the registries' names and parameters are the same)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from harness.loader.protocols import SCENARIO_MARKER
from harness.loader.schema import needs_schema, protocol_schema

FORMAT_VERSION = 1
MARKER = SCENARIO_MARKER
MAX_ROLES = 12
MAX_STEPS = 50
REQUIRED = [MARKER, "id", "version", "title", "requirements", "severity", "roles", "steps"]

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 80}
_ROLE = {"type": "string", "pattern": r"^[a-z][a-z0-9-]*$", "maxLength": 40}


def _protocol_step() -> dict[str, Any]:
    schema = protocol_schema()
    case = schema["properties"]["cases"]["items"]
    step: dict[str, Any] = case["properties"]["steps"]["items"]
    return step


@lru_cache(maxsize=1)
def scenario_schema() -> dict[str, Any]:
    """The schema of one scenario file (built once: the registries are fixed after import)."""
    protocol = protocol_schema()
    step = _protocol_step()["properties"]
    text = step["handling"]
    case = protocol["properties"]["cases"]["items"]["properties"]
    role = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "simulated"],
        "properties": {
            "name": _ROLE,
            "title": text,
            # kcert may play it (its peers) when no registered system does
            "simulated": {"type": "boolean"},
            # a registered system may play it (default true)
            "systems_may_play": {"type": "boolean"},
        },
    }
    scenario_step = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "receiver", "title", "do"],
        "properties": {
            "id": _ID,
            # omitted: kcert itself prepares the receiver (test data), no role sends
            "sender": _ROLE,
            "receiver": _ROLE,
            "title": text,
            "expected": text,
            "testdata": {"type": "string", "maxLength": 500},
            "do": step["do"],
            "expect": step["expect"],
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kcert connectathon scenario",
        "type": "object",
        "additionalProperties": False,
        "required": REQUIRED,
        "properties": {
            MARKER: {"const": FORMAT_VERSION},
            "id": _ID,
            "version": protocol["properties"]["version"],
            "title": text,
            "description": text,
            "requirements": case["requirements"],
            "severity": case["severity"],
            "reset": {"type": "boolean"},
            "needs": needs_schema(),
            "roles": {"type": "array", "items": role, "minItems": 2, "maxItems": MAX_ROLES},
            "steps": {
                "type": "array",
                "items": scenario_step,
                "minItems": 1,
                "maxItems": MAX_STEPS,
            },
            "catches": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[a-z0-9-]+$"},
                "maxItems": 50,
            },
        },
    }
