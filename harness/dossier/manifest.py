"""manifest.json: the SHA-256 of every file of a run, and what the run was (suite, SUT, verdict)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# The signature page, written with the signature: a rendering of manifest.sig for people.
SIGNATURE_PAGES = ("signature.html", "signature.pdf")
# Files that describe the folder rather than belong to it.
SUMS = "manifest.sha256"
NOT_HASHED = frozenset({MANIFEST, SIGNATURE, SUMS, *SIGNATURE_PAGES})
# a run folder deeper or bigger than this is not a dossier kcert wrote
MAX_ENTRIES = 200_000
MAX_DEPTH = 32
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class DossierError(ValueError):
    """A run folder cannot be read as a dossier; the text names what is missing or wrong."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


@dataclass
class Walk:
    """What a run folder holds, seen without following links: the regular files' hashes, and
    every entry a dossier never has (a link of any kind, a special file), named."""

    hashes: dict[str, str] = field(default_factory=dict)
    odd: list[str] = field(default_factory=list)


def walk(run_dir: Path) -> Walk:
    found = Walk()
    pending: list[tuple[Path, int]] = [(run_dir, 0)]
    seen = 0
    while pending:
        folder, depth = pending.pop()
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            seen += 1
            if seen > MAX_ENTRIES:
                raise DossierError(f"{run_dir}: more than {MAX_ENTRIES} entries: not a dossier")
            path = Path(entry.path)
            name = path.relative_to(run_dir).as_posix()
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                found.odd.append(f"symbolic link: {name} -> {os.readlink(path)}")
            elif stat.S_ISDIR(info.st_mode):
                if depth + 1 > MAX_DEPTH:
                    raise DossierError(f"{path}: deeper than {MAX_DEPTH} folders: not a dossier")
                pending.append((path, depth + 1))
            elif stat.S_ISREG(info.st_mode):
                if info.st_nlink > 1:
                    found.odd.append(f"hard link: {name} ({info.st_nlink} names for one file)")
                if name not in NOT_HASHED:
                    found.hashes[name] = sha256_file(path)
            else:
                found.odd.append(f"{_kind(info.st_mode)}: {name}")
    found.odd.sort()
    found.hashes = dict(sorted(found.hashes.items()))
    return found


def file_hashes(run_dir: Path) -> dict[str, str]:
    return walk(run_dir).hashes


def write_manifest(run_dir: Path, about: dict[str, Any]) -> Path:
    """Write manifest.json for everything now in `run_dir` (call it last)."""
    body = {"kcert-dossier": 1, **about, "files": file_hashes(run_dir)}
    target = run_dir / MANIFEST
    target.write_text(
        json.dumps(body, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return target


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    try:
        # lstat first: a FIFO in its place would block the read, a link is named by walk()
        if path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
            raise DossierError(f"{path}: not a regular file")
        if path.lstat().st_size > MAX_MANIFEST_BYTES:
            raise DossierError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DossierError(f"{run_dir}: no {MANIFEST}: not a kcert run folder") from None
    except DossierError:
        raise
    except (OSError, ValueError) as exc:
        raise DossierError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise DossierError(f"{path}: not a kcert manifest")
    return data


@dataclass(frozen=True)
class Differences:
    changed: list[str]
    added: list[str]
    removed: list[str]
    odd: list[str] = field(default_factory=list)  # links and special files, as walk() names them
    sums: list[str] = field(default_factory=list)  # where manifest.sha256 disagrees

    @property
    def clean(self) -> bool:
        return not (self.changed or self.added or self.removed or self.odd or self.sums)

    def lines(self) -> list[str]:
        return (
            [f"changed: {n}" for n in self.changed]
            + [f"added: {n}" for n in self.added]
            + [f"removed: {n}" for n in self.removed]
            + [f"added {n}" for n in self.odd]
            + self.sums
        )


def sums_problems(run_dir: Path, recorded: dict[str, str]) -> list[str]:
    """Where manifest.sha256 (the sha256sum form of the same facts) disagrees with manifest.json:
    it must list exactly the manifest's files, with the same hashes, and manifest.json itself."""
    path = run_dir / SUMS
    if path.is_symlink() or not path.is_file():
        return [f"{SUMS}: missing or not a regular file"]
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        return [f"{SUMS}: larger than {MAX_MANIFEST_BYTES} bytes"]
    expected = {**recorded, MANIFEST: sha256_file(run_dir / MANIFEST)}
    listed: dict[str, str] = {}
    problems = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            problems.append(f"{SUMS} line {number}: not 'SHA256  file'")
            continue
        listed[name] = digest
    for name in sorted(set(listed) | set(expected)):
        if name not in expected and name in NOT_HASHED:
            continue  # a page or signature listed by an older writer: outside the facts
        if name not in expected:
            problems.append(f"{SUMS} lists {name}, manifest.json does not")
        elif name not in listed:
            problems.append(f"{SUMS} lacks {name}")
        elif listed[name] != expected[name]:
            problems.append(f"{SUMS} disagrees with manifest.json on {name}")
    return problems


def compare(run_dir: Path, manifest: dict[str, Any]) -> Differences:
    recorded: dict[str, str] = manifest["files"]
    found = walk(run_dir)
    now = found.hashes
    return Differences(
        changed=sorted(n for n in recorded if n in now and now[n] != recorded[n]),
        added=sorted(set(now) - set(recorded)),
        removed=sorted(set(recorded) - set(now)),
        odd=found.odd,
        sums=sums_problems(run_dir, recorded),
    )
