"""Live validation of recorded exchanges: each body judged by the validators of its kind, the
findings stored on the exchange (validated=True); what did not run is a finding saying so;
a full validation queue skips with a finding that says why. Real proxy, real store."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.connectathon.model import RecordedExchange
from harness.connectathon.proxy import EndpointSpec, ProxyLimits, RecordingProxy
from harness.connectathon.proxy.validation import LiveValidator, Originals, kind_of
from harness.connectathon.store import ConnectathonStore
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.reflps.identity import REFERENCE_CLINIC
from harness.tests import connectathon_proxy_kit as kit
from harness.tests.connectathon_proxy_kit import (
    WAIT,
    RawTarget,
    exchange_raw,
    port_of,
    raw_target,
    response,
)

LPS = "vendor-a-lps"
ENDPOINT = f"{LPS}:lps"
BLOCKING = {"F1", "F2", "F3"}
SUT = {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln, "name": REFERENCE_CLINIC.name}


store, session = kit.store, kit.session  # the shared fixtures (a SQLite store, a session)


def care_communication() -> dict[str, Any]:
    """A CareCommunication message as kcert sends it (synthetic person, fixed seed)."""
    renderer = TemplateRenderer()
    renderer.reseed("proxy-validation", dt.datetime(2027, 3, 1, 10, 0, tzinfo=dt.UTC))
    context = {
        "patient": load_persons()["kol-karen"],
        "peer": load_peers()["kommune"],
        "sut": SUT,
        "vars": {},
    }
    resource: dict[str, Any] = renderer.render(
        "messages/carecommunication.json.j2", context
    ).resource
    return resource


def broken(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its MessageHeader's required event and source removed."""
    copy = json.loads(json.dumps(message))
    header = copy["entry"][0]["resource"]
    del header["eventCoding"]
    del header["source"]
    return copy


def _send(
    store: ConnectathonStore,
    session: str,
    bodies: list[tuple[bytes, str]],
    *,
    limits: ProxyLimits | None = None,
    validate: bool = True,
) -> list[RecordedExchange]:
    with raw_target(RawTarget(answer=lambda _: response(200, b""))) as target:
        spec = EndpointSpec(LPS, "lps", target.url)
        with RecordingProxy(
            store, session, [spec], limits=limits or ProxyLimits(), validate=validate
        ) as proxy:
            port = port_of(proxy.url_for(ENDPOINT))
            for body, content_type in bodies:
                exchange_raw(port, _post(body, content_type))
            assert proxy.settle(60)
    return store.exchanges(session)


def _post(body: bytes, content_type: str) -> bytes:
    return (
        b"POST /fhir/$process-message HTTP/1.1\r\nHost: h\r\nContent-Type: "
        + content_type.encode()
        + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )


def _judged(exchange: RecordedExchange) -> list[dict[str, Any]]:
    """The findings of validation (not the match's note: these exchanges match no instance)."""
    return [f for f in exchange.findings if f["rule"] != "PROXY-UNMATCHED"]


def _rules(exchange: RecordedExchange) -> set[str]:
    return {f["rule"] for f in _judged(exchange)}


def _blocking(exchange: RecordedExchange) -> list[dict[str, Any]]:
    return [f for f in exchange.findings if f["severity"] in BLOCKING]


def test_without_packs_what_did_not_run_is_said(store: ConnectathonStore, session: str) -> None:
    body = json.dumps(care_communication()).encode()
    (recorded,) = _send(store, session, [(body, "application/fhir+json")])
    assert recorded.validated and recorded.kind == "fhir-message"
    notes = [f["message"] for f in recorded.findings if f["rule"] == "PACK-MISSING"]
    assert notes == ["request: not run: pack missing (FHIR packages): base and profile checks"]
    assert all(set(f) == {"rule", "severity", "message", "location"} for f in recorded.findings)
    # the answer had no body: nothing to judge, and nothing claimed about it
    assert all(f["location"].startswith("request") for f in _judged(recorded))


def test_bodies_that_are_no_document_say_so(store: ConnectathonStore, session: str) -> None:
    recorded = _send(
        store,
        session,
        [
            (b"hej", "text/plain"),
            (b'{"a": 1}', "application/json"),
            (b"<!DOCTYPE x><x/>", "text/xml"),
        ],
    )
    plain, json_other, unsafe = recorded
    assert (
        plain.validated and "not FHIR, CDA or OIOXML (text/plain)" in _judged(plain)[0]["message"]
    )
    assert json_other.validated and json_other.kind == ""
    assert _rules(unsafe) == {"PROXY-PAYLOAD"} and _blocking(unsafe)


def test_a_cda_document_without_its_schema_pack(store: ConnectathonStore, session: str) -> None:
    cda = b'<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="1.2.3"/></ClinicalDocument>'
    (recorded,) = _send(store, session, [(cda, "application/xml")])
    assert recorded.kind == "cda" and recorded.validated
    messages = " ".join(f["message"] for f in recorded.findings)
    assert "XML Schema: pack missing (cda-schema)" in messages
    assert "CDA-PROFILE" in _rules(recorded)  # kcert's own rules still ran


@pytest.fixture
def fhir_packs(dev_fhir_packs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCERT_PACKS", str(dev_fhir_packs))


@pytest.mark.slow
@pytest.mark.usefixtures("fhir_packs")
def test_fhir_messages_judged_with_the_packs(store: ConnectathonStore, session: str) -> None:
    message = care_communication()
    good, bad = _send(
        store,
        session,
        [
            (json.dumps(message).encode(), "application/fhir+json"),
            (json.dumps(broken(message)).encode(), "application/fhir+json"),
        ],
    )
    assert good.validated and bad.validated
    assert good.kind == bad.kind == "fhir-message"
    assert not _blocking(good), _blocking(good)
    assert "PROXY-PACKS" in _rules(good)  # which packs judged it, said
    problems = _blocking(bad)
    assert problems, bad.findings
    events = [
        f for f in problems if f["message"].startswith("MessageHeader.event[x]: expected 1..1")
    ]
    assert events and events[0]["location"] == "request: Bundle.entry[0].resource.event"


def test_a_full_validation_queue_skips_and_says_why(
    store: ConnectathonStore, session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    judge = LiveValidator.judge

    def held(self: LiveValidator, exchange: RecordedExchange, originals: Originals) -> Any:
        entered.set()
        release.wait(WAIT)
        return judge(self, exchange, originals)

    monkeypatch.setattr(LiveValidator, "judge", held)
    limits = ProxyLimits(validation_queue=1)
    with raw_target() as target:
        spec = EndpointSpec(LPS, "lps", target.url)
        with RecordingProxy(store, session, [spec], limits=limits) as proxy:
            port = port_of(proxy.url_for(ENDPOINT))
            body = b'{"resourceType": "Patient"}'
            exchange_raw(port, _post(body, "application/fhir+json"))
            assert entered.wait(WAIT)  # the worker holds the first
            for expected in (2, 3):  # the second waits in the queue, the third finds it full
                exchange_raw(port, _post(body, "application/fhir+json"))
                _wait_for(store, session, expected)
            release.set()
            assert proxy.settle(WAIT)
            assert proxy.stats.validation_skipped == 1
    first, second, third = store.exchanges(session)
    assert first.validated and second.validated
    assert not third.validated
    skipped = [f["message"] for f in _judged(third)]
    assert skipped == [
        "validation skipped: the validation queue is full (1 exchanges waiting, "
        "ProxyLimits.validation_queue)"
    ]


def test_validation_off_is_said(store: ConnectathonStore, session: str) -> None:
    (recorded,) = _send(store, session, [(b"{}", "application/json")], validate=False)
    assert not recorded.validated
    assert [f["message"] for f in _judged(recorded)] == [
        "validation skipped: live validation is off for this proxy"
    ]


def test_kind_detection() -> None:
    assert kind_of(b'{"resourceType": "Bundle", "type": "message"}', "") == "fhir-message"
    assert kind_of(b'{"resourceType": "OperationOutcome"}', "application/fhir+json") == "fhir"
    xml_message = b'<Bundle xmlns="http://hl7.org/fhir"><type value="message"/></Bundle>'
    assert kind_of(xml_message, "application/fhir+xml") == "fhir-message"
    assert kind_of(b'<Patient xmlns="http://hl7.org/fhir"/>', "") == "fhir"
    assert kind_of(b'<ClinicalDocument xmlns="urn:hl7-org:v3"/>', "") == "cda"
    assert kind_of(b'<Invoice xmlns="urn:oioubl"/>', "") == "oioxml"
    assert kind_of(b"plain", "text/plain") == ""


def test_a_gzip_body_is_judged_decoded() -> None:
    import gzip

    validator = LiveValidator(1024 * 1024)
    body = gzip.compress(b'{"resourceType": "Bundle", "type": "message"}')
    exchange = RecordedExchange(
        "x-1", "s", ENDPOINT, "", LPS, "POST", "/", {}, body, 200, {}, b"", "", 0.0
    )
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/fhir+json"}
    judged = validator.judge(exchange, Originals(body, headers, False, b"", {}, False))
    assert judged.kind == "fhir-message"


def _judged_at(path: str, request: bytes, response: bytes) -> RecordedExchange:
    validator = LiveValidator(1024 * 1024)
    exchange = RecordedExchange(
        "x-2", "s", ENDPOINT, "", LPS, "POST", path, {}, request, 200, {}, response, "", 0.0
    )
    json_type = {"Content-Type": "application/fhir+json"}
    return validator.judge(
        exchange, Originals(request, json_type, False, response, json_type, False)
    )


def test_kcerts_own_test_agent_calls_are_not_judged_as_the_suts_payload() -> None:
    # kcert's population upload carries kcert's own extensions: not the SUT's to answer for
    population = json.dumps({"resourceType": "Bundle", "type": "collection"}).encode()
    answer = json.dumps({"resourceType": "Bundle", "type": "message"}).encode()
    judged = _judged_at("/lps/kcert-agent/v1/population?x=1", population, answer)
    notes = [f for f in judged.findings if f["location"] == "request"]
    assert [f["rule"] for f in notes] == ["PROXY-NOT-VALIDATED"]
    assert "test-agent API" in notes[0]["message"] and notes[0]["severity"] == "OK"
    assert judged.kind == "fhir-message"  # the SUT's answer is still detected and judged


def test_a_fhir_request_outside_the_test_agent_is_judged() -> None:
    message = json.dumps({"resourceType": "Bundle", "type": "message"}).encode()
    judged = _judged_at("/fhir/$process-message", message, b"")
    assert judged.kind == "fhir-message"
    assert not any("test-agent API" in f["message"] for f in judged.findings)


def _wait_for(store: ConnectathonStore, session: str, count: int) -> None:
    """Until `count` exchanges are stored (the one recorder thread offers each to validation
    before it takes the next capture, so the order of offers is the order sent)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if len(store.exchanges(session)) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} exchanges not stored within {WAIT} s")


def test_a_validator_failure_is_said_on_the_exchange(
    store: ConnectathonStore, session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_judge(self: LiveValidator, exchange: RecordedExchange, originals: Originals) -> Any:
        raise RuntimeError("index corrupt")

    monkeypatch.setattr(LiveValidator, "judge", broken_judge)
    first, second = _send(store, session, [(b"{}", "application/json")] * 2)
    for recorded in (first, second):  # the worker went on after the first
        assert [(f["rule"], f["message"]) for f in _judged(recorded)] == [
            ("PROXY-VALIDATOR", "validation not run: kcert's validator failed: index corrupt")
        ]


def test_the_proxys_rules_are_in_the_catalogue() -> None:
    from harness.checks.rules import owner_of, rule_title
    from harness.connectathon.proxy.rules import PROXY_RULES

    for rule_id in PROXY_RULES:
        assert owner_of(rule_id) == "connectathon-proxy"
        assert rule_title(rule_id, "da") and rule_title(rule_id, "en")
    assert rule_title("PROXY-UNMATCHED", "en") == "The exchange fits no single test instance"
