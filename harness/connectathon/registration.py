"""Systems YAML: the systems a vendor registers for a connectathon session.

One system (a mapping) or several (a list of them) per file:

    - vendor: Vendor A/S
      product: Vendor LPS
      version: "7.2.1"
      roles: [lps]
      system_id: vendor-a-lps        # optional: derived from vendor and product
      registration:                  # the SUT, as SutChoice.from_registration takes it
        configuration: {...}         # the SUT configuration inline (or `sut: reference`)

Every entry is checked when the file is read, its registration included (the SUT
configuration read the one way, certificates and CA files confined to the YAML's folder);
errors are `SourceError`s at file:line naming the field. No plain token is accepted: the store
keeps registrations, and a token belongs in an environment variable (`auth.token_env`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.connectathon.model import SIMULATED, System
from harness.connectathon.store import slug
from harness.session.sut import RegistrationError, SutChoice
from harness.yamlsource import JsonPath, SourceError, YamlDocument, check_schema, load_yaml

MAX_SYSTEMS = 200  # per file
MAX_ROLES = 20  # per system
_ID = r"^[a-z0-9][a-z0-9-]{0,119}$"
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}

SYSTEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["vendor", "product", "version", "roles", "registration"],
    "properties": {
        "system_id": {"type": "string", "pattern": _ID},
        "vendor": _TEXT,
        "product": _TEXT,
        "version": {**_TEXT, "description": "quote a version that looks like a number"},
        "roles": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ROLES,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,79}$"},
        },
        "registration": {"type": "object"},
    },
}

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def load_systems(path: Path, session_id: str) -> list[System]:
    """The systems of a systems YAML, for `session_id`; SourceError at file:line if broken."""
    doc = load_yaml(path)
    if isinstance(doc.data, list):
        if not doc.data:
            raise doc.error((), "the file lists no system")
        if len(doc.data) > MAX_SYSTEMS:
            raise doc.error((MAX_SYSTEMS,), f"more than {MAX_SYSTEMS} systems in one file")
        places: list[JsonPath] = [(n,) for n in range(len(doc.data))]
    elif isinstance(doc.data, Mapping):
        places = [()]
    else:
        raise doc.error((), "a system (a mapping) or a list of systems")
    systems: list[System] = []
    seen: set[str] = set()
    for at in places:
        system = _system(doc, at, path.parent, session_id)
        if system.system_id in seen:
            raise doc.error((*at, "system_id"), f"{system.system_id!r} is registered twice")
        seen.add(system.system_id)
        systems.append(system)
    return systems


def _system(doc: YamlDocument, at: JsonPath, folder: Path, session_id: str) -> System:
    entry: Any = doc.data[at[0]] if at else doc.data
    if isinstance(entry, Mapping):
        # a misspelt key is the likeliest mistake: named at its own line
        known = SYSTEM_SCHEMA["properties"]
        for key in entry:
            if key not in known:
                raise doc.error((*at, str(key)), f"unknown field; a system has {', '.join(known)}")
    check_schema(doc, SYSTEM_SCHEMA, at)
    registration = dict(entry["registration"])
    auth = (registration.get("configuration") or {}).get("auth")
    if isinstance(auth, Mapping) and "token" in auth:
        raise doc.error(
            (*at, "registration", "configuration", "auth", "token"),
            "no plain token here (the store keeps registrations): "
            "name an environment variable with token_env",
        )
    try:
        SutChoice.from_registration(registration, folder)
    except RegistrationError as exc:
        raise doc.error((*at, "registration", *_path(exc.field)), _message(exc)) from None
    system_id = entry.get("system_id") or slug(f"{entry['vendor']}-{entry['product']}", "system")
    if system_id == SIMULATED:
        raise doc.error((*at, "system_id"), f"{SIMULATED!r} is kcert's own name: choose another")
    return System(
        system_id=system_id,
        session_id=session_id,
        vendor=entry["vendor"],
        product=entry["product"],
        version=entry["version"],
        roles=tuple(entry["roles"]),
        registration=registration,
        files=str(folder.resolve()),
    )


def sut_choice(system: System, registration: Mapping[str, Any] | None = None) -> SutChoice:
    """The system's SUT as its registration names it, its relative files found in the folder
    of the systems YAML it came from (`registration`: the same, changed, e.g. re-routed)."""
    files = Path(system.files) if system.files else None
    return SutChoice.from_registration(
        dict(system.registration if registration is None else registration), files
    )


def _path(field: str) -> JsonPath:
    """`configuration.standards[0]` → ("configuration", "standards", 0): the line to name."""
    return tuple(
        int(index) if index else name for name, index in _PART.findall(field) if name or index
    )


def _message(exc: RegistrationError) -> str:
    # RegistrationError's text repeats its field ("registration field X: …"): the SourceError
    # names the field itself.
    text = str(exc)
    prefix = f"registration field {exc.field}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


__all__ = ["MAX_SYSTEMS", "SYSTEM_SCHEMA", "SourceError", "load_systems", "sut_choice"]
