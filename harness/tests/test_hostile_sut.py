"""A hostile or broken SUT never crashes, hangs or fools kcert: findings, or an error verdict."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.runner.engine import Runner, RunOptions
from harness.sut.config import SutConfig
from harness.transport.http import HttpTransport

XXE = (
    b"<?xml version='1.0'?>\n<!DOCTYPE b [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
    b"<Bundle xmlns='http://hl7.org/fhir'><id value='&x;'/></Bundle>"
)
LAUGHS = (
    b"<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>"
    b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><l>&b;</l>"
)

BEHAVIOUR: dict[str, tuple[int, str, bytes, float]] = {
    "xxe": (200, "application/fhir+xml", XXE, 0),
    "laughs": (200, "application/fhir+xml", LAUGHS, 0),
    "huge": (
        200,
        "application/fhir+json",
        b'{"resourceType": "Bundle", "x": "' + b"a" * 300_000 + b'"}',
        0,
    ),
    "deep": (200, "application/fhir+json", b"[" * 50_000 + b"]" * 50_000, 0),
    "garbage": (200, "application/fhir+json", bytes(range(256)) * 10, 0),
    "html500": (500, "text/html", b"<html><body>Internal error</body></html>", 0),
    "slow": (200, "application/fhir+json", b"{}", 3.0),
}


class Hostile(BaseHTTPRequestHandler):
    mode = "xxe"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, ct: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ct)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(200, "application/json", b'{"status": "ok", "system": "h", "version": "1"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path.endswith("/reset"):
            self._send(200, "application/json", b'{"status": "reset"}')
            return
        status, ct, body, delay = BEHAVIOUR[type(self).mode]
        time.sleep(delay)
        self._send(status, ct, body)


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[Hostile]]]:
    handler = type("H", (Hostile,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _config(base: str) -> SutConfig:
    return SutConfig(
        name="hostile",
        vendor="x",
        version="1",
        endpoints={"fhir": f"{base}/fhir", "agent": f"{base}/kcert-agent/v1"},
        sor="999991000016008",
        gln="5790000999996",
        read_timeout=1.0,
        connect_timeout=1.0,
        max_response_bytes=64 * 1024,
    )


def _first_case(protocols: list[Protocol]) -> list[Protocol]:
    from dataclasses import replace

    return [replace(protocols[0], cases=protocols[0].cases[:1])]


@pytest.mark.parametrize(
    ("mode", "rule"),
    [
        ("xxe", "FHIR-PARSE"),
        ("laughs", "FHIR-PARSE"),
        ("huge", "FHIR-PARSE"),
        ("deep", "FHIR-PARSE"),
        ("garbage", "FHIR-PARSE"),
        ("html500", "ACK-HTTP"),
    ],
)
def test_hostile_answer_is_a_finding(
    hostile: tuple[str, type[Hostile]], protocols: list[Protocol], mode: str, rule: str
) -> None:
    base, handler = hostile
    handler.mode = mode
    transport = HttpTransport(_config(base))
    started = time.monotonic()
    run = Runner(transport, _config(base)).run(_first_case(protocols), RunOptions())
    assert time.monotonic() - started < 20
    case = run.cases[0]
    assert case.outcome is Outcome.FAIL, case.error
    assert rule in {f.rule_id for f in case.findings}
    assert run.verdict is Verdict.IKKE_GODKENDT


def test_huge_answer_is_cut_and_said(
    hostile: tuple[str, type[Hostile]], protocols: list[Protocol]
) -> None:
    base, handler = hostile
    handler.mode = "huge"
    run = Runner(HttpTransport(_config(base)), _config(base)).run(
        _first_case(protocols), RunOptions()
    )
    rules = {f.rule_id for f in run.cases[0].findings}
    assert "HTTP-TOO-LARGE" in rules
    exchange = run.cases[0].steps[1].exchanges[0]
    assert exchange.truncated and len(exchange.response_body) == 64 * 1024


def test_silent_sut_is_an_error_not_a_fail(
    hostile: tuple[str, type[Hostile]], protocols: list[Protocol]
) -> None:
    base, handler = hostile
    handler.mode = "slow"
    run = Runner(HttpTransport(_config(base)), _config(base)).run(
        _first_case(protocols), RunOptions()
    )
    case = run.cases[0]
    assert case.outcome is Outcome.ERROR
    assert "did not answer within 1.0 s" in case.error
    assert run.verdict is Verdict.FEJL
