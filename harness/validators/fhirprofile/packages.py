"""Read FHIR NPM packages: a .tgz as published, or an unpacked folder (e.g. an installed pack).

A folder with a `.index.json` (as every published package has) is read lazily: only the index
at first, each resource when it is first asked for. The FHIR base package holds ~3,000
resources (60 MB), of which validating a message needs a few dozen.
"""

from __future__ import annotations

import json
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Only these resource kinds drive validation; examples, test scripts and the like are not loaded.
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
# What the index holds: the conformance resources, and the MessageDefinitions that say which
# response (acknowledgement version) belongs with a message (messagedefs.py).
INDEXED_TYPES = CONFORMANCE_TYPES | {"MessageDefinition"}
# A package member larger than this is not a conformance resource anyone should trust blindly.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_INDEX_ENTRIES = 50_000


class PackageError(ValueError):
    """A path is not a readable FHIR NPM package; the text says which and why."""


class Entry:
    """One conformance resource of a package: what its index says, the JSON on first use."""

    __slots__ = ("_load", "_lock", "_resource", "file", "memo", "resource_type", "url", "version")

    def __init__(
        self,
        file: str,
        resource_type: str,
        url: str,
        version: str,
        load: Callable[[], dict[str, Any]] | None = None,
        resource: dict[str, Any] | None = None,
    ) -> None:
        self.file = file
        self.resource_type = resource_type
        self.url = url
        self.version = version
        self._load = load
        self._resource = resource
        self._lock = threading.Lock()
        # what an index compiled from this resource alone (its element tree), shared by every
        # index that holds the same package
        self.memo: dict[str, Any] = {}

    @property
    def resource(self) -> dict[str, Any]:
        if self._resource is None:
            with self._lock:
                if self._resource is None:
                    assert self._load is not None
                    self._resource = self._load()
        return self._resource


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    canonical: str
    dependencies: dict[str, str]
    entries: tuple[Entry, ...] = field(repr=False)
    source: str = ""
    fhir_versions: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)

    @property
    def resources(self) -> tuple[dict[str, Any], ...]:
        """Every conformance resource, loaded (for callers that want them all)."""
        return tuple(e.resource for e in self.entries)


def read_package(path: Path) -> Package:
    """Load package.json and the conformance resources of one package (.tgz or folder)."""
    if path.is_dir():
        root = _package_root(path)
        if (root / ".index.json").is_file():
            return _lazy_folder(path, root)
    files = dict(_iter_files(path, subfolder=""))
    if "package.json" not in files:
        raise PackageError(f"{path}: no package.json, so not a FHIR NPM package")
    manifest = _json(files.pop("package.json"), f"{path}: package.json")
    entries = []
    for name, data in sorted(files.items()):
        if not name.endswith(".json") or name.startswith("."):
            continue
        value = _json(data, f"{path}: {name}")
        if value.get("resourceType") in INDEXED_TYPES:
            entries.append(_entry_of(name, value))
    return _package(manifest, path, tuple(entries))


def _entry_of(name: str, resource: dict[str, Any]) -> Entry:
    return Entry(
        name,
        str(resource.get("resourceType")),
        str(resource.get("url", "")),
        str(resource.get("version", "")),
        resource=resource,
    )


def _package(manifest: dict[str, Any], path: Path, entries: tuple[Entry, ...]) -> Package:
    dependencies = manifest.get("dependencies") or {}
    versions = manifest.get("fhirVersions") or []
    return Package(
        name=str(manifest.get("name", path.name)),
        version=str(manifest.get("version", "0")),
        canonical=str(manifest.get("canonical", "")),
        dependencies={str(k): str(v) for k, v in dict(dependencies).items()},
        entries=entries,
        source=str(path),
        fhir_versions=tuple(str(v) for v in versions) if isinstance(versions, list) else (),
    )


def _lazy_folder(path: Path, root: Path) -> Package:
    manifest = _json(_read(root / "package.json"), f"{path}: package.json")
    index = _json(_read(root / ".index.json"), f"{path}: .index.json")
    listed = index.get("files")
    if not isinstance(listed, list) or len(listed) > MAX_INDEX_ENTRIES:
        raise PackageError(f"{path}: .index.json has no usable 'files' list")
    entries = []
    for item in listed:
        if not isinstance(item, dict) or item.get("resourceType") not in INDEXED_TYPES:
            continue
        name = str(item.get("filename", ""))
        if "/" in name or "\\" in name or not name.endswith(".json"):
            raise PackageError(f"{path}: .index.json names {name!r}, not a file of the package")
        file = root / name
        entries.append(
            Entry(
                name,
                str(item["resourceType"]),
                str(item.get("url") or ""),
                str(item.get("version") or ""),
                load=_loader(file, f"{path}: {name}"),
            )
        )
    return _package(manifest, path, tuple(entries))


def _loader(file: Path, where: str) -> Callable[[], dict[str, Any]]:
    return lambda: _json(_read(file), where)


def _read(file: Path) -> bytes:
    try:
        if file.stat().st_size > MAX_MEMBER_BYTES:
            raise PackageError(f"{file}: larger than {MAX_MEMBER_BYTES} bytes")
        return file.read_bytes()
    except OSError as exc:
        raise PackageError(f"{file}: {exc.strerror or exc}") from None


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
