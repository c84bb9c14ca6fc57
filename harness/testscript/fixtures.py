"""Fixtures of a TestScript: where their files are, and their content as FHIR data.

A fixture's `resource.reference` is resolved in this order:
1. the fixtures map (YAML, `fixtures: {reference: local path}`; a key may also be the
   reference's file name); a mapped path may name a member of a .tgz as `file.tgz#member`;
2. relative to the TestScript file, when that stays inside the folder tree being run;
3. the only file in that folder tree with the reference's file name (TouchStone paths such
   as `/FHIRSandbox/MedCom/.../Fixtures/x.xml` end in the name of a file kept with the scripts).
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.fhir.resource import FhirReadError, read_resource, to_xml
from harness.inputfile import InputFileError, read_limited
from harness.safeparse import PayloadError
from harness.yamlsource import SourceError, check_schema, load_yaml

MAX_FIXTURE_BYTES = 10 * 1024 * 1024

MAP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["fixtures"],
    "additionalProperties": False,
    "properties": {
        "fixtures": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
        }
    },
}


class FixtureError(ValueError):
    """A fixture cannot be found or read; the text names the fixture and what to do."""


@dataclass(frozen=True)
class Payload:
    """A FHIR body: the data as JSON-shaped dict, its bytes and their format."""

    resource: dict[str, Any] | None
    raw: bytes
    fmt: str  # "json", "xml" or "" (not FHIR)
    name: str = ""

    def body(self, fmt: str) -> bytes:
        """The bytes in `fmt`: the original when it already is, else converted."""
        if fmt == self.fmt or self.resource is None:
            return self.raw
        if fmt == "xml":
            try:
                return to_xml(self.resource)
            except FhirReadError as exc:
                raise FixtureError(f"{self.name}: cannot be written as XML: {exc}") from None
        return json.dumps(self.resource, ensure_ascii=False).encode()


def read_payload(raw: bytes, content_type: str = "", name: str = "") -> Payload:
    """Parse a FHIR body; bodies that are not FHIR keep their bytes and no resource."""
    if not raw.strip():
        return Payload(None, raw, "", name)
    try:
        fmt, resource = read_resource(raw, content_type)
    except (PayloadError, FhirReadError):
        return Payload(None, raw, "", name)
    return Payload(resource, raw, fmt, name)


def plain_json(raw: bytes) -> Any:
    """A JSON body that need not be FHIR (the test agent API answers plain JSON)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


class FixtureMap:
    """Fixture references mapped to local files by the user."""

    def __init__(self, entries: dict[str, Path] | None = None) -> None:
        self.entries = dict(entries or {})

    @classmethod
    def load(cls, path: Path) -> FixtureMap:
        doc = load_yaml(path)
        check_schema(doc, MAP_SCHEMA)
        base = path.parent
        return cls({k: base / v for k, v in doc.data["fixtures"].items()})

    def lookup(self, reference: str) -> Path | None:
        if reference in self.entries:
            return self.entries[reference]
        name = PurePosixPath(reference).name
        return self.entries.get(name)


def resolve(reference: str, script: Path, root: Path, fixture_map: FixtureMap) -> Path:
    """The local file for a fixture reference, or FixtureError saying where kcert looked."""
    mapped = fixture_map.lookup(reference)
    if mapped is not None:
        return mapped
    tree = root.resolve()
    relative = (
        script.parent / reference.lstrip("/")
        if reference.startswith("/")
        else script.parent / reference
    ).resolve()
    if relative.is_file() and relative.is_relative_to(tree):
        return relative
    name = PurePosixPath(reference).name
    searchable = name not in ("", ".", "..") and not set(name) & set("*?[]")
    candidates = [p for p in tree.rglob(name) if p.is_file()] if searchable else []
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        shown = ", ".join(str(p) for p in candidates[:3])
        raise FixtureError(
            f"fixture {reference!r} is ambiguous: {len(candidates)} files named {name} "
            f"under {tree} ({shown}); map it with --fixtures-map"
        )
    raise FixtureError(
        f"fixture {reference!r} not found (looked beside {script.name} and for {name!r} "
        f"under {tree}); map it to a local file with --fixtures-map"
    )


def load_file(path: Path) -> Payload:
    """Read a fixture file, or `archive.tgz#member` for a file inside a package."""
    text = str(path)
    if "#" in text and not path.is_file():
        archive, _, member = text.partition("#")
        raw = _member(Path(archive), member)
    else:
        try:
            raw = read_limited(path, MAX_FIXTURE_BYTES)
        except InputFileError as exc:
            raise FixtureError(f"{path}: cannot read ({exc.reason})") from None
    payload = read_payload(raw, "xml" if text.lower().endswith(".xml") else "", path.name)
    if payload.resource is None:
        problem = _why_unreadable(raw)
        raise FixtureError(f"{path}: not a FHIR resource ({problem})")
    return payload


def _member(archive: Path, member: str) -> bytes:
    try:
        with tarfile.open(archive, "r:*") as tar:
            info = tar.getmember(member)
            if not info.isfile() or info.size > MAX_FIXTURE_BYTES:
                raise FixtureError(f"{archive}#{member}: not a regular file of usable size")
            handle = tar.extractfile(info)
            if handle is None:
                raise FixtureError(f"{archive}#{member}: cannot be read")
            return handle.read()
    except KeyError:
        raise FixtureError(f"{archive}: has no member {member}") from None
    except (OSError, tarfile.TarError) as exc:
        raise FixtureError(f"{archive}: cannot read the archive ({exc})") from None


def _why_unreadable(raw: bytes) -> str:
    try:
        read_resource(raw)
    except (PayloadError, FhirReadError) as exc:
        return str(exc)
    return "empty"


__all__ = [
    "FixtureError",
    "FixtureMap",
    "Payload",
    "SourceError",
    "load_file",
    "plain_json",
    "read_payload",
    "resolve",
]
