"""A hostile or broken SUT never crashes, hangs or fools kcert: findings, or an error verdict."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.runner.engine import Runner, RunOptions
from harness.sut.config import SutConfig
from harness.tests.stubsut import StubHandler, serve
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
    "deep": (200, "application/fhir+json", b"[" * 30_000 + b"]" * 30_000, 0),
    "garbage": (200, "application/fhir+json", bytes(range(256)) * 10, 0),
    "html500": (500, "text/html", b"<html><body>Internal error</body></html>", 0),
    "slow": (200, "application/fhir+json", b"{}", 3.0),
}


class Hostile(StubHandler):
    mode = "xxe"

    def do_GET(self) -> None:
        self.send(200, "application/json", b'{"status": "ok", "system": "h", "version": "1"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path.endswith("/reset"):
            self.send(200, "application/json", b'{"status": "reset"}')
            return
        if type(self).mode == "trickle":
            self._trickle()
            return
        status, ct, body, delay = BEHAVIOUR[type(self).mode]
        time.sleep(delay)
        self.send(status, ct, body)

    def _trickle(self) -> None:
        """One byte every 0.2 s: every read is quick, the whole answer never ends."""
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(50):  # bounded: 10 s at most
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[Hostile]]]:
    handler = type("H", (Hostile,), {})
    with serve(handler) as base:
        yield base, handler


def _config(base: str, total: float = 30.0) -> SutConfig:
    return SutConfig(
        total_timeout=total,
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
        ("huge", "HTTP-TOO-LARGE"),
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
    assert "did not answer within 1 s" in case.error
    assert run.verdict is Verdict.FEJL


def test_trickling_sut_is_cut_off_at_the_total_limit(
    hostile: tuple[str, type[Hostile]], protocols: list[Protocol]
) -> None:
    base, handler = hostile
    handler.mode = "trickle"
    config = _config(base, total=1.5)
    started = time.monotonic()
    run = Runner(HttpTransport(config), config).run(_first_case(protocols), RunOptions())
    assert time.monotonic() - started < 8  # hang guard: the trickle alone would take 10 s
    assert run.cases[0].outcome is Outcome.ERROR
    assert "did not finish its answer within 1.5 s" in run.cases[0].error


def test_one_slow_answer_does_not_error_the_next_cases(
    hostile: tuple[str, type[Hostile]], protocols: list[Protocol]
) -> None:
    from dataclasses import replace

    base, handler = hostile
    handler.mode = "slow"
    config = _config(base)
    runner = Runner(HttpTransport(config), config)
    two = [replace(protocols[0], cases=protocols[0].cases[:2])]
    first = runner.run_case(two[0], two[0].cases[0])
    handler.mode = "xxe"
    second = runner.run_case(two[0], two[0].cases[1])
    assert first.outcome is Outcome.ERROR
    assert second.outcome is Outcome.FAIL  # it ran, and judged the hostile answer


def test_credentials_in_urls_never_reach_results(
    hostile: tuple[str, type[Hostile]], protocols: list[Protocol]
) -> None:
    import json

    from harness.report.results_json import to_results

    base, handler = hostile
    handler.mode = "xxe"
    secret_base = base.replace("http://", "http://kcertuser:S3cretPW@")
    config = _config(secret_base)
    config = SutConfig(
        **{
            **config.__dict__,
            "endpoints": {
                "fhir": f"{secret_base}/fhir?token=abc123",
                "agent": f"{secret_base}/kcert-agent/v1",
            },
        }
    )
    run = Runner(HttpTransport(config), config).run(_first_case(protocols), RunOptions())
    text = json.dumps(to_results(run))
    assert "S3cretPW" not in text and "abc123" not in text
    assert "***@127.0.0.1" in text
