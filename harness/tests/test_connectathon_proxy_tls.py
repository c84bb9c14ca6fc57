"""TLS through the recording proxy: it terminates with its own certificate (requiring a client
certificate from the configured CA) and re-originates to an https target with a configured CA
bundle and client certificate. The certificates are made here, for this test only."""

from __future__ import annotations

import dataclasses
import socket
import ssl
from pathlib import Path

import pytest

from harness.connectathon.proxy import EndpointSpec, ProxyTls, RecordingProxy, SpecError
from harness.connectathon.store import ConnectathonStore
from harness.tests import connectathon_proxy_kit as kit
from harness.tests.connectathon_proxy_kit import (
    HOST,
    WAIT,
    RawTarget,
    port_of,
    raw_target,
    read_message,
    response,
)
from harness.tests.pki_kit import Key, new_cert, new_key, write_pem

LPS = "vendor-a-lps"
ENDPOINT = f"{LPS}:lps"


@dataclasses.dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path  # a CA nobody here trusts
    proxy: tuple[Path, Path]  # the proxy's server certificate and key
    target: tuple[Path, Path]  # the https target's
    vendor: tuple[Path, Path]  # the vendor system's client certificate (to the proxy)
    relay: tuple[Path, Path]  # the proxy's client certificate (to the target)
    stranger: tuple[Path, Path]  # a server certificate from the other CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("proxy-pki")
    ca, other = ("kcert test CA", new_key()), ("other CA", new_key())
    ca_pem = write_pem(folder / "ca.pem", new_cert(*ca, None, ca=True), None)[0]
    other_pem = write_pem(folder / "other.pem", new_cert(*other, None, ca=True), None)[0]

    def leaf(name: str, issuer: tuple[str, Key]) -> tuple[Path, Path]:
        key = new_key()
        return write_pem(folder / f"{name}.pem", new_cert(name, key, issuer, addresses=[HOST]), key)

    return Pki(
        ca_pem,
        other_pem,
        leaf("proxy", ca),
        leaf("target", ca),
        leaf("vendor", ca),
        leaf("relay", ca),
        leaf("stranger", other),
    )


store, session = kit.store, kit.session  # the shared fixtures (a SQLite store, a session)


def _target_context(pki: Pki, cert: tuple[Path, Path], require_client: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    if require_client:
        context.load_verify_locations(cafile=str(pki.ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client(pki: Pki, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def _tls(pki: Pki, upstream_ca: Path | None = None) -> ProxyTls:
    return ProxyTls(
        certfile=pki.proxy[0],
        keyfile=pki.proxy[1],
        client_ca=pki.ca,
        upstream_ca=upstream_ca or pki.ca,
        upstream_certfile=pki.relay[0],
        upstream_keyfile=pki.relay[1],
    )


def _exchange(port: int, context: ssl.SSLContext, request: bytes) -> bytes:
    with (
        socket.create_connection((HOST, port), timeout=WAIT) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as sock,
    ):
        sock.sendall(request)
        return read_message(sock)


REQUEST = b"POST /fhir HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"


def test_tls_terminated_and_reoriginated_bytes_unaltered(
    pki: Pki, store: ConnectathonStore, session: str
) -> None:
    answer = response(200, b"secured", "X-Side: target")
    target = RawTarget(answer=lambda _: answer, tls=_target_context(pki, pki.target, True))
    with raw_target(target):
        spec = EndpointSpec(LPS, "lps", target.url, tls=_tls(pki))
        with RecordingProxy(store, session, [spec], validate=False) as proxy:
            url = proxy.url_for(ENDPOINT)
            assert url.startswith("https://127.0.0.1:")
            got = _exchange(port_of(url), _client(pki, pki.vendor), REQUEST)
            assert proxy.settle(WAIT)
    assert got == answer
    assert target.received == [REQUEST]
    assert target.handshake_errors == []  # the proxy presented its client certificate
    recorded = store.exchanges(session)
    assert [(r.status, r.response_body, r.error) for r in recorded] == [(200, b"secured", "")]


def test_a_client_without_certificate_is_refused_and_recorded(
    pki: Pki, store: ConnectathonStore, session: str
) -> None:
    target = RawTarget(tls=_target_context(pki, pki.target, True))
    with raw_target(target):
        spec = EndpointSpec(LPS, "lps", target.url, tls=_tls(pki))
        with RecordingProxy(store, session, [spec], validate=False) as proxy:
            port = port_of(proxy.url_for(ENDPOINT))
            with pytest.raises((ssl.SSLError, OSError)):
                # TLS 1.3: the refusal may surface on the first read rather than the handshake
                answer = _exchange(port, _client(pki, None), REQUEST)
                if not answer:
                    raise ConnectionResetError("closed without an answer")
            assert proxy.settle(WAIT)
    assert target.received == []
    recorded = store.exchanges(session)
    assert len(recorded) == 1
    assert "TLS handshake with the client failed" in recorded[0].error


def test_an_untrusted_target_certificate_is_a_502(
    pki: Pki, store: ConnectathonStore, session: str
) -> None:
    target = RawTarget(tls=_target_context(pki, pki.stranger, False))
    with raw_target(target):
        spec = EndpointSpec(LPS, "lps", target.url, tls=_tls(pki))
        with RecordingProxy(store, session, [spec], validate=False) as proxy:
            got = _exchange(port_of(proxy.url_for(ENDPOINT)), _client(pki, pki.vendor), REQUEST)
            assert proxy.settle(WAIT)
    assert got.startswith(b"HTTP/1.1 502")
    assert target.received == []
    recorded = store.exchanges(session)
    assert "TLS to the target 127.0.0.1" in recorded[0].error
    assert "CERTIFICATE_VERIFY_FAILED" in recorded[0].error


def test_plain_listener_in_front_of_an_https_target(
    pki: Pki, store: ConnectathonStore, session: str
) -> None:
    target = RawTarget(tls=_target_context(pki, pki.target, False))
    with raw_target(target):
        spec = EndpointSpec(LPS, "lps", target.url, tls=ProxyTls(upstream_ca=pki.ca))
        with RecordingProxy(store, session, [spec], validate=False) as proxy:
            url = proxy.url_for(ENDPOINT)
            assert url.startswith("http://")
            with socket.create_connection((HOST, port_of(url)), timeout=WAIT) as sock:
                sock.sendall(REQUEST)
                assert read_message(sock) == response(200, b"ok")


def test_tls_configuration_mistakes_are_named(
    pki: Pki, store: ConnectathonStore, session: str
) -> None:
    with pytest.raises(SpecError, match=r"tls.certfile and tls.keyfile go together"):
        RecordingProxy(
            store,
            session,
            [EndpointSpec(LPS, "lps", "http://127.0.0.1:1", tls=ProxyTls(certfile=pki.proxy[0]))],
        )
    with pytest.raises(SpecError, match=r"tls.upstream_.* need an https:// target_url"):
        RecordingProxy(
            store,
            session,
            [EndpointSpec(LPS, "lps", "http://127.0.0.1:1", tls=ProxyTls(upstream_ca=pki.ca))],
        )
    missing = ProxyTls(certfile=pki.proxy[0].with_name("nope.pem"), keyfile=pki.proxy[1])
    with pytest.raises(SpecError, match=r"tls.certfile '.*nope.pem' is not a file"):
        RecordingProxy(
            store, session, [EndpointSpec(LPS, "lps", "http://127.0.0.1:1", tls=missing)]
        )
    swapped = ProxyTls(certfile=pki.proxy[0], keyfile=pki.vendor[1])
    with pytest.raises(SpecError, match="TLS certificate or key"):
        RecordingProxy(
            store, session, [EndpointSpec(LPS, "lps", "http://127.0.0.1:1", tls=swapped)]
        )
