"""The operations of the LPS test agent contract, by operationId, and which one a path is."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.yamlsource import load_yaml

CONTRACT = Path(__file__).resolve().parent.parent / "contract" / "lps-test-agent-api.yaml"
AGENT_PREFIX = "/kcert-agent/v1/"


@lru_cache(maxsize=1)
def contract_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) of every operation in the contract."""
    data: Any = load_yaml(CONTRACT).data
    found: dict[str, tuple[str, str]] = {}
    for path, item in (data.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if isinstance(op, dict) and "operationId" in op:
                found[str(op["operationId"])] = (method.upper(), str(path))
    return found


def operation_names() -> list[str]:
    return sorted(contract_operations())


def operation_at(method: str, path: str) -> str:
    """The operationId a request goes to ("" when the contract has no such operation).

    `path` is relative to the agent base ("profiles/x/members?asOf=…") or absolute
    ("/kcert-agent/v1/profiles/{profileId}/members", as contract-fuzz names operations).
    """
    bare = path.split("?", 1)[0]
    if not bare.startswith("/"):
        bare = AGENT_PREFIX + bare
    for op_id, (op_method, template) in contract_operations().items():
        if op_method != method.upper():
            continue
        if template == bare or _template_regex(template).fullmatch(bare):
            return op_id
    return ""


@lru_cache(maxsize=64)
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))
