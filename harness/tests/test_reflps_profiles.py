"""Every message and acknowledgement the reference LPS can produce passes MedCom's profiles with
0 errors, judged by the machinery `kcert validate` and the checks use (harness.checks.profiles)
in the validation context of the version under test. Needs the dev FHIR packs (the corpus's
MedCom packages and the R4 base package); skipped, saying why, without them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.checks import CheckContext, profiles
from harness.fhir.resource import to_xml
from harness.fixtures import REPO_ROOT, TemplateRenderer, load_peers, load_persons
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.outcome import Outcome, Severity, Verdict
from harness.reflps.app import create_app
from harness.reflps.identity import REFERENCE_CLINIC
from harness.tests.conftest import reference_answers

CC_502 = "medcom.fhir.dk.carecommunication#5.0.2"
CC_501 = "medcom.fhir.dk.carecommunication#5.0.1"
ACK = ("medcom.fhir.dk.acknowledgement", "2.0.3")
SUT = {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln, "name": REFERENCE_CLINIC.name}
OTHER_CLINIC = {"sor": "999971000016002", "gln": "5790000888883", "name": "Anden klinik"}

# Every answer the reference LPS's $process-message gives: (vars, format, expected code).
ACK_VARIANTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "new-message": ({}, "json", "ok"),
    "new-message as XML": ({}, "xml", "ok"),
    "reply-message": ({"activity": "reply-message"}, "json", "ok"),
    "forward-message": ({"activity": "forward-message"}, "json", "ok"),
    "no Patient": ({"include_patient": False}, "json", "fatal-error"),
    "no Patient, XML": ({"include_patient": False}, "xml", "fatal-error"),
    "unknown event": ({"event_code": "care-communication-msg"}, "json", "fatal-error"),
    "event not received": ({"event_code": "hospital-notification-message"}, "json", "fatal-error"),
    "another receiver": ({"receiver": OTHER_CLINIC}, "json", "fatal-error"),
    "unknown activity": ({"activity": "cancel-message"}, "json", "fatal-error"),
}
# HTTP-level refusals: an OperationOutcome, judged against the FHIR R4 base definitions.
REFUSALS: dict[str, tuple[bytes, str]] = {
    "not FHIR": (b"Dette er ikke FHIR <<<", "text/plain"),
    "not a message": (b'{"resourceType": "Patient", "id": "x"}', "application/fhir+json"),
    "unreadable JSON": (b'{"resourceType": ', "application/fhir+json"),
}


@pytest.fixture
def packs(dev_fhir_packs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # the validator is cached per store and pack set, so it is built once for all tests here
    monkeypatch.setenv("KCERT_PACKS", str(dev_fhir_packs))
    yield


@pytest.fixture(scope="module")
def lps() -> Iterator[TestClient]:
    with TestClient(create_app(())) as client:
        yield client


def _message(variables: dict[str, Any], seed: str) -> dict[str, Any]:
    renderer = TemplateRenderer()
    renderer.reseed(seed, dt.datetime(2027, 3, 1, 10, 0, tzinfo=dt.UTC))
    context = {
        "patient": load_persons()["kol-karen"],
        "peer": load_peers()["kommune"],
        "sut": SUT,
        "vars": variables,
    }
    return renderer.render("messages/carecommunication.json.j2", context).resource


def _post(lps: TestClient, body: bytes, content_type: str) -> Exchange:
    answer = lps.post(
        "/fhir/$process-message", content=body, headers={"Content-Type": content_type}
    )
    return Exchange(
        "POST",
        "http://127.0.0.1/fhir/$process-message",
        {"Content-Type": content_type},
        body,
        status=answer.status_code,
        response_headers=dict(answer.headers),
        response_body=answer.content,
        evidence={"R": "answer"},
    )


def _ctx(exchange: Exchange, standards: tuple[str, ...]) -> CheckContext:
    return CheckContext(
        step_id="1",
        exchange=exchange,
        severity=Severity.F2,
        sent=None,
        earlier={},
        sut_identity=SUT,
        peer_identity={},
        standards=standards,
        exchanges=[exchange],
    )


def _context_and_errors(found: list[Finding]) -> tuple[str, list[str]]:
    contexts = [f.message for f in found if f.rule_id == "FHIR-CONTEXT"]
    assert len(contexts) == 1, [f.message for f in found]
    return contexts[0], [f"{f.rule_id} {f.location.path}: {f.message}" for f in found if f.blocking]


@pytest.mark.parametrize("standards", [(CC_502,), (CC_501,), ()], ids=["5.0.2", "5.0.1", "none"])
@pytest.mark.parametrize("variant", sorted(ACK_VARIANTS))
def test_every_acknowledgement_passes_the_acknowledgement_profile(
    packs: None, lps: TestClient, variant: str, standards: tuple[str, ...]
) -> None:
    variables, fmt, code = ACK_VARIANTS[variant]
    message = _message(variables, variant)
    if fmt == "xml":
        body, content_type = to_xml(message), "application/fhir+xml"
    else:
        body, content_type = json.dumps(message).encode(), "application/fhir+json"
    exchange = _post(lps, body, content_type)
    assert exchange.status == 200, exchange.response_body[:300]
    assert fmt in exchange.response_content_type
    if fmt == "json":
        ack = json.loads(exchange.response_body)
        assert ack["entry"][0]["resource"]["response"]["code"] == code
    found = list(
        profiles.validate(
            _ctx(exchange, standards),
            exchange,
            exchange.response_body,
            exchange.response_content_type,
            "ack",
            profile=profiles.ACK_PROFILE,
            answer=True,
        )
    )
    context, errors = _context_and_errors(found)
    # CareCommunication 5.0.x allows Acknowledgement 2.0 (its MessageDefinition): 2.0.3
    assert context.startswith(f"ack: judged in the validation context {ACK[0]}#{ACK[1]}")
    assert errors == []


def test_a_duplicate_gets_the_same_valid_acknowledgement(packs: None, lps: TestClient) -> None:
    body = json.dumps(_message({}, "duplicate")).encode()
    first = _post(lps, body, "application/fhir+json")
    again = _post(lps, body, "application/fhir+json")
    assert first.response_body == again.response_body
    found = list(
        profiles.validate(
            _ctx(again, (CC_502,)),
            again,
            again.response_body,
            again.response_content_type,
            "ack",
            profile=profiles.ACK_PROFILE,
            answer=True,
        )
    )
    assert _context_and_errors(found)[1] == []


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_every_refusal_is_a_valid_operation_outcome(
    packs: None, lps: TestClient, refusal: str
) -> None:
    body, content_type = REFUSALS[refusal]
    exchange = _post(lps, body, content_type)
    assert 400 <= (exchange.status or 0) < 500
    found = list(
        profiles.validate(
            _ctx(exchange, (CC_502,)),
            exchange,
            exchange.response_body,
            exchange.response_content_type,
            "oo",
        )
    )
    context, errors = _context_and_errors(found)
    assert "FHIR R4 base (hl7.fhir.r4.core#4.0.1)" in context
    assert errors == []


def test_every_message_the_reference_lps_sends_and_answers_in_a_run_is_validated(
    packs: None,
) -> None:
    """The receive and send protocols against the reference LPS claiming CareCommunication
    5.0.2: Godkendt, and every FHIR body it sent to kcert's peer and every answer of its
    $process-message was profile-validated (a FHIR-CONTEXT note on its evidence) with 0
    errors."""
    from harness.loader.protocols import load_all
    from harness.runner.engine import Runner, RunOptions
    from harness.sut.reference import reference_config
    from harness.transport.inprocess import InProcessTransport

    files = [
        REPO_ROOT / "testcases" / "carecommunication-receive.yaml",
        REPO_ROOT / "testcases" / "carecommunication-send.yaml",
    ]
    protocols, errors = load_all(files)
    assert not errors
    config = dataclasses.replace(
        reference_config("http://reference.invalid", (), "inprocess"), standards=(CC_502,)
    )
    transport = InProcessTransport(config, create_app(()))
    try:
        answers = reference_answers(protocols)
        run = Runner(transport, config, answers=answers).run(
            protocols, RunOptions(run_id="profiles")
        )
    finally:
        transport.close()
    assert run.verdict is Verdict.GODKENDT, [
        (c.case.id, [f.message for f in c.findings if f.is_problem])
        for c in run.cases
        if c.outcome is not Outcome.PASS
    ]
    judged = {
        f.location.evidence for c in run.cases for f in c.findings if f.rule_id == "FHIR-CONTEXT"
    }
    produced = set()
    for case in run.cases:
        for step in case.steps:
            for exchange in step.exchanges:
                fhir = "fhir" in (
                    exchange.request_content_type
                    if exchange.inbound
                    else exchange.response_content_type
                )
                from_sut = exchange.inbound or exchange.url.endswith("$process-message")
                if fhir and from_sut:
                    produced.add(exchange.evidence.get("R", ""))
    assert produced, "the run produced no FHIR"
    assert produced <= judged, sorted(produced - judged)


@pytest.mark.parametrize("code", ["ok", "fatal-error"])
def test_kcerts_own_peer_acknowledgements_pass_the_acknowledgement_profile(
    packs: None, code: str
) -> None:
    """What kcert's receiving peer answers a SUT must itself be a valid MedCom acknowledgement:
    an LPS that validates it (as it should) must not refuse kcert's answer."""
    from harness.runner.peer_answers import fhir_ack

    message = _message({}, f"peer-{code}")
    peer = load_peers()["kommune"]
    body = fhir_ack(message, code, peer)
    exchange = Exchange(
        "POST",
        "http://127.0.0.1/fhir/$process-message",
        {"Content-Type": "application/fhir+json"},
        json.dumps(message).encode(),
        status=200,
        response_headers={"Content-Type": "application/fhir+json"},
        response_body=body,
        evidence={"R": "answer"},
    )
    found = list(
        profiles.validate(
            _ctx(exchange, (CC_502,)),
            exchange,
            body,
            "application/fhir+json",
            "kcert's acknowledgement",
            profile=profiles.ACK_PROFILE,
        )
    )
    context, errors = _context_and_errors(found)
    assert "medcom.fhir.dk.acknowledgement#2.0.3" in context
    assert errors == []
