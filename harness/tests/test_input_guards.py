"""The guards on kcert's inputs: dates, waivers naming nothing, plain tokens, capped reads,
lying archives and the per-run evidence budget. Each fires on bad input and keeps quiet on good."""

from __future__ import annotations

import io
import os
import socket
import struct
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from harness.inputfile import InputFileError, read_limited
from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.packs.store import PackError, PackStore
from harness.reflps.app import create_app
from harness.report.waivers import load_waivers
from harness.runner.engine import EVIDENCE_BUDGET, Runner, RunOptions
from harness.sut.config import load_sut_config
from harness.sut.reference import reference_config
from harness.tests.test_hostile_sut import (
    Hostile,
    _config,
    hostile,  # noqa: F401 (the fixture)
)
from harness.tests.test_sut_config import GOOD
from harness.transport.http import HttpTransport
from harness.transport.inprocess import InProcessTransport
from harness.yamlsource import SourceError, load_yaml

WAIVER = "waivers:\n  - {case}\n    reason: r\n    approver: a\n    expires: {expires}\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- dates -------------------------------------------------------------------------------------


def test_dates_stay_text_and_an_impossible_one_is_no_crash(tmp_path: Path) -> None:
    doc = load_yaml(_write(tmp_path, "a.yaml", "a: 2027-02-01\nb: 2027-02-30\n"))
    assert doc.data == {"a": "2027-02-01", "b": "2027-02-30"}


def test_an_explicitly_tagged_impossible_date_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.yaml", "x: 1\nwhen: !!timestamp 2027-02-30\n")
    with pytest.raises(SourceError, match=r"a\.yaml:2: when: .*2027-02-30"):
        load_yaml(path)


@pytest.mark.parametrize("expires", ["2027-02-30", '"2027-02-30"', "2027-13-01"])
def test_an_impossible_waiver_date_names_its_line(tmp_path: Path, expires: str) -> None:
    path = _write(tmp_path, "w.yaml", WAIVER.format(case="case: X", expires=expires))
    with pytest.raises(SourceError, match=r"w\.yaml:5: waivers\[0\]\.expires: .*calendar date"):
        load_waivers(path)


def test_an_unquoted_waiver_date_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "w.yaml", WAIVER.format(case="case: X", expires="2027-02-01"))
    [waiver] = load_waivers(path)
    assert waiver.expires.isoformat() == "2027-02-01"


# -- waivers must name what exists ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("naming", "field"),
    [
        ("case: NO-SUCH-CASE", "case"),
        ("requirement: MVP9-NOPE-99", "requirement"),
        ("case: CC-R-01\n    rule: NO-SUCH-RULE", "rule"),
    ],
)
def test_a_waiver_naming_nothing_is_refused(
    tmp_path: Path, protocols: list[Protocol], naming: str, field: str
) -> None:
    path = _write(tmp_path, "w.yaml", WAIVER.format(case=naming, expires="2027-02-01"))
    with pytest.raises(SourceError, match=rf"w\.yaml:\d+: waivers\[0\]\.{field}: "):
        load_waivers(path, protocols)


def test_a_waiver_naming_real_things_is_accepted(tmp_path: Path, protocols: list[Protocol]) -> None:
    case = protocols[0].cases[0]
    naming = (
        f"case: {case.id}\n    requirement: {case.requirements[0]}\n    rule: HTTP-STATUS"
        if case.requirements
        else f"case: {case.id}\n    rule: FHIR-INVARIANT-x"
    )
    path = _write(tmp_path, "w.yaml", WAIVER.format(case=naming, expires="2027-02-01"))
    assert len(load_waivers(path, protocols)) == 1


# -- plain tokens -------------------------------------------------------------------------------


def test_a_plain_token_is_refused_with_the_environment_form(tmp_path: Path) -> None:
    text = GOOD.replace("token_env: KCERT_TEST_TOKEN", "token: s3cret-4711")
    with pytest.raises(SourceError, match=r"sut\.yaml:\d+: auth\.token: .*token_env"):
        load_sut_config(_write(tmp_path, "sut.yaml", text))


def test_a_plain_token_allowed_knowingly_is_never_shown(tmp_path: Path) -> None:
    text = GOOD.replace(
        "token_env: KCERT_TEST_TOKEN", "token: s3cret-4711\n  allow_plain_token: true"
    )
    config = load_sut_config(_write(tmp_path, "sut.yaml", text))
    assert config.auth.token == "s3cret-4711"
    assert "s3cret-4711" not in repr(config) and "s3cret-4711" not in str(config.public_dict())


# -- capped reads -------------------------------------------------------------------------------


def test_a_device_a_fifo_and_a_socket_are_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for path, kind in ((Path("/dev/zero"), "device"), (fifo, "FIFO"), (sock_path, "")):
            with pytest.raises(InputFileError, match=kind or "regular"):
                read_limited(path, 1024)
    finally:
        sock.close()


def test_a_file_over_the_limit_is_refused_and_one_at_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_limited(path, 100) == b"x" * 100
    with pytest.raises(InputFileError, match="limit of 99"):
        read_limited(path, 99)


def test_an_answers_attachment_on_a_device_names_its_line(
    tmp_path: Path, protocols: list[Protocol]
) -> None:
    from harness.loader.answers import load_answers

    text = (
        "tester: T\nanswers:\n  - case: CC-R-13\n    step: 2\n    verdict: OK\n"
        "    attachments: [/dev/zero]\n"
    )
    with pytest.raises(SourceError, match=r"a\.yaml:6: .*attachments.*device"):
        load_answers(_write(tmp_path, "a.yaml", text), protocols)


# -- lying archives -----------------------------------------------------------------------------


def lying_zip(what: str) -> bytes:
    """A stored zip whose one entry lies about its CRC or its size."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("schema/a.xsd", "<x/>" * 100)
    data = bytearray(buf.getvalue())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    if what == "crc":
        data[local + 14 : local + 18] = data[central + 16 : central + 20] = b"\0\0\0\0"
    else:
        data[local + 22 : local + 26] = data[central + 24 : central + 28] = struct.pack("<I", 10)
    return bytes(data)


def truncated_tgz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        body = os.urandom(20_000)
        info = tarfile.TarInfo("package/a.xsd")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()[:-4000]


@pytest.mark.parametrize("what", ["crc", "size"])
def test_a_zip_entry_that_lies_refuses_the_pack_naming_it(tmp_path: Path, what: str) -> None:
    source = tmp_path / "p.zip"
    source.write_bytes(lying_zip(what))
    with pytest.raises(PackError, match=r"p\.zip: archive entry 'schema/a\.xsd'"):
        PackStore(tmp_path / "store").install(source)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_a_truncated_tgz_refuses_the_pack(tmp_path: Path) -> None:
    source = tmp_path / "p.tgz"
    source.write_bytes(truncated_tgz())
    with pytest.raises(PackError, match=r"p\.tgz"):
        PackStore(tmp_path / "store").install(source)


def test_an_honest_zip_installs(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("schema/a.xsd", "<x/>" * 100)
    source = tmp_path / "p.zip"
    source.write_bytes(buf.getvalue())
    assert PackStore(tmp_path / "store").install(source, kind="oioxml-schema").files


# -- evidence budget ----------------------------------------------------------------------------


def _run(protocols: list[Protocol], budget: int) -> RunResult:
    config = reference_config("http://reference.invalid", (), "inprocess")
    transport = InProcessTransport(config, create_app(()))
    chosen = [replace(protocols[0], cases=protocols[0].cases[:3])]
    try:
        run = Runner(transport, config).run(chosen, RunOptions(evidence_budget=budget))
    finally:
        transport.close()
    return run


def test_a_run_over_its_evidence_budget_ends_with_a_finding(protocols: list[Protocol]) -> None:
    run = _run(protocols, 2_000)
    budget = [f for c in run.cases for f in c.findings if f.rule_id == EVIDENCE_BUDGET]
    assert len(budget) == 1 and budget[0].severity.value == "F2"
    assert run.verdict is Verdict.IKKE_GODKENDT
    # nothing after the overdrawing step talked to the SUT
    later = [s for c in run.cases for s in c.steps][-1]
    assert later.outcome is Outcome.SKIP and not later.exchanges


def test_a_run_within_its_budget_has_no_budget_finding(protocols: list[Protocol]) -> None:
    run = _run(protocols, 200 * 1024 * 1024)
    assert not [f for c in run.cases for f in c.findings if f.rule_id == EVIDENCE_BUDGET]


def test_a_flooding_sut_over_http_ends_the_run_with_the_budget_finding(
    hostile: tuple[str, type[Hostile]],  # noqa: F811 (the imported fixture)
    protocols: list[Protocol],
) -> None:
    base, handler = hostile
    handler.mode = "huge"  # every answer at the per-exchange cap (64 KB here)
    chosen = [replace(protocols[0], cases=protocols[0].cases[:3])]
    run = Runner(HttpTransport(_config(base)), _config(base)).run(
        chosen, RunOptions(evidence_budget=100_000)
    )
    found = [f for c in run.cases for f in c.findings if f.rule_id == EVIDENCE_BUDGET]
    assert len(found) == 1 and found[0].blocking
    assert run.verdict is Verdict.IKKE_GODKENDT
    used = sum(len(x.response_body) for c in run.cases for s in c.steps for x in s.exchanges)
    assert used <= 100_000 + 64 * 1024  # the overdrawing step's answer, then nothing more
