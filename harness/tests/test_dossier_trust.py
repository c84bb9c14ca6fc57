"""Whom `kcert verify` believes: the keyring of trusted signers, key file modes, and the tamper
matrix (every way of forging or damaging a signed dossier fails, naming what is wrong)."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.dossier.keyring import trust, trusted_keys, untrust
from harness.dossier.manifest import DossierError
from harness.dossier.signing import generate_keys, sign, verify
from harness.dossier.tamper import run_matrix, ways
from harness.model.result import RunResult
from harness.report.signature_page import write_signature_page
from harness.report.writer import write_report


@pytest.fixture
def run_dir(clean_run: RunResult, tmp_path: Path) -> Path:
    return write_report(clean_run, tmp_path / "reports")


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_tamper_matrix_every_way_fails_and_the_genuine_run_verifies(
    run_dir: Path, tmp_path: Path
) -> None:
    outcomes, genuine_ok = run_matrix(run_dir, tmp_path / "matrix", write_signature_page)
    assert genuine_ok
    assert len(outcomes) == len(ways()) >= 15
    missed = [f"{o.name}: {o.said}" for o in outcomes if not o.detected]
    assert not missed, missed


def test_the_matrix_is_cheap_on_a_minimal_folder(tmp_path: Path) -> None:
    # what `make bench` runs: no report writer, a minimal signature page
    from harness.bench import tamper_figures

    detected, tried, genuine_ok = tamper_figures(tmp_path)
    assert genuine_ok and detected == tried >= 15


def test_keyring_trust_list_untrust(tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    _, public = generate_keys(tmp_path / "a")
    _, other = generate_keys(tmp_path / "b")
    first = trust(public, "MedCom", ring)
    assert [(k.name, k.fingerprint) for k in trusted_keys(ring)] == [("MedCom", first.fingerprint)]
    with pytest.raises(DossierError, match="'MedCom' is already given to key"):
        trust(other, "MedCom", ring)
    assert trust(public, "MedCom certificering", ring).fingerprint == first.fingerprint  # renamed
    assert [k.name for k in trusted_keys(ring)] == ["MedCom certificering"]
    trust(other, "", ring)  # default name: the file's stem
    assert {k.name for k in trusted_keys(ring)} == {"MedCom certificering", "kcert-signing"}
    assert untrust(first.fingerprint[:8], ring).name == "MedCom certificering"
    assert untrust("kcert-signing", ring)
    assert trusted_keys(ring) == []
    with pytest.raises(DossierError, match="no trusted key"):
        untrust("MedCom", ring)
    with pytest.raises(DossierError, match="not a usable public key"):
        trust(tmp_path / "a" / "kcert-signing.key", "private, not public", ring)
    with pytest.raises(DossierError, match="not a regular file"):
        trust(Path("/dev/zero"), "device", ring)
    (ring / "broken.json").write_text("{not json")
    with pytest.raises(DossierError, match=r"broken.json: not a kcert trusted-key file"):
        trusted_keys(ring)
    os.mkfifo(tmp_path / "pipe.pub")
    with pytest.raises(DossierError, match="not a regular file"):
        trust(tmp_path / "pipe.pub", "FIFO", ring)  # refused at once, no wait for a writer


def test_key_modes_hold_whatever_the_umask(tmp_path: Path, umask_000: None) -> None:
    private, public = generate_keys(tmp_path / "home" / ".kcert" / "keys")
    assert mode(private) == 0o600 and mode(public) == 0o644
    assert mode(private.parent) == 0o700 and mode(private.parent.parent) == 0o700
    entry = trust(public, "own", tmp_path / "home" / ".kcert" / "trusted")
    assert mode(entry.path) == 0o644 and mode(entry.path.parent) == 0o700


def test_a_readable_private_key_warns_in_the_runs_language(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    private, _ = generate_keys(tmp_path / "keys")
    assert main(["sign", str(run_dir), "--key", str(private)]) == 0
    assert "advarsel" not in capsys.readouterr().out  # 0600: quiet
    private.chmod(0o644)
    assert main(["sign", str(run_dir), "--key", str(private)]) == 0
    out = capsys.readouterr().out
    assert f"advarsel: den private nøgle {private} kan læses af andre" in out
    assert "(tilstand 0644)" in out
    assert main(["sign", str(run_dir), "--key", str(private), "--lang", "en"]) == 0
    assert "warning: the private key" in capsys.readouterr().out


def test_verify_names_the_untrusted_key_and_how_to_trust_it(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    private, public = generate_keys(tmp_path / "keys")
    sign(run_dir, private, "Mette Godkender")
    result = verify(run_dir)
    assert result.untrusted
    assert main(["verify", str(run_dir), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert f"signature: signed by a key that is not trusted: {result.fingerprint}" in out
    assert f"key {result.fingerprint} is not trusted" in out and "kcert keys trust" in out
    assert out.rstrip().endswith("NOT VERIFIED")
    assert main(["keys", "trust", str(public), "--name", f"Mette {tmp_path.name}"]) == 0
    assert f"betroet: Mette {tmp_path.name} (nøgle {result.fingerprint})" in (
        capsys.readouterr().out
    )
    assert main(["keys", "list", "--lang", "en"]) == 0
    assert f"{result.fingerprint}  Mette {tmp_path.name}" in capsys.readouterr().out
    assert main(["verify", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert (
        f"signeret af: Mette Godkender, Mette {tmp_path.name} (nøgle {result.fingerprint})" in out
    )
    assert main(["keys", "untrust", result.fingerprint]) == 0
    assert main(["verify", str(run_dir)]) == 1
    capsys.readouterr()
    assert main(["keys", "untrust", result.fingerprint]) == 2  # gone: a usage problem
    assert "no trusted key" in capsys.readouterr().out


def test_walk_names_links_and_special_files_and_sign_refuses_them(
    run_dir: Path, tmp_path: Path
) -> None:
    private, _ = generate_keys(tmp_path / "keys")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "evidence" / "up").symlink_to("..")
    os.mkfifo(copy / "pipe")
    with pytest.raises(DossierError, match="refusing to sign") as refused:
        sign(copy, private)
    assert "added symbolic link: evidence/up -> .." in str(refused.value)
    assert "added FIFO: pipe" in str(refused.value)
    # a clean folder, with a hard link made after signing: named, though its bytes are right
    sign(run_dir, private)
    os.link(run_dir / "results.json", tmp_path / "outside-name")
    files = verify(run_dir).files
    assert files == ["added hard link: results.json (2 names for one file)"]


def test_manifest_sha256_must_agree_with_manifest_json(run_dir: Path) -> None:
    from harness.dossier.manifest import compare, read_manifest

    sums = run_dir / "manifest.sha256"
    assert compare(run_dir, read_manifest(run_dir)).clean
    lines = sums.read_text().splitlines()
    sums.write_text("\n".join([*lines[1:], "not a line"]) + "\n")
    problems = compare(run_dir, read_manifest(run_dir)).sums
    name = lines[0].partition("  ")[2]
    assert problems == [
        f"manifest.sha256 line {len(lines)}: not 'SHA256  file'",
        f"manifest.sha256 lacks {name}",
    ]


def test_a_fifo_for_manifest_json_is_refused_not_read(run_dir: Path) -> None:
    (run_dir / "manifest.json").unlink()
    os.mkfifo(run_dir / "manifest.json")
    with pytest.raises(DossierError, match=r"manifest.json: not a regular file"):
        verify(run_dir)


def test_a_device_in_the_run_folder_is_named(run_dir: Path) -> None:
    try:
        os.mknod(run_dir / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("making a device node needs privileges this machine does not give")
    assert verify(run_dir).files == ["added device: null"]
