"""Signed dossiers: one changed byte anywhere in a signed run is found and named, offline."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from harness.dossier.keyring import trust
from harness.dossier.manifest import DossierError, read_manifest
from harness.dossier.signing import generate_keys, load_public, sign, verify
from harness.model.result import RunResult
from harness.report.writer import write_report


@pytest.fixture
def run_dir(clean_run: RunResult, tmp_path: Path) -> Path:
    return write_report(clean_run, tmp_path / "reports")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = generate_keys(tmp_path / "keys")
    trust(public, f"MedCom test {tmp_path.name}")
    return private, public


def test_manifest_describes_the_run(run_dir: Path) -> None:
    manifest = read_manifest(run_dir)
    assert manifest["verdict"] == "godkendt"
    assert manifest["sut"]["name"] == "kcert reference LPS"
    assert {p["id"] for p in manifest["protocols"]} >= {"carecommunication-receive"}
    assert "index.html" in manifest["files"] and "results.json" in manifest["files"]
    assert any(name.startswith("evidence/") for name in manifest["files"])


def test_signed_run_verifies_and_every_change_is_named(
    run_dir: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    sign(run_dir, private, "Test Tester")
    assert verify(run_dir).ok
    assert verify(run_dir, load_public(public)).ok
    evidence = sorted((run_dir / "evidence").iterdir())[0]
    evidence.write_bytes(evidence.read_bytes() + b" ")
    (run_dir / "extra.txt").write_text("x")
    (run_dir / "junit.xml").unlink()
    result = verify(run_dir)
    assert not result.ok
    assert result.files == [
        f"changed: evidence/{evidence.name}",
        "added: extra.txt",
        "removed: junit.xml",
    ]
    assert result.signature == "valid"  # the manifest itself is intact: the files are not


def test_a_changed_manifest_breaks_the_signature(run_dir: Path, keys: tuple[Path, Path]) -> None:
    sign(run_dir, keys[0])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["verdict"] = "godkendt "
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert "invalid: manifest.json is not the one signed" in verify(run_dir).signature


def test_another_signer_is_refused_when_a_key_is_trusted(
    run_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other_private, other_public = generate_keys(tmp_path / "other")
    sign(run_dir, other_private)
    other = load_public(other_public)
    assert verify(run_dir, other).ok  # self-consistent, and that key is given
    untrusted = verify(run_dir)  # but it is in no keyring: the key it carries proves nothing
    assert not untrusted.ok and untrusted.untrusted
    assert untrusted.signature == f"signed by a key that is not trusted: {untrusted.fingerprint}"
    assert verify(run_dir, load_public(keys[1])).signature.startswith(
        f"signed with key {untrusted.fingerprint}, not the one given with --public-key"
    )


def test_unsigned_and_unsafe_cases(run_dir: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    assert verify(run_dir).signature == "missing" and not verify(run_dir).ok
    (run_dir / "index.html").write_text("changed before signing")
    with pytest.raises(DossierError, match="refusing to sign"):
        sign(run_dir, keys[0])
    with pytest.raises(DossierError, match="refusing to overwrite"):
        generate_keys(keys[0].parent)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DossierError, match="not a kcert run folder"):
        verify(empty)


def test_verify_command_exit_codes(run_dir: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    from harness.tests.test_cli import kcert

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    done = kcert("sign", str(copy), "--key", str(keys[0]), "--signer", "Mette Godkender")
    assert done.returncode == 0 and "signaturside:" in done.stdout
    assert "Mette Godkender" in (copy / "signature.html").read_text(encoding="utf-8")
    done = kcert("verify", str(copy), "--public-key", str(keys[1]))
    assert done.returncode == 0 and ": VERIFICERET" in done.stdout
    assert "signeret af: Mette Godkender, --public-key" in done.stdout
    done = kcert("verify", str(copy), "--lang", "en")  # the keyring (KCERT_TRUSTED) has it
    assert done.returncode == 0 and f"signed by: Mette Godkender, MedCom test {tmp_path.name}" in (
        done.stdout
    )
    (copy / "results.json").write_text("{}")
    done = kcert("verify", str(copy))
    assert done.returncode == 1 and "changed: results.json" in done.stdout
    assert kcert("verify", str(tmp_path / "nowhere")).returncode == 2
