"""Read FHIR NPM packages: a .tgz as published, or an unpacked folder (e.g. an installed pack)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Only these resource kinds drive validation; examples, test scripts and the like are not loaded.
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
# A package member larger than this is not a conformance resource anyone should trust blindly.
MAX_MEMBER_BYTES = 64 * 1024 * 1024


class PackageError(ValueError):
    """A path is not a readable FHIR NPM package; the text says which and why."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    canonical: str
    dependencies: dict[str, str]
    resources: tuple[dict[str, Any], ...] = field(repr=False)
    source: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)


def read_package(path: Path) -> Package:
    """Load package.json and the conformance resources of one package (.tgz or folder)."""
    files = dict(_iter_files(path, subfolder=""))
    if "package.json" not in files:
        raise PackageError(f"{path}: no package.json, so not a FHIR NPM package")
    manifest = _json(files.pop("package.json"), f"{path}: package.json")
    resources = []
    for name, data in sorted(files.items()):
        if not name.endswith(".json") or name.startswith("."):
            continue
        value = _json(data, f"{path}: {name}")
        if value.get("resourceType") in CONFORMANCE_TYPES:
            resources.append(value)
    return Package(
        name=str(manifest.get("name", path.name)),
        version=str(manifest.get("version", "0")),
        canonical=str(manifest.get("canonical", "")),
        dependencies={str(k): str(v) for k, v in dict(manifest.get("dependencies", {})).items()},
        resources=tuple(resources),
        source=str(path),
    )


def read_examples(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The example resources a package carries under package/example (name, resource)."""
    found = []
    for name, data in sorted(_iter_files(path, subfolder="example")):
        if name.endswith(".json"):
            found.append((name, _json(data, f"{path}: example/{name}")))
    return found


def _iter_files(path: Path, subfolder: str) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of the files directly in the package folder or one of its subfolders."""
    if path.is_file():
        yield from _iter_tgz(path, subfolder)
        return
    root = _package_root(path)
    folder = root / subfolder if subfolder else root
    if not folder.is_dir():
        return
    for item in sorted(folder.iterdir()):
        if item.is_file() and item.stat().st_size <= MAX_MEMBER_BYTES:
            yield item.name, item.read_bytes()


def _package_root(path: Path) -> Path:
    # An installed kcert pack keeps the package contents under files/; an unpacked tarball
    # under package/; a bare copy has package.json at the top.
    for candidate in (path, path / "package", path / "files", path / "files" / "package"):
        if (candidate / "package.json").is_file():
            return candidate
    raise PackageError(f"{path}: no package.json found (looked in ., package/, files/)")


def _iter_tgz(path: Path, subfolder: str) -> Iterator[tuple[str, bytes]]:
    prefix = "package/" + (subfolder + "/" if subfolder else "")
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if not member.isfile() or not member.name.startswith(prefix):
                    continue
                name = member.name[len(prefix) :]
                if "/" in name or member.size > MAX_MEMBER_BYTES:
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    yield name, handle.read()
    except (OSError, tarfile.TarError) as exc:
        raise PackageError(f"{path}: cannot read package archive ({exc})") from None


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise PackageError(f"{where}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise PackageError(f"{where}: not a JSON object")
    return value
