"""No real CPR in a dossier: a SUT echoing a real-format CPR gets REAL-CPR, and the number is
masked everywhere the run leaves something (evidence, results.json, Allure, reports, store)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.checks.realcpr import RULE, find_real_cprs, guard_step, mask_real_cprs, mask_text
from harness.checks.rules import RULES
from harness.fixtures import REPO_ROOT, load_persons
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.i18n import Text
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Protocol, Source, Step
from harness.model.result import StepResult
from harness.report.writer import write_report
from harness.runner.engine import Runner, RunOptions
from harness.store.codec import rebuild_case
from harness.store.recorder import StoreRecorder
from harness.store.runstore import RunStore
from harness.sut.config import SutConfig
from harness.tests.stubsut import StubHandler, serve
from harness.transport.http import HttpTransport

# Real-format: calendar dates under CPR's century rules, serials outside 9900-9999.
UNDASHED = "0101901234"  # 1 January 1990, 7th digit 1: 1900s
DASHED = "311285-4321"  # 31 December 1985, 7th digit 4 with YY > 36: 1900s
FORMS = (UNDASHED, UNDASHED[:6] + "-" + UNDASHED[6:], DASHED, DASHED.replace("-", ""))

BODIES: dict[str, tuple[str, bytes]] = {
    "json": (
        "application/fhir+json",
        b'{"resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2.208.176.1.2",'
        b' "value": "'
        + UNDASHED.encode()
        + b'"}], "text": {"div": "CPR '
        + DASHED.encode()
        + b'"}}',
    ),
    "xml": (
        "application/fhir+xml",
        b'<Patient xmlns="http://hl7.org/fhir"><identifier><system value="urn:oid:1.2.208.176.1.2"'
        b'/><value value="'
        + UNDASHED.encode()
        + b'"/></identifier><name><text value="'
        + DASHED.encode()
        + b'"/></name></Patient>',
    ),
    "cda": (
        "application/xml",
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id extension="'
        + UNDASHED.encode()
        + b'" root="1.2.208.176.1.2"/></patientRole></recordTarget>'
        b"<component><nonXMLBody><text>" + DASHED.encode() + b"</text></nonXMLBody></component>"
        b"</ClinicalDocument>",
    ),
    "oioxml": (
        "application/xml",
        b'<?xml version="1.0"?><Emessage xmlns="http://rep.oio.dk/sundcom.dk/medcom.dk/xml/'
        b'schemas/2007/02/01/"><Patient><CivilRegistrationNumber>'
        + UNDASHED.encode()
        + b"</CivilRegistrationNumber><PersonSurnameName>"
        + DASHED.encode()
        + b"</PersonSurnameName></Patient></Emessage>",
    ),
    "text": ("text/plain", b"Patient CPR-nr.: " + DASHED.encode() + b", alt. " + UNDASHED.encode()),
}

QUIET = {
    "uuid": b'{"id": "0101901234-4e2b-8d0e-0a1b2c3d4e5f",'
    b' "u": "123e4567-e89b-12d3-a456-426614174000"}',
    "timestamps": b'{"ts": "2026-12-02T14:57:17.123+01:00",'
    b' "epoch": 1701234567, "ms": 1701234567123}',
    "phones": b"tlf. +4512345678 / 0045 12 34 56 78 / 12345678",
    "sor-gln": b'<id root="1.2.208.176.1.1" extension="999991000016008"/><gln>5790000999996</gln>',
    "longer-runs": b"ref 10101901234 and 01019012345 and 010190-12345 and 12-010190-1234",
    "decimals": b"value 0.0101901234 and 0101901234.5",
    "not-a-date": b"3213901234 and 0013901234 and 010190-a234",
    "hex": b"etag a0101901234b",
}


def test_every_form_and_place_is_found() -> None:
    for kind, (_ct, body) in BODIES.items():
        hits = find_real_cprs(body)
        assert [h.masked for h in hits] == ["010190-xxxx", "311285-xxxx"] or [
            h.masked for h in hits
        ] == ["311285-xxxx", "010190-xxxx"], kind
        masked = mask_real_cprs(body)
        for form in FORMS:
            assert form.encode() not in masked, (kind, form)
        assert b"010190-xxxx" in masked and b"311285-xxxx" in masked
        for hit in hits:  # the offset points at the number in the original body
            assert body[hit.offset : hit.offset + 6].decode() == hit.masked[:6]


@pytest.mark.parametrize("name", sorted(QUIET))
def test_ids_timestamps_phones_and_synthetic_persons_are_quiet(name: str) -> None:
    assert find_real_cprs(QUIET[name]) == []
    assert mask_real_cprs(QUIET[name]) == QUIET[name]


def test_synthetic_persons_are_quiet() -> None:
    for person in load_persons().values():
        cpr = person["cpr"]
        body = f'{{"value": "{cpr}", "text": "{cpr[:6]}-{cpr[6:]}"}}'.encode()
        assert find_real_cprs(body) == [], cpr


def test_a_json_number_in_a_string_is_not_excused() -> None:
    body = b'{"n": 0, "text": "CPR 1701231234 i teksten"}'
    assert [h.masked for h in find_real_cprs(body)] == ["170123-xxxx"]


def test_century_rules_decide_the_date() -> None:
    assert find_real_cprs(b"290200-4321")  # 7th digit 4, YY 00: 2000, a leap year
    assert not find_real_cprs(b"290201-4321")  # 2001 is not a leap year
    assert not find_real_cprs(b"310490-1234")  # 31 April does not exist


_STEP = Step("s1", Text("et trin", "a step"), "", Text("", ""), None, (), Source("t.yaml", 1))


def _step_with(exchange: Exchange, outcome: Outcome = Outcome.PASS) -> StepResult:
    quote = Finding("OO-MENTIONS", Severity.F3, f"the SUT said: patient {DASHED} unknown")
    return StepResult(_STEP, outcome, [quote], [exchange], message="")


def test_guard_masks_the_received_body_and_records_the_hash() -> None:
    body = BODIES["json"][1]
    exchange = Exchange("POST", "http://127.0.0.1/x", {}, b"{}", 200, {}, body)
    exchange.evidence = {"S": "X_S_c.s1_A.json", "R": "X_R_c.s1_A.json"}
    sresult = _step_with(exchange)
    guard_step(sresult, "s1")
    assert exchange.response_body == body  # the judged original is left as it was
    exchange = sresult.exchanges[0]
    assert sresult.outcome is Outcome.FAIL
    real = [f for f in sresult.findings if f.rule_id == RULE]
    assert len(real) == 2 and {f.severity for f in real} == {Severity.F2}
    assert {f.location.evidence for f in real} == {"X_R_c.s1_A.json"}
    assert {f.location.language for f in real} == {"byte-offset"}
    digest = hashlib.sha256(body).hexdigest()
    assert exchange.masked == {"R": digest} and exchange.withheld == []
    assert b"010190-xxxx" in exchange.response_body
    text = json.dumps([f.to_dict() for f in sresult.findings]) + json.dumps(exchange.to_dict())
    for form in FORMS:
        assert form not in text
    assert digest in text
    assert RULE in RULES and RULES[RULE].da and RULES[RULE].en


def test_guard_masks_what_the_sut_sent_to_kcerts_peer_strictly() -> None:
    body = BODIES["oioxml"][1]
    exchange = Exchange("POST", "http://127.0.0.1/peer", {}, body, 200, {}, b"ack", inbound=True)
    sresult = _step_with(exchange, Outcome.SKIP)
    guard_step(sresult, "s1", strict=True)
    exchange = sresult.exchanges[0]
    assert sresult.outcome is Outcome.FAIL
    assert exchange.request_body == b"" and exchange.response_body == b"ack"
    assert exchange.withheld == ["R"]
    assert exchange.masked["R"] == hashlib.sha256(body).hexdigest()
    assert all("not stored" in f.message for f in sresult.findings if f.rule_id == RULE)


def test_a_replayed_masked_exchange_keeps_its_finding() -> None:
    exchange = Exchange("POST", "u", {}, b"", 200, {}, BODIES["cda"][1])
    sresult = StepResult(_STEP, Outcome.PASS, [], [exchange])
    guard_step(sresult, "s1", strict=True)
    replayed = replace(sresult.exchanges[0], evidence={"R": "X_R_c.s1_A.xml"})
    again = StepResult(_STEP, Outcome.PASS, [], [replayed])
    guard_step(again, "s1")
    assert again.outcome is Outcome.FAIL
    assert [f.rule_id for f in again.findings] == [RULE]
    assert "withheld" in again.findings[0].message
    assert again.findings[0].location.evidence == "X_R_c.s1_A.xml"


def test_headers_url_and_errors_the_sut_chose_are_masked() -> None:
    exchange = Exchange(
        "GET",
        f"http://127.0.0.1/peer/Patient?identifier={UNDASHED}",
        {"X-Patient": DASHED},
        b"",
        200,
        {},
        b"ok",
        error=f"peer refused {DASHED}",
        inbound=True,
    )
    sresult = StepResult(_STEP, Outcome.PASS, [], [exchange])
    guard_step(sresult, "s1")
    places = {f.location.path for f in sresult.findings if f.rule_id == RULE}
    assert places == {"url", "header X-Patient", "error"}
    text = json.dumps(sresult.exchanges[0].to_dict()) + repr(sresult.findings)
    assert not [form for form in FORMS if form in text]
    assert sresult.outcome is Outcome.FAIL


def test_a_quote_is_masked_even_without_a_body() -> None:
    sresult = _step_with(Exchange("POST", "u", {}, b"", 200, {}, b"{}"))
    guard_step(sresult, "s1")
    assert "311285-xxxx" in sresult.findings[0].message
    assert sresult.outcome is Outcome.PASS  # only a REAL-CPR from what was received fails it


def test_guard_leaves_a_clean_step_alone() -> None:
    exchange = Exchange("POST", "u", {}, b"", 200, {}, QUIET["timestamps"])
    sresult = StepResult(_STEP, Outcome.PASS, [], [exchange])
    guard_step(sresult, "s1")
    assert sresult.outcome is Outcome.PASS and sresult.findings == []
    assert exchange.masked == {} and "masked" not in exchange.to_dict()


def test_an_error_stays_an_error() -> None:
    exchange = Exchange("POST", "u", {}, b"", 200, {}, BODIES["text"][1])
    sresult = _step_with(exchange, Outcome.ERROR)
    guard_step(sresult, "s1")
    assert sresult.outcome is Outcome.ERROR


def test_many_numbers_give_bounded_findings() -> None:
    body = b" ".join(b"0101901%03d" % i for i in range(50))
    exchange = Exchange("POST", "u", {}, b"", 200, {}, body)
    sresult = StepResult(_STEP, Outcome.PASS, [], [exchange])
    guard_step(sresult, "s1")
    assert len(sresult.findings) == 11 and "40 more" in sresult.findings[-1].message
    assert b"0101901" not in sresult.exchanges[0].response_body


def test_console_text_is_masked() -> None:
    assert mask_text(f"svar: {UNDASHED} / {DASHED}") == "svar: 010190-xxxx / 311285-xxxx"
    assert mask_text("ingen cpr her ✓") == "ingen cpr her ✓"


# --- end to end: a loopback SUT stub echoing a real-format CPR --------------------------------


class Echo(StubHandler):
    kind = "json"

    def do_GET(self) -> None:
        self.send(200, "application/json", b'{"status": "ok", "system": "e", "version": "1"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.endswith("/reset"):
            self.send(200, "application/json", b'{"status": "reset"}')
            return
        ct, body = BODIES[type(self).kind]
        self.send(200, ct, body)


@pytest.fixture
def echo() -> Iterator[tuple[str, type[Echo]]]:
    handler = type("E", (Echo,), {})
    with serve(handler) as base:
        yield base, handler


def _config(base: str) -> SutConfig:
    return SutConfig(
        total_timeout=20.0,
        name="echo",
        vendor="x",
        version="1",
        endpoints={"fhir": f"{base}/fhir", "agent": f"{base}/kcert-agent/v1"},
        sor="999991000016008",
        gln="5790000999996",
        read_timeout=2.0,
        connect_timeout=1.0,
    )


def _number_anywhere(run_dir: Path, db: Path) -> list[str]:
    """Every place in the run folder or the store (raw file and SQL dump) holding a form."""
    forms = [f.encode() for f in FORMS]
    forms += [f.encode().hex().upper().encode() for f in FORMS]  # a BLOB in a SQL dump
    found: list[str] = []
    for path in [*sorted(run_dir.rglob("*")), db]:
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {f.decode()}" for f in forms if f in data]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        dump = "\n".join(conn.iterdump()).encode()
    found += [f"sql dump: {f.decode()}" for f in forms if f in dump]
    return found


@pytest.mark.parametrize("kind", sorted(BODIES))
@pytest.mark.parametrize("strict", [False, True], ids=["masked", "strict"])
def test_echoed_real_cpr_is_a_finding_and_appears_nowhere(
    echo: tuple[str, type[Echo]],
    protocols: list[Protocol],
    tmp_path: Path,
    kind: str,
    strict: bool,
) -> None:
    base, handler = echo
    handler.kind = kind
    one = [replace(protocols[0], cases=protocols[0].cases[:1])]
    db = tmp_path / "store.sqlite"
    store = RunStore(f"sqlite:///{db}")
    recorder = StoreRecorder(store, one, {}, [])
    config = _config(base)
    options = RunOptions(run_id=f"cpr-{kind}", test_type="endelig" if strict else "egentest")
    run = Runner(HttpTransport(config), config, listener=recorder).run(one, options)
    case = run.cases[0]
    real = [f for f in case.findings if f.rule_id == RULE]
    assert real, (case.error, [f.rule_id for f in case.findings])
    assert {f.severity for f in real} == {Severity.F2}
    assert case.outcome is Outcome.FAIL
    assert all(f.location.evidence for f in real)
    run_dir = write_report(run, tmp_path / "reports")
    store.engine.dispose()
    assert _number_anywhere(run_dir, db) == []
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    exchanges = [
        e
        for p in results["protocols"]
        for c in p["cases"]
        for s in c["steps"]
        for e in s["exchanges"]
        if e.get("masked")
    ]
    assert exchanges and all(len(e["masked"]["R"]) == 64 for e in exchanges)
    assert all(e["withheld"] == (["R"] if strict else []) for e in exchanges)
    record = (run_dir / "evidence" / "masked-originals.tsv").read_text(encoding="utf-8")
    how = "withheld" if strict else "masked"
    for e in exchanges:
        assert f"{e['evidence']['R']}\t{how}\t{e['masked']['R']}" in record
        if not strict:  # the masked file is what the mask makes of the original
            evidence = (run_dir / "evidence" / e["evidence"]["R"]).read_bytes()
            assert evidence == mask_real_cprs(BODIES[kind][1])
            assert e["masked"]["R"] == hashlib.sha256(BODIES[kind][1]).hexdigest()
    manifest = (run_dir / "manifest.sha256").read_text(encoding="utf-8")
    assert "evidence/masked-originals.tsv" in manifest
    # the store gives the masking back with the exchange (a rejudge or re-report keeps it)
    reopened = RunStore(f"sqlite:///{db}")
    stored = [
        e
        for c in reopened.cases(run.run_id)
        for e in rebuild_case(c, one[0]).steps[1].exchanges
        if e.masked
    ]
    reopened.engine.dispose()
    assert stored and all(e.withheld == (["R"] if strict else []) for e in stored)


@pytest.mark.parametrize("strict", [False, True], ids=["masked", "strict-cpr"])
def test_kcert_certify_console_folder_and_store_hold_no_real_cpr(
    echo: tuple[str, type[Echo]], tmp_path: Path, strict: bool
) -> None:
    base, handler = echo
    handler.kind = "text"
    config = tmp_path / "sut.yaml"
    config.write_text(
        f"""name: Echo LPS
vendor: Test
version: "1"
endpoints:
  fhir: {base}/fhir
  agent: {base}/kcert-agent/v1
identity: {{sor: "999991000016008", gln: "5790000999996"}}
timeouts: {{connect: 1, read: 2}}
""",
        encoding="utf-8",
    )
    db = tmp_path / "runs.sqlite"
    reports = tmp_path / "r"
    args = ["certify", "--sut-config", str(config), "--case", "CC-R-01", "--reports", str(reports)]
    args += ["--store", f"sqlite:///{db}", "--lang", "en"] + (["--strict-cpr"] if strict else [])
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={
            "COLUMNS": "200",
            "PATH": "/usr/bin:/bin",
            "PYTHONIOENCODING": "utf-8",
            "KCERT_PACKS": os.environ["KCERT_PACKS"],
        },
    )
    console = done.stdout + done.stderr
    assert done.returncode == 1, console
    assert "Traceback" not in console
    assert not [form for form in FORMS if form in console]
    run_dir = (reports / "latest").resolve()
    assert _number_anywhere(run_dir, db) == []
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    rules = {
        f["rule_id"]
        for p in results["protocols"]
        for c in p["cases"]
        for s in c["steps"]
        for f in s["findings"]
    }
    assert RULE in rules
    withheld = [
        e["withheld"]
        for p in results["protocols"]
        for c in p["cases"]
        for s in c["steps"]
        for e in s["exchanges"]
        if e.get("masked")
    ]
    assert withheld == ([["R"]] if strict else [[]])


def test_the_search_for_the_number_itself_works(tmp_path: Path) -> None:
    """The guard of the tests above: an unmasked number is found, as text and as a BLOB."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "e.txt").write_text(f"x {DASHED} y", encoding="utf-8")
    db = tmp_path / "s.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("create table t (b blob)")
        conn.execute("insert into t values (?)", (UNDASHED.encode(),))
        conn.commit()
    found = _number_anywhere(tmp_path / "run", db)
    assert any(DASHED in f for f in found) and any("sql dump" in f for f in found)


def test_a_testscript_run_masks_too_and_its_asserts_judge_the_original(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from harness.tests.test_testscript import check, op, script
    from harness.tests.test_testscript import run as run_scripts

    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": UNDASHED}],
    }

    async def read(request: Request) -> Response:
        return JSONResponse(patient, media_type="application/fhir+json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/kcert-agent/v1/health", health),
            Route("/fhir/Patient/p1", read, methods=["GET"]),
        ]
    )
    done = run_scripts(
        tmp_path,
        script(
            "cpr-echo",
            [
                op("read", resource="Patient", params="/p1"),
                check(expression="Patient.identifier.value", value=UNDASHED),
            ],
        ),
        app=app,
    )
    case = next(c for c in done.run.cases if c.case.id == "t1")
    operation, asserted = case.steps
    assert asserted.outcome is Outcome.PASS  # the assert saw the bytes the SUT sent
    assert operation.outcome is Outcome.FAIL
    assert [f.rule_id for f in operation.findings if f.is_problem] == [RULE]
    text = json.dumps([e.to_dict() for e in operation.exchanges])
    text += operation.exchanges[0].response_body.decode()
    text += repr([(s.message, s.findings) for s in case.steps])
    text += json.dumps(done.reports["cpr-echo.json"])  # the TestReport's messages and details
    assert not [form for form in FORMS if form in text]
    assert "010190-xxxx" in operation.exchanges[0].response_body.decode()
