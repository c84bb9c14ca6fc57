"""The send side: kcert's peer, its answers, and every send-side rule (fires / stays quiet)."""

from __future__ import annotations

import copy
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from harness.checks import CHECKS, CheckContext
from harness.cli.main import main
from harness.fixtures import REPO_ROOT, load_peers, load_persons
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.reflps.identity import REFERENCE_CLINIC
from harness.reflps.outgoing import Party, Patient, care_communication, referral
from harness.runner.peer_answers import ctl_receipt, fhir_ack, message_header
from harness.safeparse import parse_xml
from harness.standards.referral.gs1 import gs1_check_digit, valid_gln
from harness.transport.peer import PeerServer, Reply

PEER = load_peers()["kommune"]
PERSON = load_persons()["kol-karen"]
SUT = {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln}
TO = Party(PEER["name"], PEER["sor"], PEER["gln"])
PATIENT = Patient(PERSON["cpr"], PERSON["given"], PERSON["family"])
SEND_PROTOCOLS = [
    str(REPO_ROOT / "testcases" / "carecommunication-send.yaml"),
    str(REPO_ROOT / "testcases" / "referral-send.yaml"),
]


@pytest.fixture(autouse=True)
def no_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-in rules only, unless a test installs packs itself."""
    monkeypatch.setenv("KCERT_PACKS", str(tmp_path / "packs"))


def _inbound(body: bytes, ct: str = "application/fhir+json") -> Exchange:
    return Exchange(
        "POST",
        "http://127.0.0.1:1/fhir/$process-message",
        {"Content-Type": ct},
        body,
        status=200,
        inbound=True,
        evidence={"R": "CareCommunication_R_X.1_A.json"},
    )


def _ctx(
    inbound: list[Exchange],
    agent_body: Any = None,
    notes: dict[str, Any] | None = None,
    person: dict[str, str] | None = None,
) -> CheckContext:
    agent = Exchange(
        "POST",
        "http://sut/agent/outbox",
        {},
        b"",
        status=202,
        response_body=json.dumps(agent_body or {}).encode(),
    )
    return CheckContext(
        step_id="1",
        exchange=agent,
        severity=Severity.F2,
        sent=None,
        earlier={},
        sut_identity=SUT,
        peer_identity={"sor": PEER["sor"], "gln": PEER["gln"]},
        person=person if person is not None else PERSON,
        exchanges=[agent, *inbound],
        notes=notes or {},
    )


def _run(name: str, ctx: CheckContext, **params: Any) -> list[Finding]:
    return [f for f in CHECKS.get(name).func(ctx, **params) if f.is_problem]


def _rules(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def _cc(defects: frozenset[str] = frozenset()) -> tuple[str, dict[str, Any]]:
    header_id, body = care_communication(REFERENCE_CLINIC, TO, PATIENT, "tekst", defects)
    return header_id, json.loads(body)


def _dump(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


# -- GS1 ---------------------------------------------------------------------------------------


def test_gs1_check_digit() -> None:
    assert gs1_check_digit("579000099999") == 6
    assert valid_gln("5790000999996") and valid_gln(PEER["gln"])
    assert not valid_gln("5790000999997") and not valid_gln("579000099999") and not valid_gln("x")


# -- the CareCommunication the SUT sent ---------------------------------------------------------


def test_valid_carecommunication_is_quiet() -> None:
    _, bundle = _cc()
    assert _run("sent-carecommunication", _ctx([_inbound(_dump(bundle))])) == []
    assert _run("message-sent", _ctx([_inbound(_dump(bundle))]), count=1) == []
    assert _run("message-sent", _ctx([_inbound(_dump(bundle))])) == []


def _mutate(change: Any) -> set[str]:
    _, bundle = _cc()
    change(bundle)
    return _rules(_run("sent-carecommunication", _ctx([_inbound(_dump(bundle))])))


def _entry(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda b: _entry(b, "Organization").update(identifier=[]), "SEND-SENDER"),
        (
            lambda b: b["entry"][0]["resource"]["destination"][0].update(endpoint="x=1"),
            "SEND-DESTINATION",
        ),
        (
            lambda b: _entry(b, "Patient").update(identifier=[{"value": "0101019999"}]),
            "SEND-PATIENT",
        ),
        (
            lambda b: b["entry"][0]["resource"]["meta"].update(profile=["http://x/y"]),
            "SEND-PROFILE",
        ),
        (lambda b: _entry(b, "Communication").pop("topic"), "SEND-INVARIANT"),
        (
            lambda b: b.update(
                entry=[e for e in b["entry"] if e["resource"]["resourceType"] != "Practitioner"]
            ),
            "SEND-INVARIANT",
        ),
    ],
)
def test_carecommunication_rules_fire(change: Any, rule: str) -> None:
    assert rule in _mutate(change)


def test_unreadable_or_missing_message() -> None:
    assert _rules(_run("sent-carecommunication", _ctx([_inbound(b"<not json")]))) == {"SEND-PARSE"}
    assert _rules(
        _run("sent-carecommunication", _ctx([_inbound(b'{"resourceType": "Patient"}')]))
    ) == {"SEND-PARSE"}
    assert _rules(_run("message-sent", _ctx([]))) == {"SEND-NOTHING"}
    _, bundle = _cc()
    two = [_inbound(_dump(bundle)), _inbound(_dump(bundle))]
    assert _rules(_run("message-sent", _ctx(two), count=1)) == {"SEND-COUNT"}


def test_reference_defects_make_the_rules_fire() -> None:
    _, topicless = _cc(frozenset({"send-missing-topic"}))
    assert "SEND-INVARIANT" in _rules(
        _run("sent-carecommunication", _ctx([_inbound(_dump(topicless))]))
    )
    _, wrong = _cc(frozenset({"send-wrong-profile"}))
    assert "SEND-PROFILE" in _rules(_run("sent-carecommunication", _ctx([_inbound(_dump(wrong))])))


# -- resend and the outbox -----------------------------------------------------------------------


def test_resend_rules() -> None:
    header_id, bundle = _cc()
    notes = {"kind": "carecommunication", "message_id": header_id}
    same = _inbound(_dump(bundle))
    assert _run("resent", _ctx([same], notes=notes), expected=True) == []
    assert _rules(_run("resent", _ctx([], notes=notes), expected=True)) == {"SEND-NO-RESEND"}
    other = copy.deepcopy(bundle)
    other["entry"][0]["resource"]["id"] = "another"
    assert _rules(_run("resent", _ctx([_inbound(_dump(other))], notes=notes), expected=True)) == {
        "SEND-RESEND-ID"
    }
    assert _run("resent", _ctx([], notes=notes), expected=False) == []
    assert _rules(_run("resent", _ctx([same], notes=notes), expected=False)) == {"SEND-RESENT"}


def _outbox(status: str, shown: bool) -> dict[str, Any]:
    return {"messages": [{"messageId": "m", "status": status, "shownToUser": shown}]}


def test_outbox_rules() -> None:
    ok = _ctx([], _outbox("acknowledged", False))
    assert _run("outbox-status", ok, status="acknowledged", shown_to_user=False) == []
    assert _rules(_run("outbox-status", ok, status="failed")) == {"SEND-STATUS"}
    assert _rules(_run("outbox-status", ok, status="acknowledged", shown_to_user=True)) == {
        "SEND-NOT-SHOWN"
    }
    shown = _ctx([], _outbox("acknowledged", True))
    assert _rules(_run("outbox-status", shown, status="acknowledged", shown_to_user=False)) == {
        "SEND-SHOWN"
    }
    assert _rules(_run("outbox-status", _ctx([], {"nope": 1}), status="failed")) == {"AGENT-FORMAT"}


# -- the referral ---------------------------------------------------------------------------------


def _referral(package: str = "kol", defects: frozenset[str] = frozenset()) -> bytes:
    return referral(REFERENCE_CLINIC, TO, PATIENT, package, defects)[1]


def _ref_rules(body: bytes, diagnosis: str = "DJ44") -> set[str]:
    ctx = _ctx([_inbound(body, "application/xml")])
    return _rules(_run("sent-referral", ctx, diagnosis=diagnosis))


def test_valid_referral_is_quiet() -> None:
    assert _ref_rules(_referral()) == set()
    assert _ref_rules(_referral("lrs"), "DM54") == set()


@pytest.mark.parametrize(
    ("old", "new", "rules"),
    [
        (PERSON["cpr"], "0101019999", {"REF-PATIENT"}),
        ("<EANIdentifier>5790000999996", "<EANIdentifier>5790000999990", {"REF-SENDER"}),
        (
            f"<EANIdentifier>{PEER['gln']}",
            "<EANIdentifier>5790000999980",
            {"REF-RECEIVER", "REF-GLN-CHECK"},
        ),
        ("Henvises til KOL-rehabilitering i kommunen efter forløbsplan.", "", {"REF-REASON"}),
        ("<DiagnoseCode>DJ449", "<DiagnoseCode>DM545", {"REF-DIAGNOSIS"}),
    ],
)
def test_referral_rules_fire(old: str, new: str, rules: set[str]) -> None:
    body = _referral().decode()
    assert old in body
    assert rules <= _ref_rules(body.replace(old, new, 1).encode())


def test_bad_gln_defect_is_caught_and_hostile_xml_is_a_finding() -> None:
    assert {"REF-SENDER", "REF-GLN-CHECK"} <= _ref_rules(
        _referral(defects=frozenset({"referral-bad-gln"}))
    )
    secret = Path(__file__)
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>'
        "<Emessage>&s;</Emessage>"
    ).encode()
    ctx = _ctx([_inbound(xxe, "application/xml")])
    found = _run("sent-referral", ctx, diagnosis="DJ44")
    assert _rules(found) == {"REF-PARSE"}
    assert "def test_" not in " ".join(f.message for f in found)


def test_referral_and_receipts_against_the_oioxml_schema(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.packs.store import PackStore
    from harness.validators.oioxml import OioxmlSchemas

    store = PackStore(tmp_path / "packs")
    pack = store.install(corpus / "oioxml" / "schemas", "medcom-oioxml", "corpus", "oioxml-schema")
    schemas = OioxmlSchemas(pack)
    letter = _referral()
    assert list(schemas.iter_findings(parse_xml(letter), "ref.xml")) == []
    for positive in (True, False):
        receipt = ctl_receipt(letter, positive, PEER)
        assert list(schemas.iter_findings(parse_xml(receipt), "ctl.xml")) == [], positive
    assert _ref_rules(letter) == set()  # with the pack installed: schema checked, nothing found


# -- kcert's peer and its answers -----------------------------------------------------------------


@pytest.fixture
def peer() -> Iterator[PeerServer]:
    server = PeerServer()
    yield server
    server.close()


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_peer_records_inbound_requests_and_answers(peer: PeerServer) -> None:
    assert peer.base_url.startswith("http://127.0.0.1:")
    status, _ = _post(peer.base_url + "/fhir", b"{}")
    assert status == 503  # nobody is waiting: a clear refusal
    mark = peer.expect(lambda m, p, h, b: Reply(200, "text/plain", b"ok " + b))
    status, body = _post(peer.base_url + "/x", b"hello")
    assert (status, body) == (200, b"ok hello")
    got = peer.wait(mark, 1, 5)
    assert len(got) == 1 and got[0].inbound and got[0].request_body == b"hello"
    assert got[0].response_body == b"ok hello"


def test_peer_wait_is_bounded_and_faults_are_answered(peer: PeerServer) -> None:
    mark = peer.expect(lambda m, p, h, b: 1 / 0)  # type: ignore[arg-type,return-value]
    assert peer.wait(mark, 1, 0.2) == []
    status, body = _post(peer.base_url + "/x", b"x")
    assert status == 500 and b"kcert peer fault" in body
    late = threading.Thread(target=_post, args=(peer.base_url + "/y", b"y"))
    mark = len(peer.received)
    late.start()
    assert len(peer.wait(mark, 1, 5)) == 1
    late.join()


def test_kcert_acknowledgement_answers_the_original() -> None:
    header_id, bundle = _cc()
    for code in ("ok", "fatal-error"):
        ack = json.loads(fhir_ack(bundle, code, PEER))
        header = message_header(ack)
        assert header["response"]["identifier"] == header_id
        assert header["response"]["code"] == code
        assert header["destination"][0]["endpoint"].endswith(REFERENCE_CLINIC.sor)
        assert ("details" in header["response"]) is (code != "ok")


def test_ctl_receipt_names_the_original_letter() -> None:
    letter = _referral()
    root = etree.fromstring(ctl_receipt(letter, False, PEER))
    ns = {"m": "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"}
    original = root.findtext(".//m:OriginalLetterIdentifier", namespaces=ns)
    assert original and original in letter.decode()
    assert root.find("m:NegativeReceipt", ns) is not None
    assert root.findtext(".//m:RefuseCode", namespaces=ns) == "ikke_specificeret"


# -- whole protocols: clean passes, re-judging keeps the verdict -----------------------------------


def test_send_protocols_pass_and_rejudge_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "r"
    args = ["certify", "--sut", "reference", "--transport", "inprocess", "--reports", str(reports)]
    for p in SEND_PROTOCOLS:
        args += ["--protocols", p]
    assert main(args) == 0
    first = json.loads((reports / "latest" / "results.json").read_text())
    assert main(["rejudge", "latest", "--reports", str(reports)]) == 0
    again = json.loads((reports / "latest" / "results.json").read_text())
    out = capsys.readouterr().out
    assert f"samme resultat som {first['run_id']}" in out
    # a visible gap, never a silent pass
    assert "ikke kørt: valideringspakke mangler (oioxml-schema)" in out

    def sig(d: dict[str, Any]) -> list[tuple[str, str]]:
        return [(c["id"], c["outcome"]) for p in d["protocols"] for c in p["cases"]]

    assert sig(again) == sig(first) and len(sig(first)) == 6
    evidence = sorted(p.name for p in (reports / "latest" / "evidence").iterdir())
    assert "CareCommunication_R_CC-S-01.1_B.json" in evidence  # what the SUT sent kcert


def test_reference_lps_sends_only_to_loopback_and_refuses_odd_requests() -> None:
    from starlette.testclient import TestClient

    from harness.reflps.app import create_app

    client = TestClient(create_app())
    body: dict[str, Any] = {
        "kind": "carecommunication",
        "patient": {"cpr": PERSON["cpr"], "given": "K", "family": "T"},
        "receiver": {
            "endpoint": "http://example.com/x",
            "sor": PEER["sor"],
            "gln": PEER["gln"],
            "name": "K",
        },
    }
    refused = client.post("/kcert-agent/v1/outbox/send", json=body)
    assert refused.status_code == 400 and "loopback" in refused.json()["detail"]
    body["receiver"]["endpoint"] = "http://127.0.0.1:1/x"  # nobody listens: stays unacknowledged
    sent = client.post("/kcert-agent/v1/outbox/send", json=body).json()["messages"][0]
    assert sent["status"] == "awaiting-ack" and "not delivered" in sent["problem"]
    fax = {**body, "kind": "fax"}
    assert client.post("/kcert-agent/v1/outbox/send", json=fax).status_code == 400
    listed = client.get("/kcert-agent/v1/outbox", params={"messageId": sent["messageId"]}).json()
    assert listed["total"] == 1
    assert client.post("/kcert-agent/v1/reset").status_code == 200
    assert client.get("/kcert-agent/v1/outbox").json()["total"] == 0


def test_a_built_in_invariant_kcert_cannot_evaluate_is_its_own_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.fhir.fhirpath import FhirPathError
    from harness.standards.carecommunication import checks

    def broken(resource: Any, expression: str) -> list[Any]:
        raise FhirPathError("engine broke")

    monkeypatch.setattr(checks, "evaluate", broken)
    _, bundle = _cc()
    found = list(CHECKS.get("sent-carecommunication").func(_ctx([_inbound(_dump(bundle))])))
    notes = [f for f in found if f.rule_id == "KCERT-FHIRPATH"]
    assert notes and all(f.severity is Severity.OK for f in notes)


def test_the_standard_version_the_sut_claims_is_the_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, r4_core: Path, corpus: Path
) -> None:
    """What the SUT sends is judged in the package version it claims, the reference LPS's
    message passes MedCom's profiles there, and a claimed version that is not installed is a
    named gap, never another version."""
    from harness.checks import profiles
    from harness.packs.store import PackStore

    store = PackStore(tmp_path / "packs")
    for package in sorted((corpus / "fhir" / "packages").glob("*.tgz")):
        store.install(package)
    store.install(r4_core)
    monkeypatch.setenv("KCERT_PACKS", str(store.root))
    profiles.clear_cache()
    _, bundle = _cc()
    claimed = _ctx([_inbound(_dump(bundle))])
    claimed.standards = ("medcom.fhir.dk.carecommunication#5.0.1",)
    found = list(CHECKS.get("sent-carecommunication").func(claimed))
    assert not [f for f in found if f.blocking], [f.message for f in found if f.blocking]
    notes = [f.message for f in found if f.rule_id == "FHIR-CONTEXT"]
    assert notes and "medcom.fhir.dk.carecommunication#5.0.1" in notes[0]
    assert "5.0.2" not in notes[0].split(" with ")[0]
    absent = _ctx([_inbound(_dump(bundle))])
    absent.standards = ("medcom.fhir.dk.carecommunication#4.9.9",)
    gaps = [
        f for f in CHECKS.get("sent-carecommunication").func(absent) if f.rule_id == "PACK-MISSING"
    ]
    assert any("4.9.9, the version the SUT claims" in f.message for f in gaps), gaps
    profiles.clear_cache()


def test_the_report_names_the_validation_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, r4_core: Path, corpus: Path
) -> None:
    """A send-side run with the packs installed: the HTML report (and results.json) name the
    context each sent message was judged in, and the clean reference LPS still passes."""
    from harness.checks import profiles
    from harness.loader.protocols import load_all
    from harness.model.outcome import Verdict
    from harness.packs.store import PackStore
    from harness.reflps.app import create_app
    from harness.report.html import render_html
    from harness.runner.engine import Runner, RunOptions
    from harness.sut.reference import reference_config
    from harness.transport.inprocess import InProcessTransport

    store = PackStore(tmp_path / "packs")
    for package in sorted((corpus / "fhir" / "packages").glob("*.tgz")):
        store.install(package)
    store.install(r4_core)
    monkeypatch.setenv("KCERT_PACKS", str(store.root))
    profiles.clear_cache()
    protocols, errors = load_all([Path(SEND_PROTOCOLS[0])])
    assert not errors
    config = reference_config("http://reference.invalid", (), "inprocess")
    transport = InProcessTransport(config, create_app(()))
    try:
        run = Runner(transport, config).run(protocols, RunOptions(run_id="context"))
    finally:
        transport.close()
        profiles.clear_cache()
    assert run.verdict is Verdict.GODKENDT
    html = render_html(run, "en")
    assert "FHIR validation context" in html
    assert "medcom.fhir.dk.carecommunication#5.0.2 with hl7.fhir.r4.core#4.0.1" in html
