"""The recording proxy forwards bytes unaltered and records every exchange; each limit fires
when crossed and stays quiet at its bound. Real sockets on loopback, the real store (SQLite)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import httpx
import pytest

from harness.connectathon.model import RecordedExchange
from harness.connectathon.proxy import (
    EndpointSpec,
    LimitsError,
    ProxyError,
    ProxyLimits,
    RecordingProxy,
    SpecError,
)
from harness.connectathon.store import ConnectathonStore
from harness.tests import connectathon_proxy_kit as kit
from harness.tests.connectathon_proxy_kit import (
    HOST,
    WAIT,
    RawTarget,
    exchange_raw,
    free_port,
    port_of,
    raw_target,
    read_message,
    response,
)

LPS = "vendor-a-lps"
ENDPOINT = f"{LPS}:lps"


store, session = kit.store, kit.session  # the shared fixtures (a SQLite store, a session)


def _only(store: ConnectathonStore, session: str) -> RecordedExchange:
    found = store.exchanges(session)
    assert len(found) == 1, found
    return found[0]


def _proxy(
    store: ConnectathonStore, session: str, url: str, limits: ProxyLimits | None = None
) -> RecordingProxy:
    return RecordingProxy(
        store,
        session,
        [EndpointSpec(LPS, "lps", url)],
        limits=limits or ProxyLimits(),
        validate=False,
    )


def test_bytes_reach_the_target_and_the_client_unaltered(
    store: ConnectathonStore, session: str
) -> None:
    body = b'{"resourceType": "Bundle",  "type":"message"}'
    answer = (
        b"HTTP/1.1 201 Created\r\nlocation: /Bundle/1\r\nX-Dup: a\r\nX-Dup: b\r\n"
        b"Content-Length: 7\r\n\r\ncreated"
    )
    with (
        raw_target(RawTarget(answer=lambda _: answer)) as target,
        _proxy(store, session, target.url) as proxy,
    ):
        port = port_of(proxy.url_for(ENDPOINT))
        # odd spacing, header case, a repeated header and Host as the client wrote it
        request = (
            b"POST /fhir/$process-message?x=1 HTTP/1.1\r\nHost: 127.0.0.1:"
            + str(port).encode()
            + b"\r\ncontent-TYPE:   application/fhir+json \r\nX-Dup: 1\r\nX-Dup: 2\r\n"
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        got = exchange_raw(port, request)
        assert proxy.settle(WAIT)
    assert target.received == [request]
    assert got == answer
    recorded = _only(store, session)
    assert (recorded.method, recorded.path, recorded.status) == (
        "POST",
        "/fhir/$process-message?x=1",
        201,
    )
    assert recorded.request_body == body and recorded.response_body == b"created"
    assert recorded.request_headers["X-Dup"] == "1, 2"
    assert recorded.response_headers["location"] == "/Bundle/1"
    assert recorded.target == LPS and recorded.endpoint_id == ENDPOINT and not recorded.error
    started = dt.datetime.fromisoformat(recorded.started)
    assert recorded.started.count(".") == 1 and started.tzinfo is not None  # ISO, milliseconds
    assert 0 < recorded.elapsed_ms < WAIT * 1000


def test_chunked_bodies_and_kept_alive_connections(store: ConnectathonStore, session: str) -> None:
    chunked_answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    with (
        raw_target(RawTarget(answer=lambda _: chunked_answer)) as target,
        _proxy(store, session, target.url) as proxy,
    ):
        port = port_of(proxy.url_for(ENDPOINT))
        request = (
            b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            first = exchange_raw(port, request, sock)
            second = exchange_raw(port, request, sock)  # the same client connection
        assert proxy.settle(WAIT)
    assert first == second == chunked_answer
    assert target.received == [request, request]
    assert target.connections == 1  # one kept target connection for the client's one
    recorded = store.exchanges(session)
    assert [r.request_body for r in recorded] == [b"abcde", b"abcde"]
    assert [r.response_body for r in recorded] == [b"Wikipedia", b"Wikipedia"]


def test_connection_close_is_honoured(store: ConnectathonStore, session: str) -> None:
    with raw_target() as target, _proxy(store, session, target.url) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            got = exchange_raw(
                port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", sock
            )
            assert got == response(200, b"ok")
            assert sock.recv(10) == b""  # the proxy closed after the exchange


def test_a_close_delimited_answer_and_an_http10_client(
    store: ConnectathonStore, session: str
) -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    target = RawTarget(answer=lambda _: answer, close_after=True)
    with raw_target(target), _proxy(store, session, target.url) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        for request in (
            b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /b HTTP/1.0\r\n\r\n",  # no keep-alive asked: closed after
        ):
            with socket.create_connection((HOST, port), timeout=WAIT) as sock:
                sock.sendall(request)
                got = b""
                while chunk := sock.recv(65536):  # the proxy closes when the body has ended
                    got += chunk
            assert got == answer
        assert proxy.settle(WAIT)
    assert [r.response_body for r in store.exchanges(session)] == [b"until the end"] * 2


def test_pipelined_requests_are_answered_in_order(store: ConnectathonStore, session: str) -> None:
    target = RawTarget(answer=lambda request: response(200, request.split(b" ")[1]))
    with raw_target(target), _proxy(store, session, target.url) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            sock.sendall(
                b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n"
            )
            expected = response(200, b"/one") + response(200, b"/two")
            got = b""
            while len(got) < len(expected) and (chunk := sock.recv(65536)):
                got += chunk
            assert got == expected
        assert proxy.settle(WAIT)
    assert [r.path for r in store.exchanges(session)] == ["/one", "/two"]


def test_secrets_are_redacted_and_real_cprs_masked_in_the_record_only(
    store: ConnectathonStore, session: str
) -> None:
    body = b'{"cpr": "0101701234"}'
    with raw_target() as target, _proxy(store, session, target.url) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        request = (
            b"POST /x?token=abc HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer sekret\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        exchange_raw(port, request)
        assert proxy.settle(WAIT)
    assert target.received == [request]  # forwarded unaltered
    recorded = _only(store, session)
    assert recorded.request_headers["Authorization"] == "***"
    assert "abc" not in recorded.path
    assert b"0101701234" not in recorded.request_body
    assert b"010170-xxxx" in recorded.request_body
    assert any(f["rule"] == "REAL-CPR" for f in recorded.findings)


# -- limits: each fires when crossed and stays quiet at its bound -------------------------------


def _post(port: int, size: int) -> bytes:
    return exchange_raw(
        port, b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size + b"a" * size
    )


def test_request_body_limit(store: ConnectathonStore, session: str) -> None:
    limits = ProxyLimits(max_request_body=100)
    with raw_target() as target, _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        assert _post(port, 100).startswith(b"HTTP/1.1 200")
        assert _post(port, 101).startswith(b"HTTP/1.1 413")
        chunked = exchange_raw(
            port,
            b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"65\r\n" + b"a" * 101 + b"\r\n0\r\n\r\n",
        )
        assert chunked.startswith(b"HTTP/1.1 413")
        assert proxy.settle(WAIT)
    assert len(target.received) == 1  # nothing too large was forwarded
    errors = [r.error for r in store.exchanges(session)]
    assert errors[0] == ""
    assert "max_request_body" in errors[1] and "413" in errors[1]
    assert "max_request_body" in errors[2]


def test_a_body_beyond_the_record_is_forwarded_whole_and_said(
    store: ConnectathonStore, session: str
) -> None:
    limits = ProxyLimits(record_body_bytes=10)
    with raw_target() as target, _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        assert _post(port, 10).startswith(b"HTTP/1.1 200")  # at the bound: kept whole
        assert _post(port, 25).startswith(b"HTTP/1.1 200")
        assert proxy.settle(WAIT)
    assert target.received[1].endswith(b"a" * 25)  # forwarded whole
    whole, cut = store.exchanges(session)
    assert whole.request_body == b"a" * 10 and not [
        f for f in whole.findings if f["rule"] == "PROXY-CUT"
    ]
    assert cut.request_body == b"a" * 10
    notes = [f["message"] for f in cut.findings if f["rule"] == "PROXY-CUT"]
    assert notes == [
        "the request body has 25 bytes; the record keeps the first 10 "
        "(ProxyLimits.record_body_bytes), all were forwarded"
    ]


def test_response_body_limit(store: ConnectathonStore, session: str) -> None:
    limits = ProxyLimits(max_response_body=10)
    sizes = iter([10, 11])
    target = RawTarget(answer=lambda _: response(200, b"b" * next(sizes)))
    with raw_target(target), _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        assert _post(port, 1).startswith(b"HTTP/1.1 200")
        assert _post(port, 1).startswith(b"HTTP/1.1 502")
        assert proxy.settle(WAIT)
    quiet, fired = store.exchanges(session)
    assert quiet.error == "" and quiet.status == 200
    assert "max_response_body" in fired.error and fired.status is None


def test_header_limit(store: ConnectathonStore, session: str) -> None:
    limits = ProxyLimits(max_header_bytes=200)
    with raw_target() as target, _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        small = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        assert exchange_raw(port, small).startswith(b"HTTP/1.1 200")
        big = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"x" * 300 + b"\r\n\r\n"
        assert exchange_raw(port, big).startswith(b"HTTP/1.1 431")
        assert proxy.settle(WAIT)
    assert "max_header_bytes" in store.exchanges(session)[1].error


def test_slow_target_times_out(store: ConnectathonStore, session: str) -> None:
    limits = ProxyLimits(read_timeout=0.3)
    with (
        raw_target(RawTarget(delay=0.1)) as target,
        _proxy(store, session, target.url, limits) as proxy,
    ):
        port = port_of(proxy.url_for(ENDPOINT))
        assert _post(port, 1).startswith(b"HTTP/1.1 200")
        target.delay = 1.0
        assert _post(port, 1).startswith(b"HTTP/1.1 504")
        assert proxy.settle(WAIT)
    quiet, fired = store.exchanges(session)
    assert quiet.error == ""
    assert "did not answer in time" in fired.error and "read_timeout" in fired.error


def test_exchange_time_is_bounded_as_a_whole(store: ConnectathonStore, session: str) -> None:
    # a client that drips its body: each byte within read_timeout, the whole not
    limits = ProxyLimits(read_timeout=1.0, exchange_timeout=0.5)
    with raw_target() as target, _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            sock.sendall(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
            for _ in range(4):
                sock.sendall(b"a")
                time.sleep(0.2)
            answer = read_message(sock)
        assert proxy.settle(WAIT)
    assert answer.startswith(b"HTTP/1.1 408")
    assert "exchange_timeout" in _only(store, session).error
    assert target.received == []


def test_refused_target(store: ConnectathonStore, session: str) -> None:
    with _proxy(store, session, f"http://{HOST}:{free_port()}") as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        assert _post(port, 1).startswith(b"HTTP/1.1 502")
        assert proxy.settle(WAIT)
    recorded = _only(store, session)
    assert "refused the connection" in recorded.error and recorded.status is None
    assert recorded.method == "POST"


def test_too_many_connections(store: ConnectathonStore, session: str) -> None:
    limits = ProxyLimits(max_connections=2)
    with raw_target() as target, _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        get = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        held = [socket.create_connection((HOST, port), timeout=WAIT) for _ in range(2)]
        try:
            for sock in held:  # both kept alive (parked, still open): quiet at the bound
                assert exchange_raw(port, get, sock).startswith(b"HTTP/1.1 200")
            assert exchange_raw(port, get).startswith(b"HTTP/1.1 503")
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + WAIT
        while proxy.stats.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)  # the parked connections notice their clients closed
        assert exchange_raw(port, get).startswith(b"HTTP/1.1 200")  # room again
        assert proxy.settle(WAIT)
    recorded = store.exchanges(session)
    rejected = [r for r in recorded if r.error]
    assert len(recorded) == 4 and len(rejected) == 1
    assert "max_connections" in rejected[0].error and rejected[0].method == "GET"
    assert proxy.stats.rejected == 1


def test_idle_connections_hold_no_thread_and_expire(store: ConnectathonStore, session: str) -> None:
    limits = ProxyLimits(worker_threads=1, idle_timeout=0.5)
    with raw_target() as target, _proxy(store, session, target.url, limits) as proxy:
        port = port_of(proxy.url_for(ENDPOINT))
        get = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        with (
            socket.create_connection((HOST, port), timeout=WAIT) as first,
            socket.create_connection((HOST, port), timeout=WAIT) as second,
        ):
            # one thread serves both: a kept-alive connection between requests holds none
            for sock in (first, second, first, second):
                assert exchange_raw(port, get, sock).startswith(b"HTTP/1.1 200")
            began = time.monotonic()
            assert first.recv(10) == b""  # idle past idle_timeout: closed by the proxy
            assert 0.3 < time.monotonic() - began < WAIT
        assert proxy.settle(WAIT)
    assert len(store.exchanges(session)) == 4


# -- configuration -------------------------------------------------------------------------------


def test_bad_configuration_is_named(store: ConnectathonStore, session: str) -> None:
    with pytest.raises(LimitsError, match="max_connections must be a positive number"):
        ProxyLimits(max_connections=0)
    with pytest.raises(SpecError, match=r"vendor-a-lps:lps: target_url 'ftp://x'.*http or https"):
        RecordingProxy(store, session, [EndpointSpec(LPS, "lps", "ftp://x")])
    twice = [EndpointSpec(LPS, "lps", "http://127.0.0.1:1")] * 2
    with pytest.raises(ProxyError, match="given twice"):
        RecordingProxy(store, session, twice)
    with raw_target() as target, _proxy(store, session, target.url) as proxy:
        taken = port_of(proxy.url_for(ENDPOINT))
        clash = RecordingProxy(store, session, [EndpointSpec(LPS, "lps", target.url, taken)])
        with pytest.raises(ProxyError, match=f"cannot listen on 127.0.0.1:{taken}"):
            clash.start()


def test_endpoints_are_saved_with_their_listen_url(store: ConnectathonStore, session: str) -> None:
    with raw_target() as target:
        specs = [
            EndpointSpec(LPS, "lps", target.url + "/fhir/"),
            EndpointSpec("kcert", "municipality", target.url),
        ]
        with RecordingProxy(store, session, specs, validate=False) as proxy:
            saved = {e.endpoint_id: e for e in store.endpoints(session)}
            assert set(saved) == {ENDPOINT, "kcert:municipality"}
            assert saved[ENDPOINT].listen_url == proxy.url_for(ENDPOINT)
            assert proxy.url_for(ENDPOINT).endswith("/fhir")  # the target's path kept
            assert saved[ENDPOINT].target_url == target.url + "/fhir/"
            with pytest.raises(KeyError, match="no endpoint 'x:y'"):
                proxy.url_for("x:y")


# -- stopping --------------------------------------------------------------------------------------


def test_stop_finishes_exchanges_in_flight_and_closes_idle_ones(
    store: ConnectathonStore, session: str
) -> None:
    with raw_target(RawTarget(delay=0.5)) as target:
        proxy = _proxy(store, session, target.url)
        proxy.start()
        port = port_of(proxy.url_for(ENDPOINT))
        idle = socket.create_connection((HOST, port), timeout=WAIT)
        answers: list[bytes] = []
        sender = threading.Thread(target=lambda: answers.append(_post(port, 1)))
        sender.start()
        time.sleep(0.2)  # the exchange is at the slow target now
        began = time.monotonic()
        proxy.stop()
        took = time.monotonic() - began
        sender.join(WAIT)
        assert idle.recv(10) == b""  # the idle connection was closed
        idle.close()
    assert answers and answers[0].startswith(b"HTTP/1.1 200")  # in flight: finished
    assert took < ProxyLimits().stop_grace
    assert [e.status for e in store.exchanges(session)] == [200]  # and recorded
    with pytest.raises(OSError):
        socket.create_connection((HOST, port), timeout=1).close()  # no longer listening


# -- what real clients do ------------------------------------------------------------------------


def test_an_httpx_client_through_the_proxy(store: ConnectathonStore, session: str) -> None:
    big = b"z" * 300_000
    with (
        raw_target(RawTarget(answer=lambda _: response(200, big))) as target,
        _proxy(store, session, target.url) as proxy,
    ):
        with httpx.Client(base_url=proxy.url_for(ENDPOINT), timeout=WAIT) as client:
            first = client.post("/a", content=b"x" * 1000)
            streamed = client.post("/b", content=iter([b"part1-", b"part2"]))  # chunked upload
            third = client.get("/c")
        assert proxy.settle(WAIT)
    assert [r.status_code for r in (first, streamed, third)] == [200, 200, 200]
    assert first.content == big
    assert target.connections == 1  # httpx kept its connection; the proxy kept the target's
    recorded = store.exchanges(session)
    assert [r.path for r in recorded] == ["/a", "/b", "/c"]
    assert recorded[1].request_body == b"part1-part2"
    assert recorded[1].request_headers.get("Transfer-Encoding") == "chunked"


def test_expect_100_continue_and_bodiless_answers(store: ConnectathonStore, session: str) -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"  # HEAD: no body follows

    def answer(request: bytes) -> bytes:
        return head_answer if request.startswith(b"HEAD") else response(200, b"ok")

    with (
        raw_target(RawTarget(answer=answer)) as target,
        _proxy(store, session, target.url) as proxy,
    ):
        port = port_of(proxy.url_for(ENDPOINT))
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            head = (
                b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
            )
            sock.sendall(head)
            assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"abc")
            assert read_message(sock) == response(200, b"ok")
            sock.sendall(b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n")
            assert read_message(sock, head_only_body=True) == head_answer
            sock.sendall(b"GET /y HTTP/1.1\r\nHost: h\r\n\r\n")  # the connection still works
            assert read_message(sock) == response(200, b"ok")
        assert proxy.settle(WAIT)
    assert target.received[0] == head + b"abc"
    assert [r.method for r in store.exchanges(session)] == ["POST", "HEAD", "GET"]


def test_malformed_traffic_either_way(store: ConnectathonStore, session: str) -> None:
    answers = iter([b"SPAM\r\n\r\n", b""])  # a target that speaks no HTTP, then one that hangs up
    with (
        raw_target(RawTarget(answer=lambda _: next(answers))) as target,
        _proxy(store, session, target.url) as proxy,
    ):
        port = port_of(proxy.url_for(ENDPOINT))
        assert exchange_raw(port, b"hello there\r\n\r\n").startswith(b"HTTP/1.1 400")
        smuggle = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        assert exchange_raw(port, smuggle).startswith(b"HTTP/1.1 400")
        assert _post(port, 1).startswith(b"HTTP/1.1 502")
        assert proxy.settle(WAIT)
    errors = [r.error for r in store.exchanges(session)]
    assert "malformed request line" in errors[0]
    assert "both Transfer-Encoding and Content-Length" in errors[1]
    assert "status line is not HTTP" in errors[2]
    assert len(target.received) == 1  # only the well-formed request was forwarded


class SlowStore:
    """The real store, each recorded exchange taking `delay` s (a store on a slow network)."""

    def __init__(self, store: ConnectathonStore, delay: float) -> None:
        self.store = store
        self.delay = delay

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def record_exchange(self, exchange: RecordedExchange) -> None:
        time.sleep(self.delay)
        self.store.record_exchange(exchange)


def test_stop_stores_every_exchange_also_from_a_slow_store(
    store: ConnectathonStore, session: str
) -> None:
    slow = SlowStore(store, 0.05)
    limits = ProxyLimits(stop_grace=0.1, record_threads=1)
    with raw_target() as target:
        spec = EndpointSpec(LPS, "lps", target.url)
        with RecordingProxy(slow, session, [spec], limits=limits, validate=False) as proxy:  # type: ignore[arg-type]
            port = port_of(proxy.url_for(ENDPOINT))
            with socket.create_connection((HOST, port), timeout=WAIT) as sock:
                for _ in range(20):
                    exchange_raw(port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", sock)
    assert len(store.exchanges(session)) == 20  # 1 s of storing, 0.1 s of grace: none lost
