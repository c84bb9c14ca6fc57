"""Ed25519 keys and signatures over manifest.json, checked offline by `kcert verify`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.dossier.manifest import (
    MANIFEST,
    SIGNATURE,
    SIGNATURE_PAGES,
    DossierError,
    compare,
    read_manifest,
)

PRIVATE = "kcert-signing.key"
PUBLIC = "kcert-signing.pub"


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def generate_keys(folder: Path) -> tuple[Path, Path]:
    """A new key pair; the private key file is readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / PRIVATE, folder / PUBLIC
    if private_path.exists():
        raise DossierError(f"{private_path} exists: refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DossierError(f"{path}: not a usable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DossierError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise DossierError(f"{path}: not a usable public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DossierError(f"{path}: not an Ed25519 public key")
    return key


def sign(run_dir: Path, private_path: Path, signer: str = "") -> Path:
    """Sign manifest.json as it is; the signature file carries the public key to check it."""
    manifest = read_manifest(run_dir)
    differences = compare(run_dir, manifest)
    if not differences.clean:
        raise DossierError(
            f"{run_dir} no longer matches its manifest; refusing to sign: "
            + "; ".join(differences.lines())
        )
    key = _load_private(private_path)
    body = (run_dir / MANIFEST).read_bytes()
    public = key.public_key()
    signature = {
        "algorithm": "Ed25519",
        "signed": MANIFEST,
        "signer": signer,
        "public_key": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "fingerprint": fingerprint(public),
        "signature": base64.b64encode(key.sign(body)).decode(),
        # when kcert sign ran; outside what the signature covers, shown on the signature page
        "signed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    target = run_dir / SIGNATURE
    target.write_text(json.dumps(signature, indent=1) + "\n", encoding="utf-8")
    return target


def read_signature(run_dir: Path) -> dict[str, Any]:
    """manifest.sig as written by sign(); DossierError when it is missing or unreadable."""
    path = run_dir / SIGNATURE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DossierError(f"{run_dir}: not signed (no {SIGNATURE})") from None
    except (OSError, ValueError) as exc:
        raise DossierError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        raise DossierError(f"{path}: not a kcert signature file")
    return data


def manifest_sha256(run_dir: Path) -> str:
    return hashlib.sha256((run_dir / MANIFEST).read_bytes()).hexdigest()


def drop_signature(run_dir: Path) -> bool:
    """Remove the signature and its page (the run changed); True when there was one."""
    had = (run_dir / SIGNATURE).exists()
    for name in (SIGNATURE, *SIGNATURE_PAGES):
        (run_dir / name).unlink(missing_ok=True)
    return had


# The facts signature.html states, embedded for verify() to compare with manifest.sig.
_PAGE_FACTS = re.compile(
    r'<script type="application/json" id="kcert-signature">(.*?)</script>', re.DOTALL
)


def page_problem(run_dir: Path, signature: dict[str, Any]) -> str:
    """"" when signature.html is absent or states this signature; else what differs."""
    page = run_dir / SIGNATURE_PAGES[0]
    if not page.is_file():
        return ""
    found = _PAGE_FACTS.search(page.read_text(encoding="utf-8", errors="replace"))
    try:
        facts = json.loads(found.group(1)) if found else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict):
        return f"{page.name} does not state which signature it shows"
    expected = {
        "signer": signature.get("signer", ""),
        "fingerprint": signature.get("fingerprint", ""),
        "manifest_sha256": manifest_sha256(run_dir),
    }
    wrong = [k for k, v in expected.items() if facts.get(k) != v]
    if wrong:
        return f"{page.name} states another {', '.join(wrong)} than manifest.sig"
    return ""


@dataclass(frozen=True)
class Verification:
    files: list[str]  # what differs from the manifest
    signature: str  # "valid", "missing", or why it failed
    fingerprint: str = ""
    page: str = ""  # what is wrong with the signature page ("" when it agrees or is absent)

    @property
    def ok(self) -> bool:
        return not self.files and self.signature == "valid" and not self.page


def verify(run_dir: Path, trusted: Ed25519PublicKey | None = None) -> Verification:
    """Every hash and the signature, offline. A trusted key pins who must have signed."""
    manifest = read_manifest(run_dir)
    files = compare(run_dir, manifest).lines()
    sig_path = run_dir / SIGNATURE
    if not sig_path.is_file():
        return Verification(files, "missing")
    try:
        data = json.loads(sig_path.read_text(encoding="utf-8"))
        embedded = serialization.load_pem_public_key(data["public_key"].encode())
        raw = base64.b64decode(data["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        return Verification(files, f"unreadable signature file ({exc})")
    if not isinstance(embedded, Ed25519PublicKey):
        return Verification(files, "the signature's key is not Ed25519")
    key = trusted or embedded
    if trusted is not None and fingerprint(trusted) != fingerprint(embedded):
        return Verification(
            files, "signed with another key than the trusted one", fingerprint(embedded)
        )
    try:
        key.verify(raw, (run_dir / MANIFEST).read_bytes())
    except InvalidSignature:
        return Verification(
            files, "invalid: manifest.json was changed after signing", fingerprint(embedded)
        )
    actual = {**data, "fingerprint": fingerprint(embedded)}
    return Verification(files, "valid", fingerprint(embedded), page_problem(run_dir, actual))
