"""Hostile XML at every XML entry point (issue 4, item 8): XXE to a local file and to the
network, billion laughs, 100,000 levels of nesting, a 50 MB document. Each must end in a finding
or a clear refusal (exit 2, a 4xx answer, a PayloadError with a message): never a traceback, a
hang, or the content of the referenced file in any output."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from harness.cli.main import main
from harness.fhir.resource import FhirReadError, read_resource
from harness.packs.store import PackStore
from harness.safeparse import PayloadError, parse_xml
from harness.validators.api import ValidatorContext
from harness.validators.schematron import SchematronValidator

SECRET = f"KCERT-SECRET-{uuid.uuid4().hex}"
TIMEOUT_S = 60.0  # generous for a loaded machine; a hang is minutes, refusals are milliseconds
HUGE_BYTES = 50 * 1024 * 1024
ROOTS = {
    "cda": ("ClinicalDocument", "urn:hl7-org:v3"),
    "fhir": ("Bundle", "http://hl7.org/fhir"),
    "oioxml": ("Emessage", "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"),
}
ATTACKS = [
    "xxe-file",
    "xxe-http",
    "xxe-parameter",
    "external-dtd",
    "billion-laughs",
    "deep",
    "huge",
    "xinclude",
]
# These may be read (they declare nothing): then they must give a finding or pass harmlessly.
READABLE = {"xinclude"}


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def huge_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 50 MB document per kind, written in blocks (never held whole while building)."""
    folder = tmp_path_factory.mktemp("huge")
    files = {}
    for kind, (root, ns) in ROOTS.items():
        path = folder / f"{kind}.xml"
        block = b"<text>" + b"x" * 1000 + b"</text>\n"
        with path.open("wb") as out:
            out.write(f'<?xml version="1.0"?>\n<{root} xmlns="{ns}">\n'.encode())
            for _ in range(HUGE_BYTES // len(block) + 1):
                out.write(block)
            out.write(f"</{root}>\n".encode())
        assert path.stat().st_size > HUGE_BYTES
        files[kind] = path
    return files


def payload(attack: str, kind: str, secret: Path, huge: dict[str, Path]) -> bytes:
    root, ns = ROOTS[kind]
    url = secret.as_uri()
    head = '<?xml version="1.0"?>\n'
    body = f'<{root} xmlns="{ns}"><id value="&x;"/><text>&x;</text></{root}>'
    if attack == "xxe-file":
        return f'{head}<!DOCTYPE {root} [<!ENTITY x SYSTEM "{url}">]>{body}'.encode()
    if attack == "xxe-http":
        return f'{head}<!DOCTYPE {root} [<!ENTITY x SYSTEM "http://127.0.0.1:1/">]>{body}'.encode()
    if attack == "xxe-parameter":
        return (
            f'{head}<!DOCTYPE {root} [<!ENTITY % p SYSTEM "{url}"> %p;]><{root} xmlns="{ns}"/>'
        ).encode()
    if attack == "external-dtd":
        return f'{head}<!DOCTYPE {root} SYSTEM "{url}"><{root} xmlns="{ns}"/>'.encode()
    if attack == "billion-laughs":
        entities = ['<!ENTITY x0 "lol">'] + [
            f'<!ENTITY x{n} "{("&x" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
        ]
        return (
            f"{head}<!DOCTYPE {root} [{''.join(entities)}]>"
            f'<{root} xmlns="{ns}"><text>&x9;</text></{root}>'
        ).encode()
    if attack == "deep":
        levels = 100_000
        return (
            f'{head}<{root} xmlns="{ns}">'.encode()
            + b"<a>" * levels
            + b"</a>" * levels
            + f"</{root}>".encode()
        )
    if attack == "huge":
        return huge[kind].read_bytes()
    if attack == "xinclude":
        return (
            f'{head}<{root} xmlns="{ns}" xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="{url}" parse="text"/></{root}>'
        ).encode()
    raise AssertionError(attack)


def bounded(func: Callable[[], Any]) -> Any:
    """func() in a worker thread: a hang fails the test instead of stalling the suite."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        started = time.monotonic()
        result = pool.submit(func).result(timeout=TIMEOUT_S)
        assert time.monotonic() - started < TIMEOUT_S
        return result
    finally:
        pool.shutdown(wait=False)


def refused_or_read(
    attack: str, func: Callable[[], Any], refusals: tuple[type[Exception], ...] = (PayloadError,)
) -> str:
    """Everything the entry point said (its result or its refusal), as text to search."""
    try:
        result = bounded(func)
    except refusals as exc:
        assert str(exc), f"{attack}: {type(exc).__name__} without a message"
        return f"{type(exc).__name__}: {exc}"
    assert attack in READABLE, f"{attack} was accepted: {str(result)[:300]}"
    if isinstance(result, etree._Element):
        return etree.tostring(result, encoding="unicode")
    return repr(result)


@pytest.fixture
def attack_bytes(
    secret_file: Path, huge_files: dict[str, Path]
) -> Iterator[Callable[[str, str], bytes]]:
    yield lambda attack, kind: payload(attack, kind, secret_file, huge_files)


# -- kcert validate ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ROOTS))
def test_kcert_validate(
    kind: str,
    secret_file: Path,
    huge_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = []
    for attack in ATTACKS:
        if attack == "huge":
            files.append(huge_files[kind])
            continue
        path = tmp_path / f"{attack}.xml"
        path.write_bytes(payload(attack, kind, secret_file, huge_files))
        files.append(path)
    store = tmp_path / "store"
    corpus = Path(__file__).parents[2].parent / "shared" / "corpus"
    if corpus.is_dir() and kind == "cda":  # the readable ones meet the real CDA schema
        PackStore(store).install(corpus / "cda" / "schema", "hl7-cda-r2", "t", "cda-schema")
    for given in (None, kind):  # detected, and forced with --kind
        args = ["validate", "--store", str(store), *map(str, files)]
        code = bounded(lambda a=args, k=given: main(a + (["--kind", k] if k else [])))
        out, err = capsys.readouterr()
        assert code == 2, out
        assert SECRET not in out + err and "Traceback" not in out + err
        for attack, path in zip(ATTACKS, files, strict=True):
            if attack in READABLE:
                assert f"{path}: " in out  # validated: a verdict, not a refusal
            else:
                assert f"{path}: " in out and "UNUSABLE" in out.split(f"{path}: ", 1)[1][:600]
        assert "larger than the limit of" in out and "refused" in out  # read capped, not whole
        assert "DTD or entity declaration refused" in out
        assert "nested deeper than" in out or "depth" in out.lower()


# -- library entry points ---------------------------------------------------------------------


@pytest.mark.parametrize("attack", ATTACKS)
def test_safeparse(attack: str, attack_bytes: Callable[[str, str], bytes]) -> None:
    for kind in ROOTS:
        data = attack_bytes(attack, kind)
        said = refused_or_read(attack, lambda d=data: parse_xml(d))
        assert SECRET not in said


@pytest.mark.parametrize("attack", ATTACKS)
def test_read_fhir_resource_xml(attack: str, attack_bytes: Callable[[str, str], bytes]) -> None:
    data = attack_bytes(attack, "fhir")
    said = refused_or_read(
        attack,
        lambda: read_resource(data, "application/fhir+xml"),
        (PayloadError, FhirReadError),
    )
    assert SECRET not in said


@pytest.fixture(scope="module")
def schematron(tmp_path_factory: pytest.TempPathFactory) -> SchematronValidator:
    folder = tmp_path_factory.mktemp("sch")
    (folder / "t.sch").write_text(
        '<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">'
        '<ns prefix="h" uri="urn:hl7-org:v3"/>'
        '<pattern><rule context="h:ClinicalDocument">'
        '<assert id="T-1" test="h:title">title: <value-of select="string(.)"/></assert>'
        "</rule></pattern></schema>",
        encoding="utf-8",
    )
    return SchematronValidator(
        folder, mapping={"": ("t.sch",)}, cache_dir=tmp_path_factory.mktemp("sch-cache")
    )


@pytest.mark.parametrize("attack", ATTACKS)
def test_schematron_validate(
    attack: str, attack_bytes: Callable[[str, str], bytes], schematron: SchematronValidator
) -> None:
    data = attack_bytes(attack, "cda")
    said = refused_or_read(
        attack, lambda: list(schematron.iter_findings(data, ValidatorContext("hostile.xml")))
    )
    assert SECRET not in said
    compiled = schematron.compiled("t.sch")
    said = refused_or_read(
        attack, lambda: list(compiled.iter_findings(data, ValidatorContext("hostile.xml")))
    )
    assert SECRET not in said


def test_the_schematron_sees_documents_at_all(schematron: SchematronValidator) -> None:
    doc = b'<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root=""/></ClinicalDocument>'
    assert [f.rule_id for f in schematron.iter_findings(doc, ValidatorContext("t.xml"))] == ["T-1"]


# -- the reference LPS ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lps() -> Iterator[Any]:
    from starlette.testclient import TestClient

    from harness.reflps.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("attack", ATTACKS)
def test_reference_lps_process_message(
    attack: str, attack_bytes: Callable[[str, str], bytes], lps: Any
) -> None:
    data = attack_bytes(attack, "fhir")
    for content_type in ("application/fhir+xml", ""):
        headers = {"content-type": content_type} if content_type else {}
        answer = bounded(
            lambda h=headers: lps.post("/fhir/$process-message", content=data, headers=h)
        )
        assert 400 <= answer.status_code < 500, (attack, answer.status_code, answer.text[:300])
        assert SECRET not in answer.text
        assert "Traceback" not in answer.text
