"""Fetch package archives over HTTP: FHIR NPM packages from a FHIR package registry, and npm
tarballs (checked against their published integrity) from the npm registry.

Nothing here installs: the caller hands the downloaded file to PackStore.install, so a fetched
pack is hashed and recorded exactly like one installed from a file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.packs.store import PackError

DEFAULT_FHIR_REGISTRY = "https://packages.fhir.org"
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"
MAX_DOWNLOAD = 512 * 1024 * 1024
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
_PACKAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def fhir_registry() -> str:
    return (os.environ.get("KCERT_FHIR_REGISTRY") or DEFAULT_FHIR_REGISTRY).rstrip("/")


def npm_registry() -> str:
    return (os.environ.get("KCERT_NPM_REGISTRY") or DEFAULT_NPM_REGISTRY).rstrip("/")


def cache_root() -> Path:
    return Path(os.environ.get("KCERT_CACHE") or Path.home() / ".kcert" / "cache")


def parse_package_ref(text: str) -> tuple[str, str]:
    """`id#version` (the FHIR convention) or `id@version` -> (id, version)."""
    name, sep, version = text.replace("@", "#", 1).partition("#")
    if not sep or not _PACKAGE_ID.match(name) or not version or "/" in version:
        raise PackError(f"{text!r} is not a package reference: give ID#VERSION")
    return name, version


def fetch_fhir_package(reference: str, into: Path, registry: str | None = None) -> Path:
    """Download `id#version` from a FHIR package registry as `<into>/<id>-<version>.tgz`."""
    name, version = parse_package_ref(reference)
    base = (registry or fhir_registry()).rstrip("/")
    target = into / f"{name}-{version}.tgz"
    _download(f"{base}/{name}/{version}", target, f"FHIR package {name}#{version} from {base}")
    return target


@dataclass(frozen=True)
class NpmTarball:
    """One published npm package version and its `dist.integrity` (e.g. "sha512-…")."""

    name: str
    version: str
    integrity: str

    @property
    def file_name(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    def url(self, registry: str) -> str:
        return f"{registry}/{self.name}/-/{self.file_name}"


def fetch_npm(tarball: NpmTarball, cache: Path | None = None) -> Path:
    """The tarball from the npm registry, kept in the cache; its integrity is checked on every
    use, so a changed or truncated cache file is refused rather than trusted."""
    folder = (cache or cache_root()) / "npm"
    target = folder / tarball.file_name
    if not target.is_file():
        registry = npm_registry()
        _download(tarball.url(registry), target, f"npm package {tarball.name}@{tarball.version}")
    check_integrity(target, tarball.integrity)
    return target


def check_integrity(path: Path, integrity: str) -> None:
    """Subresource-integrity check ("sha512-<base64>"), as npm records it."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha256", "sha384", "sha512") or not expected:
        raise PackError(f"integrity {integrity!r} is not <sha256|sha384|sha512>-<base64>")
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = base64.b64encode(digest.digest()).decode("ascii")
    if actual != expected:
        raise PackError(
            f"{path}: {algorithm} is {actual}, the registry published {expected}; "
            "delete the file and fetch it again"
        )


def _download(url: str, target: Path, what: str) -> None:
    # Imported here, not above: `kcert packs --help` reads this module's constants, and
    # requests (with urllib3) would double the time that takes.
    import requests

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        response = requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    except requests.RequestException as exc:
        raise PackError(f"cannot fetch {what}: {type(exc).__name__}: {exc}") from None
    with response:
        if response.status_code != 200:
            raise PackError(f"cannot fetch {what}: HTTP {response.status_code} from {url}")
        # written aside and renamed, so an interrupted download never looks like a good file
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for block in response.iter_content(1 << 20):
                    size += len(block)
                    if size > MAX_DOWNLOAD:
                        raise PackError(f"{what}: larger than {MAX_DOWNLOAD // 2**20} MB, refused")
                    out.write(block)
            os.chmod(partial, 0o644)  # a cache others may read, like any download
            os.replace(partial, target)
        except requests.RequestException as exc:
            raise PackError(f"cannot fetch {what}: {type(exc).__name__}: {exc}") from None
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
