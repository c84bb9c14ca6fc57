"""The bad-input matrix: every kind of file kcert reads, broken in the ways files break.

Each entry runs the real CLI in a subprocess with bounded memory and time; handled means a
short error naming the file (exit 2) or a finding (exit 1), and never a traceback. Shared by
the test (harness/tests/test_bad_input_matrix.py) and `make bench` (inputs handled / tried).
"""

from __future__ import annotations

import io
import os
import re
import resource
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMIT = 1536 * 1024 * 1024  # RLIMIT_AS of each CLI run
TIME_LIMIT = 120.0
CLI = "import sys; from harness.cli.main import main; sys.exit(main())"

SUT = """\
name: Bad
vendor: V
version: "1"
endpoints: {{fhir: "http://127.0.0.1:9/fhir", agent: "http://127.0.0.1:9/agent"}}
identity: {{sor: "999991000016008", gln: "5790000999996"}}
{extra}
"""
WAIVER = "waivers:\n  - case: {case}\n    reason: r\n    approver: a\n    expires: {expires}\n"
ANSWER = "tester: T\nanswers:\n  - case: CC-R-13\n    step: 2\n    verdict: OK\n{extra}\n"
SCRIPT = (
    '{"resourceType": "TestScript", "name": "x", "status": "active", "url": "urn:x",'
    ' "test": [{"action": [{"operation": {"method": "get", "url": "/Patient"}}]}]}'
)


@dataclass(frozen=True)
class BadInput:
    name: str  # input kind / way it is broken
    file: str  # the file's name in the temporary folder ("" when the path is absolute)
    content: Callable[[Path], object]  # writes the file (or a FIFO) at the given path
    argv: Callable[[Path, Path], list[str]]  # (bad file, work dir) -> kcert arguments
    path: str = ""  # an absolute path used instead of the written file (/dev/zero)


def _text(body: str) -> Callable[[Path], object]:
    return lambda p: p.write_text(body, encoding="utf-8")


def _bytes(body: bytes) -> Callable[[Path], object]:
    return lambda p: p.write_bytes(body)


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _nothing(p: Path) -> None:
    pass


def _zip(what: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("../escape.xsd" if what == "escape" else "a.xsd", "<x/>" * 100)
    data = bytearray(buf.getvalue())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    if what == "crc":
        data[local + 14 : local + 18] = data[central + 16 : central + 20] = b"\0\0\0\0"
    elif what == "size":
        data[local + 22 : local + 26] = data[central + 24 : central + 28] = struct.pack("<I", 10)
    return bytes(data)


def _tgz(truncate: bool, link: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        body = os.urandom(20_000)
        info = tarfile.TarInfo("package/a.xsd")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        if link:
            sym = tarfile.TarInfo("package/passwd")
            sym.type, sym.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(sym)
    data = buf.getvalue()
    return data[:-4000] if truncate else data


def _certify(flag: str) -> Callable[[Path, Path], list[str]]:
    def argv(bad: Path, work: Path) -> list[str]:
        sut = ["--sut-config", str(bad)] if flag == "--sut-config" else ["--sut", "reference"]
        extra = [] if flag == "--sut-config" else [flag, str(bad)]
        return ["certify", *sut, *extra, "--reports", str(work / "reports"), "--case", "CC-R-01"]

    return argv


def _protocols(bad: Path, work: Path) -> list[str]:
    return ["protocols", "check", str(bad)]


def _packs(bad: Path, work: Path) -> list[str]:
    return ["packs", "install", str(bad)]


def _population(bad: Path, work: Path) -> list[str]:
    return ["population", "validate", str(bad)]


def _validate(bad: Path, work: Path) -> list[str]:
    return ["validate", str(bad)]


def _testscript(bad: Path, work: Path) -> list[str]:
    return ["testscript", "run", "--sut", "reference", "--transport", "inprocess",
            "--reports", str(work / "reports"), str(bad)]  # fmt: skip


def _fixtures_map(bad: Path, work: Path) -> list[str]:
    script = work / "script.json"
    script.write_text(SCRIPT, encoding="utf-8")
    return [*_testscript(script, work)[:-1], "--fixtures-map", str(bad), str(script)]


PROTOCOL_HEAD = "id: bad\nversion: 1.0.0\ntitle: {da: x, en: x}\nstandard: x\ncapability: x\n"

MATRIX: tuple[BadInput, ...] = (
    BadInput("protocol: impossible date", "p.yaml",
             _text(PROTOCOL_HEAD + "published: !!timestamp 2027-02-30\n"), _protocols),
    BadInput("protocol: YAML syntax", "p.yaml", _text("id: [unclosed\n"), _protocols),
    BadInput("protocol: wrong type", "p.yaml", _text(PROTOCOL_HEAD + "cases: 5\n"), _protocols),
    BadInput("protocol: alias bomb", "p.yaml",
             _text("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"), _protocols),
    BadInput("protocol: not UTF-8", "p.yaml", _bytes(b"id: \xff\xfe\n"), _protocols),
    BadInput("protocol: a FIFO", "p.yaml", _fifo, _protocols),
    BadInput("SUT config: impossible date", "sut.yaml",
             _text(SUT.format(extra="timeouts: {connect: !!timestamp 2027-02-30}")),
             _certify("--sut-config")),
    BadInput("SUT config: wrong type", "sut.yaml",
             _text(SUT.format(extra="timeouts: {connect: soon}")), _certify("--sut-config")),
    BadInput("SUT config: plain token", "sut.yaml",
             _text(SUT.format(extra="auth: {type: bearer, token: s3cret}")),
             _certify("--sut-config")),
    BadInput("SUT config: a device", "", _nothing, _certify("--sut-config"), "/dev/zero"),
    BadInput("answers: impossible date", "a.yaml",
             _text(ANSWER.format(extra="    at: 2027-02-30T10:00:00")), _certify("--answers")),
    BadInput("answers: attachment on /dev/zero", "a.yaml",
             _text(ANSWER.format(extra="    attachments: [/dev/zero]")), _certify("--answers")),
    BadInput("answers: wrong type", "a.yaml",
             _text(ANSWER.format(extra="    note: [1, 2]")), _certify("--answers")),
    BadInput("waivers: impossible date", "w.yaml",
             _text(WAIVER.format(case="CC-R-01", expires="2027-02-30")), _certify("--waivers")),
    BadInput("waivers: unknown case", "w.yaml",
             _text(WAIVER.format(case="NO-SUCH", expires="2027-02-01")), _certify("--waivers")),
    BadInput("waivers: unquoted date, wrong type", "w.yaml",
             _text(WAIVER.format(case="CC-R-01", expires="[2027-02-01]")),
             _certify("--waivers")),
    BadInput("pack zip: bad CRC", "p.zip", _bytes(_zip("crc")), _packs),
    BadInput("pack zip: lying size", "p.zip", _bytes(_zip("size")), _packs),
    BadInput("pack zip: path escape", "p.zip", _bytes(_zip("escape")), _packs),
    BadInput("pack tgz: truncated", "p.tgz", _bytes(_tgz(True)), _packs),
    BadInput("pack tgz: symlink", "p.tgz", _bytes(_tgz(False, link=True)), _packs),
    BadInput("pack: garbage", "p.zip", _bytes(os.urandom(3000)), _packs),
    BadInput("population: not JSON", "pop.json", _text("{not json"), _population),
    BadInput("population: a device", "", _nothing, _population, "/dev/zero"),
    BadInput("population: wrong shape", "pop.json",
             _text('{"resourceType": "Bundle", "type": "transaction", "entry": 5}'), _population),
    BadInput("TestScript: not JSON", "ts.json", _text("{nope"), _testscript),
    BadInput("TestScript: a FIFO", "ts.json", _fifo, _testscript),
    BadInput("TestScript: not a TestScript", "ts.json",
             _text('{"resourceType": "Patient"}'), _testscript),
    BadInput("fixtures map: impossible date", "map.yaml",
             _text("fixtures:\n  a: !!timestamp 2027-02-30\n"), _fixtures_map),
    BadInput("fixtures map: wrong type", "map.yaml", _text("fixtures: 5\n"), _fixtures_map),
    BadInput("validate: a device", "", _nothing, _validate, "/dev/zero"),
    BadInput("validate: a FIFO", "doc.xml", _fifo, _validate),
    BadInput("validate: broken XML", "doc.xml", _text("<ClinicalDocument><x>"), _validate),
    BadInput("validate: broken JSON", "doc.json", _text('{"resourceType": '), _validate),
)  # fmt: skip


@dataclass(frozen=True)
class Tried:
    entry: BadInput
    code: int
    output: str  # stdout and stderr
    why_not: str  # "" when handled


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def try_input(entry: BadInput, work: Path) -> Tried:
    """Run the CLI on one bad input; why_not says what was wrong with how it was handled."""
    work.mkdir(parents=True, exist_ok=True)
    bad = Path(entry.path) if entry.path else work / entry.file
    if not entry.path:
        entry.content(bad)
    env = {**os.environ, "KCERT_PACKS": str(work / "packs"), "NO_COLOR": "1", "COLUMNS": "300"}
    env["KCERT_STORE"] = f"sqlite:///{work / 'store.db'}"
    try:
        done = subprocess.run(
            [sys.executable, "-c", CLI, *entry.argv(bad, work)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIME_LIMIT,
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Tried(entry, -1, "", f"no answer within {TIME_LIMIT:.0f} s")
    output = done.stdout + done.stderr
    why = ""
    if "Traceback" in output or "MemoryError" in output:
        why = "a traceback"
    elif done.returncode not in (1, 2):
        why = f"exit code {done.returncode}, not 2 (error) or 1 (finding)"
    elif bad.name not in output:
        why = f"no message names {bad.name}"
    elif bad.suffix == ".yaml" and not re.search(rf"{re.escape(bad.name)}:\d+: ", output):
        why = f"no message names {bad.name}:LINE"
    return Tried(entry, done.returncode, output, why)


def run_matrix(work: Path) -> list[Tried]:
    return [try_input(entry, work / f"{i:02d}") for i, entry in enumerate(MATRIX)]
