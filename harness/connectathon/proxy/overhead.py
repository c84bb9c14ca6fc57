"""What the recording proxy costs per exchange: the same requests to a loopback target,
direct and through the proxy, side by side (interleaved, the order alternating, so load on
the machine falls on both alike). The benchmark's target is a median overhead <= 5 ms."""

from __future__ import annotations

import http.client
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.connectathon.api import StoreApi
from harness.connectathon.proxy.limits import ProxyLimits
from harness.connectathon.proxy.server import RecordingProxy
from harness.connectathon.proxy.spec import EndpointSpec

HOST = "127.0.0.1"
MAX_N = 100_000
WARM_UP = 5  # exchanges on each path before timing (connections, caches)
TIMEOUT = 30.0  # per request


@dataclass(frozen=True)
class OverheadFigures:
    """Milliseconds; `overhead_median_ms` is the median of the paired differences."""

    n: int
    direct_median_ms: float
    direct_p95_ms: float
    proxied_median_ms: float
    proxied_p95_ms: float
    overhead_median_ms: float
    recorded: int  # exchanges the proxy stored meanwhile (warm-up included)

    def describe(self) -> str:
        return (
            f"{self.n} exchanges: direct median {self.direct_median_ms:.2f} ms "
            f"(p95 {self.direct_p95_ms:.2f}), proxied median {self.proxied_median_ms:.2f} ms "
            f"(p95 {self.proxied_p95_ms:.2f}), overhead median {self.overhead_median_ms:.2f} ms"
        )


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-95 * len(ordered) // 100) - 1))]


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as clients of a system are
    disable_nagle_algorithm = True  # head and body are two writes: no delayed-ACK stalls
    body = b""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: a benchmark, not a server log


@contextmanager
def loopback_target(body: bytes) -> Iterator[str]:
    """A small HTTP/1.1 server on 127.0.0.1 answering every POST with `body`."""
    handler = type("Answer", (_Answer,), {"body": body})
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


def _timed(connection: http.client.HTTPConnection, body: bytes) -> float:
    start = time.perf_counter()
    connection.request("POST", "/", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status != 200:
        raise RuntimeError(f"the measured exchange answered {answer.status}, not 200")
    return elapsed


@contextmanager
def _scratch_store() -> Iterator[tuple[StoreApi, str]]:
    from harness.connectathon.store import ConnectathonStore

    with tempfile.TemporaryDirectory(prefix="kcert-overhead-") as folder:
        store = ConnectathonStore(f"sqlite:///{Path(folder) / 'runs.db'}")
        try:
            session = store.create_session("overhead", "2026-01-01", "2026-01-01", [])
            yield store, session.session_id
        finally:
            store.close()


def measure_overhead(
    n: int,
    *,
    store: StoreApi | None = None,
    session_id: str | None = None,
    body_bytes: int = 1024,
    validate: bool = True,
    limits: ProxyLimits | None = None,
) -> OverheadFigures:
    """n exchanges direct and n through a RecordingProxy to one loopback target, interleaved.

    Args:
        n: exchanges per path (1..100000).
        store, session_id: where the proxy records (None: a scratch SQLite store).
        body_bytes: the size of request and answer bodies.
        validate: live validation on, as at a connectathon.
        limits: the proxy's limits (None: the defaults).
    """
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n must be 1..{MAX_N}, not {n}")
    if (store is None) != (session_id is None):
        raise ValueError("store and session_id go together")
    if store is not None and session_id is not None:
        return _measure(n, store, session_id, body_bytes, validate, limits)
    with _scratch_store() as (scratch, session):
        return _measure(n, scratch, session, body_bytes, validate, limits)


def _measure(
    n: int,
    store: StoreApi,
    session_id: str,
    body_bytes: int,
    validate: bool,
    limits: ProxyLimits | None,
) -> OverheadFigures:
    body = b'{"x": "' + b"a" * max(0, body_bytes - 9) + b'"}'
    with loopback_target(body) as url:
        spec = EndpointSpec("overhead-target", "target", url)
        with RecordingProxy(
            store, session_id, [spec], limits=limits or ProxyLimits(), validate=validate
        ) as proxy:
            proxied_port = int(proxy.url_for(spec.endpoint_id).rsplit(":", 1)[1])
            direct_port = int(url.rsplit(":", 1)[1])
            direct = http.client.HTTPConnection(HOST, direct_port, timeout=TIMEOUT)
            proxied = http.client.HTTPConnection(HOST, proxied_port, timeout=TIMEOUT)
            try:
                for _ in range(WARM_UP):
                    _timed(direct, body)
                    _timed(proxied, body)
                direct_ms: list[float] = []
                proxied_ms: list[float] = []
                for i in range(n):
                    if i % 2:
                        proxied_ms.append(_timed(proxied, body))
                        direct_ms.append(_timed(direct, body))
                    else:
                        direct_ms.append(_timed(direct, body))
                        proxied_ms.append(_timed(proxied, body))
            finally:
                direct.close()
                proxied.close()
            proxy.settle(TIMEOUT)
            recorded = proxy.stats.exchanges
    return OverheadFigures(
        n=n,
        direct_median_ms=round(statistics.median(direct_ms), 3),
        direct_p95_ms=round(p95(direct_ms), 3),
        proxied_median_ms=round(statistics.median(proxied_ms), 3),
        proxied_p95_ms=round(p95(proxied_ms), 3),
        overhead_median_ms=round(
            statistics.median(p - d for p, d in zip(proxied_ms, direct_ms, strict=True)), 3
        ),
        recorded=recorded,
    )
