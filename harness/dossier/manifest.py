"""manifest.json: the SHA-256 of every file of a run, and what the run was (suite, SUT, verdict)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# The signature page, written with the signature: a rendering of manifest.sig for people.
SIGNATURE_PAGES = ("signature.html", "signature.pdf")
# Files that describe the folder rather than belong to it.
NOT_HASHED = frozenset({MANIFEST, SIGNATURE, "manifest.sha256", *SIGNATURE_PAGES})


class DossierError(ValueError):
    """A run folder cannot be read as a dossier; the text names what is missing or wrong."""


def file_hashes(run_dir: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            name = path.relative_to(run_dir).as_posix()
            if name not in NOT_HASHED:
                hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


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
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DossierError(f"{run_dir}: no {MANIFEST}: not a kcert run folder") from None
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

    @property
    def clean(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def lines(self) -> list[str]:
        return (
            [f"changed: {n}" for n in self.changed]
            + [f"added: {n}" for n in self.added]
            + [f"removed: {n}" for n in self.removed]
        )


def compare(run_dir: Path, manifest: dict[str, Any]) -> Differences:
    recorded: dict[str, str] = manifest["files"]
    now = file_hashes(run_dir)
    return Differences(
        changed=sorted(n for n in recorded if n in now and now[n] != recorded[n]),
        added=sorted(set(now) - set(recorded)),
        removed=sorted(set(recorded) - set(now)),
    )
