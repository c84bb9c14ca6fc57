"""Reachable peers: `peer:` in the SUT configuration (bind, advertise, TLS, client certificates).

Only loopback addresses: kcert's peer binds 127.0.0.2 and the "remote" SUT (the reference LPS,
or a tiny client standing in for one) sends to the URL the peer advertises. The TLS material is
a throw-away CA, server and client certificates made here for each test session.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.fixtures import REPO_ROOT
from harness.loader.protocols import load_all
from harness.model.outcome import Outcome
from harness.runner.engine import Runner, RunOptions
from harness.sut.config import load_sut_config
from harness.sut.peer_config import PeerConfig
from harness.sut.reference import reference_config
from harness.tests.conftest import reference_answers
from harness.tests.pki_kit import new_cert, new_key, write_pem
from harness.transport.inprocess import InProcessTransport
from harness.transport.peer import PeerError, PeerServer, PeerServers, Reply
from harness.yamlsource import SourceError

REMOTE = "127.0.0.2"  # where kcert's peer listens: another address than the SUT's 127.0.0.1
NAT = "127.0.0.3"  # a forwarder in front of it: what the peer advertises, as behind NAT

BASE = """\
name: Vendor LPS
vendor: Vendor A/S
version: 7.2.1
endpoints:
  fhir: http://127.0.0.1:9/fhir
  agent: http://127.0.0.1:9/kcert-agent/v1
identity:
  sor: "999991000016008"
  gln: "5790000999996"
"""


def free_port(host: str = REMOTE) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxy from the environment between loopback addresses
    return s


@contextmanager
def forwarder(target: tuple[str, int]) -> Iterator[str]:
    """A TCP forwarder on 127.0.0.3 to `target` (a NAT stand-in); yields its base URL's netloc."""
    listener = socket.create_server((NAT, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while chunk := a.recv(65536):
                b.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(target, timeout=5)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"{NAT}:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


# -- a throw-away PKI ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # a client certificate from another CA
    stranger_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key = new_key(), new_key()
    write_pem(d / "ca.pem", new_cert("kcert test CA", ca_key, None, ca=True), None)
    server_key, client_key, stranger_key = new_key(), new_key(), new_key()
    server = new_cert(
        "kcert peer", server_key, ("kcert test CA", ca_key), addresses=[REMOTE], names=["localhost"]
    )
    write_pem(d / "server.pem", server, server_key)
    write_pem(
        d / "client.pem", new_cert("vendor LPS", client_key, ("kcert test CA", ca_key)), client_key
    )
    write_pem(
        d / "stranger.pem",
        new_cert("vendor LPS", stranger_key, ("some other CA", other_key)),
        stranger_key,
    )
    return Pki(
        d / "ca.pem",
        d / "server.pem",
        d / "server.key",
        d / "client.pem",
        d / "client.key",
        d / "stranger.pem",
        d / "stranger.key",
    )


@pytest.fixture
def tls_peer(pki: Pki) -> Iterator[PeerServer]:
    port = free_port()
    server = PeerServer(
        PeerConfig(
            host=REMOTE,
            port=port,
            advertise=f"https://{REMOTE}:{port}",
            cert=str(pki.server_cert),
            key=str(pki.server_key),
            client_ca=str(pki.ca),
        )
    )
    server.expect(lambda m, p, h, b: Reply(200, "text/plain", b"got " + b))
    yield server
    server.close()


# -- the configuration ---------------------------------------------------------------------------


def _load(tmp_path: Path, peer: str) -> PeerConfig:
    path = tmp_path / "sut.yaml"
    path.write_text(BASE + peer, encoding="utf-8")
    return load_sut_config(path).peer


def test_without_a_peer_section_kcert_listens_on_loopback(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == PeerConfig()
    assert PeerConfig().public_dict() == {
        "bind": "127.0.0.1:0",
        "advertise": "",
        "tls": False,
        "client_certificates": False,
    }


def test_bind_and_advertise_load(tmp_path: Path) -> None:
    got = _load(
        tmp_path, "peer:\n  bind: 0.0.0.0:8443\n  advertise: http://kcert.test.invalid:18443/\n"
    )
    assert (got.host, got.port, got.advertise) == (
        "0.0.0.0",
        8443,
        "http://kcert.test.invalid:18443",
    )
    six = _load(tmp_path, "peer:\n  bind: '[::1]:0'\n")
    assert (six.host, six.port) == ("::1", 0)


def test_tls_files_are_relative_to_the_configuration(tmp_path: Path, pki: Pki) -> None:
    peer = (
        "peer:\n  bind: 127.0.0.2:8443\n  advertise: https://127.0.0.2:8443\n"
        f"  tls:\n    cert: {pki.server_cert}\n    key: {pki.server_key}\n"
        f"    client_ca: {pki.ca.name}\n"
    )
    (tmp_path / pki.ca.name).write_bytes(pki.ca.read_bytes())
    got = _load(tmp_path, peer)
    assert got.tls and got.client_ca == str(tmp_path / pki.ca.name)
    assert got.public_dict()["client_certificates"] is True
    assert str(tmp_path) not in str(got.public_dict())  # no file paths in a report


@pytest.mark.parametrize(
    ("peer", "line", "field", "needle"),
    [
        ("peer:\n  bind: 999.1.2.3:80\n", 11, "peer.bind", "not an IP address"),
        ("peer:\n  bind: 127.0.0.2:70000\n", 11, "peer.bind", "out of range"),
        ("peer:\n  bind: kcert.example:80\n", 11, "peer.bind", "does not match"),
        ("peer:\n  bind: 0.0.0.0:8080\n", 11, "peer.bind", "set peer.advertise"),
        ("peer:\n  advertise: http://127.0.0.2:80\n", 11, "peer.advertise", "fixed port"),
        (
            "peer:\n  bind: 127.0.0.2:0\n  advertise: http://127.0.0.2:80\n",
            11,
            "peer.bind",
            "fixed port",
        ),
        (
            "peer:\n  bind: 127.0.0.2:80\n  advertise: http://h.invalid/kcert\n",
            12,
            "peer.advertise",
            "without path",
        ),
        (
            "peer:\n  bind: 127.0.0.2:80\n  advertise: http://u:p@h.invalid\n",
            12,
            "peer.advertise",
            "credentials",
        ),
        (
            "peer:\n  bind: 127.0.0.2:80\n  advertise: https://h.invalid\n",
            12,
            "peer.advertise",
            "needs peer.tls",
        ),
        ("peer:\n  bind: 127.0.0.2:80\n  tls:\n    cert: a.pem\n", 12, "peer.tls", "key"),
        (
            "peer:\n  bind: 127.0.0.2:80\n  tls:\n    cert: missing.pem\n    key: missing.key\n",
            13,
            "peer.tls.cert",
            "file not found",
        ),
        (
            "peer:\n  bind: 127.0.0.2:80\n  tls:\n    cert: '-----BEGIN CERTIFICATE-----'\n"
            "    key: k.pem\n",
            13,
            "peer.tls.cert",
            "never the certificate",
        ),
        ("peer:\n  listen: 127.0.0.2:80\n", 10, "peer", "listen"),
    ],
)
def test_bad_peer_configuration_names_file_line_field(
    tmp_path: Path, peer: str, line: int, field: str, needle: str
) -> None:
    path = tmp_path / "sut.yaml"
    path.write_text(BASE + peer, encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_sut_config(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: {field}"), text
    assert needle in text, text


def test_tls_with_plain_advertise_or_bad_files_is_refused(tmp_path: Path, pki: Pki) -> None:
    tls = f"  tls:\n    cert: {pki.server_cert}\n    key: {pki.server_key}\n"
    path = tmp_path / "sut.yaml"
    path.write_text(
        BASE + "peer:\n  bind: 127.0.0.2:80\n  advertise: http://h.invalid\n" + tls,
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r":12: peer\.advertise: .*must be https"):
        load_sut_config(path)
    # the key of another certificate: caught when the configuration is read, not mid-run
    path.write_text(
        BASE + f"peer:\n  bind: 127.0.0.2:80\n  tls:\n    cert: {pki.server_cert}\n"
        f"    key: {pki.client_key}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r":12: peer\.tls: cannot use the certificate"):
        load_sut_config(path)


# -- plain HTTP on another address ---------------------------------------------------------------


def test_peer_binds_another_address_and_advertises_its_url() -> None:
    port = free_port()
    server = PeerServer(PeerConfig(host=REMOTE, port=port, advertise=f"http://{REMOTE}:{port}"))
    try:
        assert server.bound_url == server.base_url == f"http://{REMOTE}:{port}"
        mark = server.expect(lambda m, p, h, b: Reply(200, "text/plain", b"ok"))
        answer = session().post(server.base_url + "/fhir", data=b"{}", timeout=5)
        assert answer.status_code == 200
        (got,) = server.wait(mark, 1, 5)
        assert got.url == f"http://{REMOTE}:{port}/fhir" and got.request_body == b"{}"
        with pytest.raises(requests.ConnectionError):  # not on 127.0.0.1
            session().post(f"http://127.0.0.1:{port}/fhir", data=b"{}", timeout=2)
    finally:
        server.close()


def test_the_advertised_url_is_what_the_sut_is_told() -> None:
    port = free_port()
    with forwarder((REMOTE, port)) as nat:
        server = PeerServer(PeerConfig(host=REMOTE, port=port, advertise=f"http://{nat}"))
        try:
            assert server.base_url == f"http://{nat}" != server.bound_url
            mark = server.expect(lambda m, p, h, b: Reply(200, "text/plain", b"ok"))
            answer = session().post(server.base_url + "/oioxml", data=b"<x/>", timeout=5)
            assert answer.status_code == 200
            (got,) = server.wait(mark, 1, 5)
            assert got.url == f"http://{nat}/oioxml"  # evidence names the URL the SUT used
        finally:
            server.close()


def test_a_taken_address_is_a_clear_peer_error() -> None:
    first = PeerServer(PeerConfig(host=REMOTE))
    try:
        port = int(first.bound_url.rsplit(":", 1)[1])
        with pytest.raises(PeerError, match=rf"cannot listen on {REMOTE}:{port}"):
            PeerServer(PeerConfig(host=REMOTE, port=port))
    finally:
        first.close()


def test_a_session_has_one_peer_server_per_configuration_and_stops_them() -> None:
    remote = PeerConfig(host=REMOTE)
    peers, others = PeerServers(), PeerServers()
    try:
        assert peers.server(remote) is peers.server(remote)
        assert peers.server(remote) is not peers.server()
        assert peers.server().base_url.startswith("http://127.0.0.1:")
        assert peers.server(remote).base_url.startswith(f"http://{REMOTE}:")
        # another session's peers are its own: another server, another port
        assert others.server(remote) is not peers.server(remote)
        assert others.server(remote).base_url != peers.server(remote).base_url
        running = peers.running
    finally:
        peers.close()
        others.close()
    assert len(running) == 2 and not peers.running
    for server in running:  # stopped: nothing listens there any more
        with pytest.raises(requests.ConnectionError):
            requests.get(server.bound_url, timeout=2)
    with pytest.raises(PeerError, match="closed"):
        peers.server()  # a closed session starts no further server


def test_a_remote_sut_sends_to_the_advertised_url(tmp_path: Path) -> None:
    """The reference LPS is told kcert's advertised URL and reaches the peer on 127.0.0.2:
    the send side and plan sharing (the document repository) both pass."""
    from harness.reflps.app import create_app

    port = free_port()
    protocols, errors = load_all(
        [
            REPO_ROOT / "testcases" / "carecommunication-send.yaml",
            REPO_ROOT / "testcases" / "careplan-sharing.yaml",
        ]
    )
    assert not errors, errors
    with forwarder((REMOTE, port)) as nat:
        advertised = f"http://{nat}"
        config = dataclasses.replace(
            reference_config("http://reference.invalid", (), "inprocess"),
            peer=PeerConfig(host=REMOTE, port=port, advertise=advertised),
        )
        transport = InProcessTransport(config, create_app(()))
        runner = Runner(transport, config, answers=reference_answers(protocols))
        try:
            run = runner.run(protocols, RunOptions(run_id="remote-peer"))
        finally:
            transport.close()
            runner.close()
    outcomes = {c.case.id: c.outcome for p in run.protocols for c in p.cases}
    assert outcomes and all(o is Outcome.PASS for o in outcomes.values()), outcomes
    inbound = [
        e for p in run.protocols for c in p.cases for s in c.steps for e in s.exchanges if e.inbound
    ]
    assert inbound and all(e.url.startswith(advertised) for e in inbound)
    assert any("/kcert-repository/v1/documents" in e.url for e in inbound)
    assert any("$process-message" in e.url for e in inbound)


# -- TLS and client certificates -----------------------------------------------------------------


def test_tls_peer_accepts_a_client_with_a_certificate_from_the_ca(
    tls_peer: PeerServer, pki: Pki
) -> None:
    mark = len(tls_peer.received)
    answer = session().post(
        tls_peer.base_url + "/fhir/$process-message",
        data=b"hello",
        verify=str(pki.ca),
        cert=(str(pki.client_cert), str(pki.client_key)),
        timeout=5,
    )
    assert answer.status_code == 200 and answer.content == b"got hello"
    (got,) = tls_peer.wait(mark, 1, 5)
    assert got.url.startswith(f"https://{REMOTE}:") and not got.error


@pytest.mark.parametrize("who", ["no certificate", "another CA", "plain http"])
def test_tls_peer_refuses_and_records_a_client_without_a_valid_certificate(
    tls_peer: PeerServer, pki: Pki, who: str
) -> None:
    mark = len(tls_peer.received)
    cert = {
        "no certificate": None,
        "another CA": (str(pki.stranger_cert), str(pki.stranger_key)),
        "plain http": None,
    }[who]
    url = tls_peer.base_url + "/fhir/$process-message"
    if who == "plain http":
        url = url.replace("https://", "http://")
    with pytest.raises(requests.RequestException):
        session().post(url, data=b"hello", verify=str(pki.ca), cert=cert, timeout=5)
    assert tls_peer.wait(mark, 1, 1.0) == tls_peer.received[mark:]
    refused = [e for e in tls_peer.received[mark:] if e.error]
    assert len(refused) == 1 and refused[0].inbound and refused[0].status is None
    assert refused[0].method == "TLS" and not refused[0].request_body
    # the "remote" client connects from 127.0.0.1; the reason is OpenSSL's, in words
    assert refused[0].error.startswith("kcert's peer refused the TLS connection from 127.0.0.1: ")
    assert {
        "no certificate": "did not return a certificate",
        "another CA": "certificate verify failed",
        "plain http": "http request",
    }[who] in refused[0].error.lower(), refused[0].error
    assert tls_peer.delivered == []  # a refusal is evidence, never a delivered message


def test_a_refused_connection_is_no_delivery_for_the_checks(tls_peer: PeerServer, pki: Pki) -> None:
    from harness.checks import CHECKS, CheckContext
    from harness.model.exchange import Exchange
    from harness.model.outcome import Severity

    mark = len(tls_peer.received)
    with pytest.raises(requests.RequestException):
        session().post(tls_peer.base_url + "/fhir", data=b"x", verify=str(pki.ca), timeout=5)
    refused = tls_peer.wait(mark, 1, 1.0)
    assert refused and refused[0].error
    agent = Exchange("POST", "http://127.0.0.1:9/agent/outbox/send", {}, b"", status=202)
    ctx = CheckContext(
        step_id="1",
        exchange=agent,
        severity=Severity.F2,
        sent=None,
        earlier={},
        sut_identity={},
        peer_identity={},
        exchanges=[agent, *refused],
    )
    assert ctx.inbound() == []
    rules = {f.rule_id for f in CHECKS.get("message-sent").func(ctx) if f.is_problem}
    assert rules == {"SEND-NOTHING"}


def test_peer_listens_on_ipv6_loopback() -> None:
    try:
        server = PeerServer(PeerConfig(host="::1"))
    except PeerError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert server.bound_url.startswith("http://[::1]:")
        mark = server.expect(lambda m, p, h, b: Reply(204))
        assert session().post(server.base_url + "/x", data=b"", timeout=5).status_code == 204
        assert len(server.wait(mark, 1, 5)) == 1
    finally:
        server.close()


def _send_side_over_tls(
    pki: Pki, first_only: bool = False
) -> list[tuple[set[str], Outcome, list[Any]]]:
    """The send protocol against the in-process reference LPS, kcert's peer on
    https://127.0.0.2 (server certificate from the throw-away CA, no client check)."""
    from harness.reflps.app import create_app

    port = free_port()
    config = dataclasses.replace(
        reference_config("http://reference.invalid", (), "inprocess"),
        peer=PeerConfig(
            host=REMOTE,
            port=port,
            advertise=f"https://{REMOTE}:{port}",
            cert=str(pki.server_cert),
            key=str(pki.server_key),
        ),
    )
    protocols, errors = load_all([REPO_ROOT / "testcases" / "carecommunication-send.yaml"])
    assert not errors, errors
    if first_only:  # a refused send waits out the step's wait_s: one case says enough
        protocols = [dataclasses.replace(p, cases=p.cases[:1]) for p in protocols]
    transport = InProcessTransport(config, create_app(()))
    runner = Runner(transport, config)
    try:
        run = runner.run(protocols, RunOptions(run_id="tls-peer"))
    finally:
        transport.close()
        runner.close()
    return [
        (
            {f.rule_id for f in c.findings if f.is_problem},
            c.outcome,
            [e for s in c.steps for e in s.exchanges if e.inbound],
        )
        for p in run.protocols
        for c in p.cases
    ]


def test_a_sut_that_trusts_kcerts_ca_sends_over_tls(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the reference LPS sends with Python's default TLS context, which honours SSL_CERT_FILE
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    cases = _send_side_over_tls(pki)
    assert cases and all(outcome is Outcome.PASS for _, outcome, _ in cases), cases
    inbound = [e for _, _, got in cases for e in got]
    assert inbound and all(e.url.startswith(f"https://{REMOTE}:") and not e.error for e in inbound)


def test_a_sut_that_does_not_trust_kcerts_certificate_fails_with_the_refusal_recorded(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    cases = _send_side_over_tls(pki, first_only=True)
    rules, outcome, inbound = cases[0]
    assert outcome is Outcome.FAIL, cases  # the SUT reached kcert: a fail, never an error
    assert rules & {"SEND-NOTHING", "SEND-COUNT"}, rules  # nothing delivered
    refused = [e for e in inbound if e.error]
    assert refused and not [e for e in inbound if not e.error]
    assert "refused the TLS connection" in refused[0].error
    assert refused[0].response_body.decode().startswith("kcert's peer refused")


def _raw(server: PeerServer, request: bytes) -> bytes:
    host, port = server.bound_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_peer_reads_chunked_bodies_and_refuses_bad_lengths() -> None:
    server = PeerServer(PeerConfig(host=REMOTE))
    try:
        mark = server.expect(lambda m, p, h, b: Reply(200, "text/plain", b"got " + b))
        answer = _raw(
            server,
            b"POST /fhir HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"got hello world")
        answer = _raw(server, b"POST /fhir HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 400")
        got = server.wait(mark, 2, 5)
        assert [(e.request_body, e.status) for e in got] == [(b"hello world", 200), (b"", 400)]
    finally:
        server.close()


def test_the_peers_record_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.transport.peer as peer_module

    monkeypatch.setattr(peer_module, "MAX_RECORDED", 2)
    server = PeerServer(PeerConfig(host=REMOTE))
    try:
        server.expect(lambda m, p, h, b: Reply(200, "text/plain", b"ok"))
        codes = [
            session().post(server.base_url + "/x", data=b"x", timeout=5).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 503] and len(server.received) == 2
    finally:
        server.close()


def test_a_configured_peer_that_cannot_listen_stops_the_run_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    taken = PeerServer(PeerConfig(host=REMOTE))
    try:
        port = int(taken.bound_url.rsplit(":", 1)[1])
        config = tmp_path / "sut.yaml"
        config.write_text(
            BASE + f"peer:\n  bind: {REMOTE}:{port}\n  advertise: http://{REMOTE}:{port}\n",
            encoding="utf-8",
        )
        code = main(
            [
                "certify",
                "--sut-config",
                str(config),
                "--protocols",
                str(REPO_ROOT / "testcases" / "carecommunication-send.yaml"),
                "--reports",
                str(tmp_path / "r"),
                "--lang",
                "en",
            ]
        )
    finally:
        taken.close()
    out = capsys.readouterr().out
    assert code == 2
    assert f"kcert: error: kcert's peer cannot listen on {REMOTE}:{port}" in out, out


def test_certify_a_configured_sut_through_a_peer_on_another_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole front door: a SUT configuration (the reference LPS as a separate process on
    127.0.0.1, kcert's peer on 127.0.0.2), certify over HTTP, the peer announced, Approved."""
    from harness.cli.main import main
    from harness.sut.reference import running_reference

    port = free_port()
    with running_reference() as sut:
        config = tmp_path / "sut.yaml"
        config.write_text(
            f"name: {sut.name}\nvendor: {sut.vendor}\nversion: {sut.version}\n"
            f"endpoints:\n  fhir: {sut.endpoints['fhir']}\n  agent: {sut.endpoints['agent']}\n"
            f'identity:\n  sor: "{sut.sor}"\n  gln: "{sut.gln}"\n  name: {sut.org_name}\n'
            f"peer:\n  bind: {REMOTE}:{port}\n  advertise: http://{REMOTE}:{port}\n",
            encoding="utf-8",
        )
        code = main(
            [
                "certify",
                "--sut-config",
                str(config),
                "--protocols",
                str(REPO_ROOT / "testcases" / "carecommunication-send.yaml"),
                "--reports",
                str(tmp_path / "r"),
                "--lang",
                "en",
            ]
        )
    # the session stopped its peer: the fixed port is free again
    PeerServer(PeerConfig(host=REMOTE, port=port)).close()
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"kcert's peer: http://{REMOTE}:{port} (listening on {REMOTE}:{port}, no TLS)" in out
    assert "Approved" in out
