"""The pack store: install from a folder, a zip or a FHIR NPM .tgz; list, verify, remove.

Layout: <root>/<id>/<version>/files/... plus manifest.json (id, version, kind, source, entry,
installed, every file with its SHA-256, and the pack hash over that list). The root is
KCERT_PACKS or ~/.kcert/packs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from harness.dates import now_iso

KINDS = ("cda-schema", "schematron", "fhir-package", "oioxml-schema")
MAX_FILES = 20_000
MAX_BYTES = 1024 * 1024 * 1024  # unpacked, per pack
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,40}$")


class PackError(ValueError):
    """A pack could not be installed, found or trusted; the text says which and why."""


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    kind: str
    source: str
    entry: str
    installed: str
    files: dict[str, str]
    sha256: str
    root: Path = field(compare=False)

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    def path(self, relative: str) -> Path:
        return self.files_dir / relative

    def summary(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "kind": self.kind, "sha256": self.sha256}


def default_root() -> Path:
    return Path(os.environ.get("KCERT_PACKS") or Path.home() / ".kcert" / "packs")


def _pack_hash(files: dict[str, str]) -> str:
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_name(name: str, source: Path | None = None) -> str:
    """A member name that stays inside the pack (no absolute paths, no '..')."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        where = f"{source}: " if source else ""
        raise PackError(f"{where}archive member {name!r} would land outside the pack")
    return str(pure)


# The pack set of the run in progress (SHA-256 of each pack): checks judging a SUT use exactly
# the packs the run names (`--pack`, `--no-packs`), not whatever else is installed.
# None: no run has chosen, every installed pack counts.
ACTIVE_PACKS: ContextVar[frozenset[str] | None] = ContextVar("kcert_active_packs", default=None)


@contextmanager
def using_packs(hashes: frozenset[str] | None) -> Iterator[None]:
    token = ACTIVE_PACKS.set(hashes)
    try:
        yield
    finally:
        ACTIVE_PACKS.reset(token)


class PackStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    # -- reading -----------------------------------------------------------------------------

    def installed(self) -> list[Pack]:
        packs = []
        for manifest in sorted(self.root.glob("*/*/manifest.json")):
            packs.append(self._read(manifest))
        return packs

    def find(self, pack_id: str, version: str | None = None) -> Pack | None:
        matches = [p for p in self.installed() if p.id == pack_id and version in (None, p.version)]
        return sorted(matches, key=lambda p: p.installed)[-1] if matches else None

    def of_kind(self, kind: str) -> list[Pack]:
        """Installed packs of a kind, limited to the running certification's pack set."""
        chosen = ACTIVE_PACKS.get()
        return [
            p for p in self.installed() if p.kind == kind and (chosen is None or p.sha256 in chosen)
        ]

    def _read(self, manifest: Path) -> Pack:
        try:
            data: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
            return Pack(
                data["id"],
                data["version"],
                data["kind"],
                data["source"],
                data["entry"],
                data["installed"],
                dict(data["files"]),
                data["sha256"],
                manifest.parent,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PackError(f"{manifest}: unreadable pack manifest ({exc})") from None

    def verify(self, pack: Pack) -> list[str]:
        """What differs from the manifest: changed, missing and added files (empty = intact)."""
        problems = []
        present = {
            p.relative_to(pack.files_dir).as_posix(): p
            for p in pack.files_dir.rglob("*")
            if p.is_file()
        }
        for name, digest in sorted(pack.files.items()):
            if name not in present:
                problems.append(f"missing {name}")
            elif _hash_file(present[name]) != digest:
                problems.append(f"changed {name}")
        problems += [f"added {name}" for name in sorted(set(present) - set(pack.files))]
        if _pack_hash(pack.files) != pack.sha256:
            problems.append("the manifest's pack hash does not match its file list")
        return problems

    # -- changing ----------------------------------------------------------------------------

    def remove(self, pack_id: str, version: str | None = None) -> list[Pack]:
        gone = [p for p in self.installed() if p.id == pack_id and version in (None, p.version)]
        if not gone:
            raise PackError(f"no pack {pack_id}{' ' + version if version else ''} installed")
        for pack in gone:
            shutil.rmtree(pack.root)
        return gone

    def install(
        self,
        source: Path,
        pack_id: str | None = None,
        version: str | None = None,
        kind: str | None = None,
        entry: str | None = None,
    ) -> Pack:
        if not source.exists():
            raise PackError(f"{source}: no such file or folder")
        with tempfile.TemporaryDirectory(prefix="kcert-pack-") as tmp:
            staged = Path(tmp) / "files"
            staged.mkdir()
            _unpack(source, staged)
            npm = _npm_package(staged)
            if npm is not None:  # a FHIR NPM package knows its own name and version
                staged = staged / "package"
                pack_id = pack_id or str(npm["name"]).lower()
                version = version or str(npm["version"])
                kind = kind or "fhir-package"
            kind = kind or _guess_kind(staged)
            pack_id = pack_id or source.name.lower().removesuffix(".zip")
            version = version or "0"
            if kind not in KINDS:
                raise PackError(f"unknown pack kind {kind!r}; known: {', '.join(KINDS)}")
            if not _ID.match(pack_id):
                raise PackError(f"pack id {pack_id!r} must be lower case letters, digits, . _ -")
            if not _VERSION.match(version):
                raise PackError(f"pack version {version!r} is not a version")
            files = {
                p.relative_to(staged).as_posix(): _hash_file(p)
                for p in sorted(staged.rglob("*"))
                if p.is_file()
            }
            if not files:
                raise PackError(f"{source}: nothing to install")
            entry = entry or _default_entry(kind, files)
            if entry and entry not in files:
                raise PackError(f"entry {entry!r} is not a file of the pack")
            target = self.root / pack_id / version
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            shutil.copytree(staged, target / "files")
            manifest = {
                "id": pack_id,
                "version": version,
                "kind": kind,
                "source": str(source),
                "entry": entry or "",
                "installed": now_iso(),
                "files": files,
                "sha256": _pack_hash(files),
            }
            (target / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return self._read(target / "manifest.json")


def _unpack(source: Path, into: Path) -> None:
    """Copy a folder, or extract a zip or .tgz, refusing links, escapes and bombs."""
    total = 0
    count = 0

    def account(size: int) -> None:
        nonlocal total, count
        total += size
        count += 1
        if total > MAX_BYTES or count > MAX_FILES:
            raise PackError(
                f"{source}: larger than a pack may be ({MAX_FILES} files, {MAX_BYTES // 2**20} MB)"
            )

    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_symlink():
                raise PackError(f"{path}: symbolic links are not installed")
            if path.is_file():
                account(path.stat().st_size)
                target = into / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        return
    try:
        if zipfile.is_zipfile(source):
            _unzip(source, into, account)
            return
        if tarfile.is_tarfile(source):
            _untar(source, into, account)
            return
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        # a damaged or lying archive (bad CRC, truncated, sizes that do not add up)
        raise PackError(f"{source}: not a readable archive: {exc}") from None
    raise PackError(f"{source}: not a folder, a zip or a .tgz")


_ARCHIVE_FAULTS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError)


def _unzip(source: Path, into: Path, account: Callable[[int], None]) -> None:
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            account(info.file_size)
            target = into / _safe_name(info.filename, source)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, target.open("wb") as dst:
                    _copy_capped(src, dst, info.file_size)
            except _ARCHIVE_FAULTS as exc:
                raise _refused(source, info.filename, exc) from None


def _untar(source: Path, into: Path, account: Callable[[int], None]) -> None:
    with tarfile.open(source) as tar:
        for member in tar:  # streamed: a lying header is met at its entry, not all at once
            if member.issym() or member.islnk() or member.isdev():
                raise PackError(f"{source}: archive member {member.name!r} is a link or device")
            if not member.isfile():
                continue
            account(member.size)
            target = into / _safe_name(member.name, source)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                with handle, target.open("wb") as dst:
                    _copy_capped(handle, dst, member.size)
            except _ARCHIVE_FAULTS as exc:
                raise _refused(source, member.name, exc) from None


def _refused(source: Path, entry: str, exc: BaseException) -> PackError:
    return PackError(f"{source}: archive entry {entry!r} is damaged or lies about itself ({exc})")


def _copy_capped(src: IO[bytes], dst: IO[bytes], declared: int) -> None:
    """Copy an entry, refusing more bytes than its header declared (the header was accounted)."""
    got = 0
    while True:
        chunk = src.read(min(1 << 20, declared + 1 - got))
        if not chunk:
            break
        got += len(chunk)
        if got > declared:
            raise ValueError(f"more than the {declared} bytes its header declares")
        dst.write(chunk)
    if got != declared:
        raise ValueError(f"{got} bytes, not the {declared} its header declares")


def _npm_package(staged: Path) -> dict[str, Any] | None:
    manifest = staged / "package" / "package.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise PackError(f"package/package.json is not JSON: {exc}") from None
    if not isinstance(data, dict) or "name" not in data or "version" not in data:
        raise PackError("package/package.json has no name and version")
    return data


def _guess_kind(staged: Path) -> str:
    names = [p.name for p in staged.rglob("*") if p.is_file()]
    if any(n in ("CDA.xsd", "CDA_SDTC.xsd") for n in names):
        return "cda-schema"
    if any(n.endswith(".sch") or n.endswith(".sch.xml") for n in names):
        return "schematron"
    if any(n.endswith(".xsd") for n in names):
        return "oioxml-schema"
    raise PackError("cannot tell the pack kind; give --kind " + "|".join(KINDS))


def _default_entry(kind: str, files: dict[str, str]) -> str:
    if kind == "cda-schema":
        for wanted in ("CDA_SDTC.xsd", "CDA.xsd"):  # the Danish profiles use the SDTC extensions
            found = sorted(n for n in files if n.endswith("/" + wanted) or n == wanted)
            if found:
                return found[0]
    return ""
