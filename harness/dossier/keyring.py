"""The local keyring of trusted signers (`kcert keys trust`), and key files with fixed modes.

`kcert verify` accepts a signature only when its key is here (or given with --public-key): the
key a signature file carries proves nothing by itself, anyone can re-sign with a key of their
own. Modes are set explicitly, not left to the umask: a key folder is 0700, a public key 0644.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.dates import now_iso
from harness.dossier.manifest import DossierError

FOLDER_MODE = 0o700
PUBLIC_MODE = 0o644
PRIVATE_MODE = 0o600
# at most this many bytes of a key file are read (a PEM Ed25519 key is about 113)
MAX_KEY_BYTES = 64 * 1024


def trusted_folder() -> Path:
    """KCERT_TRUSTED, else ~/.kcert/trusted (beside ~/.kcert/keys and ~/.kcert/packs)."""
    return Path(os.environ.get("KCERT_TRUSTED") or Path.home() / ".kcert" / "trusted")


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def parse_public(text: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(text)
    except (ValueError, TypeError) as exc:
        raise DossierError(f"{where}: not a usable public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DossierError(f"{where}: not an Ed25519 public key")
    return key


def read_small(path: Path) -> bytes:
    """A key file's bytes, refused when it is not a regular file or is too big."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise DossierError(f"{path}: not a regular file")
            data = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise DossierError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if len(data) > MAX_KEY_BYTES:
        raise DossierError(f"{path}: larger than {MAX_KEY_BYTES} bytes, not a key file")
    return data


def private_folder(folder: Path) -> Path:
    """Create `folder` (and missing parents) as 0700 whatever the umask; an existing folder
    is left as it is (it may be shared, e.g. a working directory)."""
    missing = []
    at = folder
    while not at.exists():
        missing.append(at)
        at = at.parent
    for path in reversed(missing):
        path.mkdir(mode=FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)
    return folder


def write_with_mode(path: Path, data: bytes, mode: int, exclusive: bool = False) -> None:
    """Write `data` to `path` with exactly `mode` (fchmod: the umask cannot widen or narrow it)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags, mode)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)


def exposed(private_path: Path) -> str:
    """The octal mode of a private key file readable by its group or others, else ""."""
    try:
        mode = private_path.stat().st_mode & 0o777
    except OSError:
        return ""
    return f"{mode:04o}" if mode & 0o044 else ""


@dataclass(frozen=True)
class TrustedKey:
    name: str
    fingerprint: str
    key: Ed25519PublicKey
    path: Path


def _entry(path: Path) -> TrustedKey:
    text = read_small(path)
    try:
        data = json.loads(text)
        key = parse_public(str(data["public_key"]).encode(), str(path))
        name = str(data["name"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DossierError(f"{path}: not a kcert trusted-key file ({exc})") from None
    return TrustedKey(name, fingerprint(key), key, path)


def trusted_keys(folder: Path | None = None) -> list[TrustedKey]:
    """Every key of the keyring, by name; an empty list when there is no keyring yet."""
    folder = folder or trusted_folder()
    if not folder.is_dir():
        return []
    return sorted((_entry(p) for p in folder.glob("*.json")), key=lambda k: k.name)


def lookup(fp: str, folder: Path | None = None) -> TrustedKey | None:
    return next((k for k in trusted_keys(folder) if k.fingerprint == fp), None)


_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


def trust(public_path: Path, name: str = "", folder: Path | None = None) -> TrustedKey:
    """Add the public key in `public_path` to the keyring under `name` (default: the file's
    stem). Trusting a key again renames it; a name already given to another key is refused."""
    folder = folder or trusted_folder()
    key = parse_public(read_small(public_path), str(public_path))
    name = (name or public_path.stem).strip()
    if not _NAME.match(name):
        raise DossierError(f"--name {name!r}: 1 to 100 printable characters")
    fp = fingerprint(key)
    for other in trusted_keys(folder):
        if other.name == name and other.fingerprint != fp:
            raise DossierError(
                f"the name {name!r} is already given to key {other.fingerprint}: choose another "
                f"or untrust that key first (kcert keys untrust {other.fingerprint})"
            )
    private_folder(folder)
    target = folder / f"{fp}.json"
    body = {
        "name": name,
        "fingerprint": fp,
        "public_key": pem(key),
        "trusted_at": now_iso(),
    }
    write_with_mode(target, (json.dumps(body, indent=1) + "\n").encode(), PUBLIC_MODE)
    return TrustedKey(name, fp, key, target)


def untrust(ref: str, folder: Path | None = None) -> TrustedKey:
    """Remove the key named `ref`, or whose fingerprint is or starts with `ref` (8+ digits)."""
    keys = trusted_keys(folder)
    found = [k for k in keys if k.name == ref]
    if not found and len(ref) >= 8:
        found = [k for k in keys if k.fingerprint.startswith(ref.lower())]
    if len(found) != 1:
        what = "no trusted key" if not found else f"{len(found)} trusted keys"
        raise DossierError(f"{what} named or with fingerprint {ref!r} (kcert keys list)")
    found[0].path.unlink()
    return found[0]
