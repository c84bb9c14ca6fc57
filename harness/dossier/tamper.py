"""The tamper matrix: ways to forge or damage a signed dossier, each of which `verify` must fail.

Used by kcert's own tests and by `make bench` ("tampers detected / tried"). Each way works on a
fresh copy of one genuine signed run folder; a way is detected when verification fails and
what it says names the damage (`expect`), so a failure for an unrelated reason does not count.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.dossier.keyfiles import PUBLIC
from harness.dossier.keyring import trust
from harness.dossier.manifest import (
    MANIFEST,
    SIGNATURE,
    SUMS,
    read_manifest,
    sha256_file,
    write_manifest,
)
from harness.dossier.signing import generate_keys, sign, verify

Tamper = Callable[[Path, Path], object]  # (copy of the run folder, a scratch folder)


@dataclass(frozen=True)
class Way:
    name: str
    tamper: Tamper
    expect: str  # a part of what verify must say


@dataclass(frozen=True)
class Outcome:
    name: str
    detected: bool
    said: str


def _first(run: Path, prefix: str) -> Path:
    return next(p for p in sorted(run.rglob("*")) if p.is_file() and p.name.startswith(prefix))


def _evidence(run: Path) -> Path:
    return next(p for p in sorted((run / "evidence").rglob("*")) if p.is_file())


def _resign_other(run: Path, scratch: Path) -> None:
    manifest = read_manifest(run)
    manifest["verdict"] = "godkendt" if manifest.get("verdict") != "godkendt" else "afvist"
    (run / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    _rewrite_sums(run)
    private, _ = generate_keys(scratch / "forger")
    sign(run, private, "Mette Godkender")


def _rewrite_sums(run: Path) -> None:
    files = {**read_manifest(run)["files"], MANIFEST: sha256_file(run / MANIFEST)}
    (run / SUMS).write_text("".join(f"{h}  {n}\n" for n, h in sorted(files.items())))


def _edit_sig(change: Callable[[dict[str, object]], object]) -> Tamper:
    def tamper(run: Path, scratch: Path) -> None:
        data = json.loads((run / SIGNATURE).read_text())
        change(data)
        (run / SIGNATURE).write_text(json.dumps(data, indent=1))

    return tamper


def _edit_sums(run: Path, scratch: Path) -> None:
    lines = (run / SUMS).read_text().splitlines()
    _digest, _, name = lines[0].partition("  ")
    lines[0] = f"{'0' * 64}  {name}"
    (run / SUMS).write_text("\n".join(lines) + "\n")


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _socket(run: Path, scratch: Path) -> None:
    # a socket's path is short-limited (108 bytes): bind in the cwd of the run folder
    here = os.getcwd()
    os.chdir(run)
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind("kcert.sock")
    finally:
        os.chdir(here)


def _other_run_signature(run: Path, scratch: Path) -> None:
    other = scratch / "other-run"
    shutil.copytree(run, other)
    (other / "extra-note.txt").write_text("another run\n")
    (other / SIGNATURE).unlink()
    write_manifest(other, {k: v for k, v in read_manifest(run).items() if k != "files"})
    _rewrite_sums(other)
    private = scratch / "keys" / "kcert-signing.key"
    sign(other, private, "Mette Godkender")
    shutil.copy(other / SIGNATURE, run / SIGNATURE)


def ways() -> list[Way]:
    return [
        Way("verdict edited and re-signed with another key", _resign_other, "not trusted"),
        Way(
            "signature made with the key it carries (self-embedded, untrusted)",
            lambda run, scratch: sign(run, generate_keys(scratch / "self")[0], "Selv"),
            "not trusted",
        ),
        Way(
            "manifest.json verdict edited",
            _edit_manifest_verdict,
            "manifest.json is not the one signed",
        ),
        Way("manifest.sha256 edited", _edit_sums, "manifest.sha256 disagrees"),
        Way("manifest.sha256 removed", lambda r, s: (r / SUMS).unlink(), "manifest.sha256: miss"),
        Way(
            "symbolic link added",
            lambda r, s: (r / "evidence" / "link").symlink_to("/etc/hostname"),
            "symbolic link: evidence/link",
        ),
        Way(
            "symbolic link replaces a file",
            _replace_by_symlink,
            "symbolic link: results.json",
        ),
        Way(
            "hard link to a file outside",
            lambda r, s: os.link(_outside(s), r / "outside.txt"),
            "hard link: outside.txt",
        ),
        Way("FIFO added", lambda r, s: os.mkfifo(r / "evidence" / "pipe"), "FIFO: evidence/pipe"),
        Way("socket added", _socket, "socket: kcert.sock"),
        Way("regular file added", lambda r, s: (r / "extra.txt").write_text("x"), "added: extra"),
        Way("file removed", lambda r, s: (r / "results.json").unlink(), "removed: results.json"),
        Way(
            "one evidence byte flipped",
            lambda r, s: _flip_byte(_evidence(r)),
            "changed: evidence/",
        ),
        Way(
            "report edited",
            lambda r, s: (r / "index.html").write_text("<p>Godkendt</p>"),
            "changed: index.html",
        ),
        Way("file renamed", _rename, "removed: results.json"),
        Way(
            "manifest.sig truncated",
            lambda r, s: (r / SIGNATURE).write_bytes((r / SIGNATURE).read_bytes()[:40]),
            "unreadable signature file",
        ),
        Way(
            "signature of another run copied in",
            _other_run_signature,
            "manifest.json is not the one signed",
        ),
        Way(
            "signer name changed in manifest.sig",
            _edit_sig(lambda d: d.update(signer="Anden Person")),
            "manifest.sig was changed",
        ),
        Way(
            "signing time changed in manifest.sig",
            _edit_sig(lambda d: d.update(signed_at="2020-01-01T00:00:00+00:00")),
            "manifest.sig was changed",
        ),
        Way(
            "fingerprint in manifest.sig changed",
            _edit_sig(lambda d: d.update(fingerprint="0" * 32)),
            "states key",
        ),
        Way(
            "signature downgraded to the old form (manifest.json only)",
            _edit_sig(lambda d: d.pop("kcert-signature")),
            "not a version 2 signature",
        ),
        Way("signature page edited", _edit_page, "signature.html states another"),
        Way("manifest.sig removed", lambda r, s: (r / SIGNATURE).unlink(), "missing"),
    ]


def _edit_manifest_verdict(run: Path, scratch: Path) -> None:
    manifest = read_manifest(run)
    manifest["verdict"] = "godkendt" if manifest.get("verdict") != "godkendt" else "afvist"
    (run / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    _rewrite_sums(run)


def _replace_by_symlink(run: Path, scratch: Path) -> None:
    kept = scratch / "results.json"
    shutil.copy(run / "results.json", kept)
    (run / "results.json").unlink()
    (run / "results.json").symlink_to(kept)


def _outside(scratch: Path) -> Path:
    path = scratch / "outside.txt"
    path.write_text("outside the run folder\n")
    return path


def _rename(run: Path, scratch: Path) -> None:
    (run / "results.json").rename(run / "results2.json")


def _edit_page(run: Path, scratch: Path) -> None:
    page = run / "signature.html"
    text = page.read_text(encoding="utf-8")
    start = text.index('id="kcert-signature">') + len('id="kcert-signature">')
    end = text.index("</script>", start)
    facts = json.loads(text[start:end])
    facts["signer"] = "Anden Person"
    page.write_text(text[:start] + json.dumps(facts) + text[end:], encoding="utf-8")


def run_matrix(
    source: Path, work: Path, make_page: Callable[[Path], object] | None = None
) -> tuple[list[Outcome], bool]:
    """Sign a copy of the unsigned run folder `source` with a key trusted in a keyring of
    `work`'s own, try every way on a fresh copy of it; and whether the genuine copy verifies.
    `make_page` writes the signature page (the report layer's writer; a minimal one if None)."""
    keyring = work / "trusted"
    scratch = work / "scratch"
    scratch.mkdir(parents=True)
    private, public = generate_keys(scratch / "keys")
    trust(public, "MedCom (tamper matrix)", keyring)
    genuine = work / "genuine"
    shutil.copytree(source, genuine, symlinks=True)
    (genuine / SIGNATURE).unlink(missing_ok=True)
    sign(genuine, private, "Mette Godkender")
    (make_page or _minimal_page)(genuine)
    genuine_ok = verify(genuine, keyring=keyring).ok
    outcomes = []
    for number, way in enumerate(ways()):
        copy = work / f"way-{number:02d}"
        shutil.copytree(genuine, copy, symlinks=True)
        own = scratch / f"way-{number:02d}"
        own.mkdir()
        shutil.copytree(scratch / "keys", own / "keys")  # the trusted signer's, for re-signing
        way.tamper(copy, own)
        result = verify(copy, keyring=keyring)
        said = "; ".join([*result.files, result.signature, result.page])
        outcomes.append(Outcome(way.name, not result.ok and way.expect in said, said))
        shutil.rmtree(copy)
    return outcomes, genuine_ok


def _minimal_page(run: Path) -> None:
    from harness.dossier.signing import manifest_sha256, read_signature

    signature = read_signature(run)
    facts = {
        "signer": signature.get("signer", ""),
        "fingerprint": signature.get("fingerprint", ""),
        "manifest_sha256": manifest_sha256(run),
    }
    (run / "signature.html").write_text(
        '<script type="application/json" id="kcert-signature">' + json.dumps(facts) + "</script>\n",
        encoding="utf-8",
    )


__all__ = ["PUBLIC", "Outcome", "Way", "run_matrix", "ways"]
