"""Ed25519 keys and signatures over manifest.json, checked offline by `kcert verify`."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.dates import now_iso
from harness.dossier.keyfiles import PRIVATE, PUBLIC
from harness.dossier.keyring import (
    PRIVATE_MODE,
    PUBLIC_MODE,
    fingerprint,
    lookup,
    parse_public,
    pem,
    private_folder,
    read_small,
    write_with_mode,
)
from harness.dossier.manifest import (
    MANIFEST,
    SIGNATURE,
    SIGNATURE_PAGES,
    DossierError,
    compare,
    read_manifest,
)

# Version 2 signs the manifest's SHA-256 together with the signer, the time and the key, so
# none of what manifest.sig states can be changed without breaking the signature.
VERSION = 2


def generate_keys(folder: Path) -> tuple[Path, Path]:
    """A new key pair: folder 0700, private key 0600, public key 0644, whatever the umask."""
    private_folder(folder)
    private_path, public_path = folder / PRIVATE, folder / PUBLIC
    if private_path.exists():
        raise DossierError(f"{private_path} exists: refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_with_mode(private_path, private_pem, PRIVATE_MODE, exclusive=True)
    write_with_mode(public_path, pem(key.public_key()).encode(), PUBLIC_MODE)
    return private_path, public_path


def _load_private(path: Path) -> Ed25519PrivateKey:
    data = read_small(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DossierError(f"{path}: not a usable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DossierError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    return parse_public(read_small(path), str(path))


def signed_bytes(facts: dict[str, Any]) -> bytes:
    """What the signature covers: the manifest's hash and everything manifest.sig states."""
    covered = {k: facts.get(k, "") for k in ("manifest_sha256", "signer", "signed_at")}
    covered |= {"kcert-signature": VERSION, "fingerprint": facts.get("fingerprint", "")}
    return json.dumps(covered, sort_keys=True, ensure_ascii=False).encode()


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
    public = key.public_key()
    facts = {
        "manifest_sha256": manifest_sha256(run_dir),
        "signer": signer,
        "fingerprint": fingerprint(public),
        # when kcert sign ran; shown on the signature page
        "signed_at": now_iso(),
    }
    signature = {
        "kcert-signature": VERSION,
        "algorithm": "Ed25519",
        "signed": MANIFEST,
        **facts,
        "public_key": pem(public),
        "signature": base64.b64encode(key.sign(signed_bytes(facts))).decode(),
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
    """ "" when signature.html is absent or states this signature; else what differs."""
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
    trusted_as: str = ""  # the keyring's name of the signer's key, or "--public-key"
    signer: str = ""  # who signed, as manifest.sig states it (covered by the signature)

    @property
    def ok(self) -> bool:
        return not self.files and self.signature == "valid" and not self.page

    @property
    def untrusted(self) -> bool:
        """The signature holds but its key is not trusted: `kcert keys trust` would help."""
        return self.signature.startswith(UNTRUSTED)


UNTRUSTED = "signed by a key that is not trusted"


def verify(
    run_dir: Path, trusted: Ed25519PublicKey | None = None, keyring: Path | None = None
) -> Verification:
    """Every file and the signature, offline. The signature counts only when its key is
    `trusted` (when given) or in the keyring: the key manifest.sig carries proves nothing."""
    manifest = read_manifest(run_dir)
    files = compare(run_dir, manifest).lines()
    sig_path = run_dir / SIGNATURE
    if not sig_path.is_file() or sig_path.is_symlink():
        return Verification(files, "missing")
    try:
        data = json.loads(read_small(sig_path))
        embedded = parse_public(str(data["public_key"]).encode(), SIGNATURE)
        raw = base64.b64decode(data["signature"], validate=True)
        version = data.get("kcert-signature")
    except (DossierError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return Verification(files, f"unreadable signature file ({exc})")
    actual = fingerprint(embedded)
    if version != VERSION:
        return Verification(
            files, f"{SIGNATURE} is not a version {VERSION} signature: sign the run again", actual
        )
    if data.get("fingerprint") != actual:
        return Verification(
            files, f"{SIGNATURE} states key {data.get('fingerprint')!r}, carries {actual}", actual
        )
    if data.get("manifest_sha256") != manifest_sha256(run_dir):
        return Verification(
            files,
            "invalid: manifest.json is not the one signed (changed after signing, or the "
            f"{SIGNATURE} of another run)",
            actual,
        )
    try:
        embedded.verify(raw, signed_bytes(data))
    except InvalidSignature:
        return Verification(
            files,
            f"invalid: {SIGNATURE} was changed after signing (or is not a signature "
            "of this manifest)",
            actual,
        )
    signer = str(data.get("signer", ""))
    if trusted is not None:
        if fingerprint(trusted) != actual:
            return Verification(
                files,
                f"signed with key {actual}, not the one given with --public-key "
                f"({fingerprint(trusted)})",
                actual,
                signer=signer,
            )
        trusted_as = "--public-key"
    else:
        known = lookup(actual, keyring)
        if known is None:
            return Verification(files, f"{UNTRUSTED}: {actual}", actual, signer=signer)
        trusted_as = known.name
    page = page_problem(run_dir, {**data, "fingerprint": actual})
    return Verification(files, "valid", actual, page, trusted_as, signer)
