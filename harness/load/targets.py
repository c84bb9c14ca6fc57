"""The target configuration of a load run: which FLP service to aim at, and the safety gate.

A target file (YAML, e.g. fixtures/load/targets/reference-flp.yaml) names the service, its base
URL and version, the non-loopback hosts it may be, and request headers. Header values that
carry tokens are written as `${ENV}` references: the file never holds a secret, the value is
read from the environment only when a request is sent (`harness.load.plan.resolve_headers`),
and `Target.headers` keeps the references as written, so nothing secret reaches a report.

Safety (issue 15, item 7): a base URL whose host is neither loopback (127.0.0.0/8, ::1,
localhost) nor listed in the file's `allowed_hosts` is refused (`TargetRefused`) before any
request is sent.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.load.model import ReferenceService, Target
from harness.load.plan import env_references
from harness.yamlsource import SourceError, check_schema, load_yaml

_HOST = r"^[A-Za-z0-9.-]+$|^[0-9A-Fa-f:.]+$"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "base_url"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "base_url": {"type": "string", "minLength": 1},
        "version": {"type": "string"},
        "allowed_hosts": {"type": "array", "items": {"type": "string", "pattern": _HOST}},
        # "start kcert's reference FLP service for the run and aim at it" (read by
        # harness.load.command; the base URL is then a placeholder the started service replaces)
        "reference": {
            "oneOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "workers": {"type": "integer", "minimum": 1, "maximum": 64},
                        "defects": {"type": "array", "items": {"type": "string"}},
                        "seed": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "clinics": {"type": "integer", "minimum": 0, "maximum": 2000},
                                "plans_per_clinic": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 2000,
                                },
                            },
                        },
                    },
                },
            ]
        },
        "headers": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9-]+$"},
            "additionalProperties": {"type": "string"},
        },
    },
}
# A header value that looks like a credential written out instead of referenced.
_SECRET_HEADERS = re.compile(r"^(authorization|x-api-key|api-key|x-auth-token|cookie)$", re.I)


class TargetError(ValueError):
    """A target file that cannot be used; str is `file:line: field: reason`."""


class TargetRefused(TargetError):
    """The target's host is neither loopback nor listed in allowed_hosts."""


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(base_url: str, allowed_hosts: tuple[str, ...]) -> str:
    """Why a run may not aim at `base_url`, or "" when it may."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{base_url!r} is not an http(s) URL with a host"
    host = parts.hostname
    if is_loopback(host):
        return ""
    if host.lower() in {h.lower() for h in allowed_hosts}:
        return ""
    return (
        f"host {host} is not a loopback address and not listed in allowed_hosts; "
        "a load test is only sent where the configuration says so explicitly"
    )


def load_target(path: Path) -> Target:
    """The target in `path`; TargetError (file:line: field: reason) for bad input,
    TargetRefused for a host the file does not allow."""
    try:
        doc = load_yaml(path)
        if isinstance(doc.data, dict):  # a misspelt key at its own line, not the file's first
            known = SCHEMA["properties"]
            for key in doc.data:
                if key not in known:
                    raise doc.error((str(key),), f"unknown field; known: {', '.join(known)}")
        check_schema(doc, SCHEMA)
    except SourceError as exc:
        raise TargetError(str(exc)) from None
    data = doc.data
    base_url = str(data["base_url"]).rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(str(doc.error(("base_url",), f"{base_url!r} is not an http(s) URL")))
    if parts.query or parts.fragment:
        raise TargetError(str(doc.error(("base_url",), "no query or fragment in a base URL")))
    allowed = tuple(str(h) for h in data.get("allowed_hosts", []))
    why = refusal(base_url, allowed)
    if why:
        raise TargetRefused(str(doc.error(("base_url",), why)))
    headers: dict[str, str] = {}
    for name, value in (data.get("headers") or {}).items():
        refs = env_references(value)
        if _SECRET_HEADERS.match(name) and not refs:
            raise TargetError(
                str(
                    doc.error(
                        ("headers", name),
                        "write the credential as a ${ENV} reference, never in the file",
                    )
                )
            )
        missing = [ref for ref in refs if ref not in os.environ]
        if missing:
            raise TargetError(
                str(doc.error(("headers", name), f"environment variable {missing[0]} is not set"))
            )
        headers[str(name)] = value
    return Target(
        name=str(data["name"]),
        base_url=base_url,
        version=str(data.get("version", "")),
        allowed_hosts=allowed,
        headers=headers,
        path=path,
        reference=_reference(data.get("reference")),
    )


def _reference(value: object) -> ReferenceService | None:
    """`reference:` as the schema let it through: true, false/absent, or its mapping."""
    if value is None or value is False:
        return None
    if not isinstance(value, dict):
        return ReferenceService()
    default = ReferenceService()
    seed = value.get("seed") or {}
    return ReferenceService(
        workers=int(value.get("workers", default.workers)),
        defects=tuple(dict.fromkeys(str(d) for d in value.get("defects") or ())),
        seed_clinics=int(seed.get("clinics", default.seed_clinics)),
        seed_plans=int(seed.get("plans_per_clinic", default.seed_plans)),
    )
