"""The recording proxy: one listening port per endpoint, a bounded pool of connection threads.

Each endpoint listens on 127.0.0.1 (port 0: a free one) and has an accept thread. Accepted
connections are served in turns by one pool of `worker_threads` threads shared by every
endpoint; between requests a kept-alive connection is parked (parking.py) and holds no
thread. At most `max_connections` client connections are open at once: one beyond that is
answered 503 by the accept thread (and recorded), so an overload never queues clients without
bound. `stop()` closes the listeners, gives exchanges in flight `stop_grace` seconds, closes
every connection, then stores and validates what is queued (each bounded by `stop_grace`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from harness.connectathon.api import StoreApi
from harness.connectathon.model import Endpoint
from harness.connectathon.proxy.capture import Capture
from harness.connectathon.proxy.forwarding import Forwarder, Route, error_response
from harness.connectathon.proxy.limits import ProxyLimits
from harness.connectathon.proxy.parking import Parking
from harness.connectathon.proxy.recording import Recorder, RecorderStats
from harness.connectathon.proxy.spec import EndpointSpec, SpecError, check_spec
from harness.connectathon.proxy.tls import client_context, server_context
from harness.connectathon.proxy.validation import ValidationWorker

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
ACCEPT_POLL = 0.5  # an accept thread notices stop() at least this often
REJECT_READ = 0.05  # a rejected client's request line is read for this long, for the record
BACKLOG = 128
DEFAULT_LIMITS = ProxyLimits()


class ProxyError(RuntimeError):
    """The proxy cannot start: a port is taken or an endpoint is configured twice."""


@dataclass
class ProxyStats:
    exchanges: int  # stored
    rejected: int  # connections refused beyond max_connections
    store_failures: int
    validation_skipped: int
    validated: int
    open_connections: int  # client connections open now (parked ones included)


@dataclass
class _Listener:
    route: Route
    sock: socket.socket
    endpoint: Endpoint
    thread: threading.Thread | None = None


class RecordingProxy:
    """Records (and validates) the traffic to each endpoint of one connectathon session.

    Args:
        store: where endpoints and exchanges are saved.
        session_id: the session the traffic belongs to.
        specs: one per proxied endpoint (system role -> its own address).
        limits: sizes, counts and waits (ProxyLimits).
        validate: judge each exchange with the installed packs (False: recorded only).

    Example:
        with RecordingProxy(store, session_id, [EndpointSpec("lps-a", "lps", url)]) as proxy:
            client_url = proxy.url_for("lps-a:lps")
    """

    def __init__(
        self,
        store: StoreApi,
        session_id: str,
        specs: list[EndpointSpec],
        *,
        limits: ProxyLimits = DEFAULT_LIMITS,
        validate: bool = True,
    ) -> None:
        seen: set[str] = set()
        self.routes: list[Route] = []
        for spec in specs:
            if spec.endpoint_id in seen:
                raise ProxyError(f"endpoint {spec.endpoint_id} is given twice")
            seen.add(spec.endpoint_id)
            target = check_spec(spec)
            tls = spec.tls
            self.routes.append(
                Route(
                    spec,
                    target,
                    server_context(tls, spec.endpoint_id) if tls and tls.terminates else None,
                    client_context(tls, spec.endpoint_id) if target.scheme == "https" else None,
                )
            )
        self.store = store
        self.session_id = session_id
        self.limits = limits
        self.validate = validate
        self._listeners: dict[str, _Listener] = {}
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._active: set[Forwarder] = set()
        self._futures: set[concurrent.futures.Future[None]] = set()
        self._parking: Parking | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._recorder: Recorder | None = None
        self._validation: ValidationWorker | None = None
        self._rejected = 0

    # -- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> RecordingProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind every endpoint and save its Endpoint row; ProxyError when a port is taken."""
        if self._pool is not None:
            raise ProxyError("the proxy is already started")
        try:
            for route in self.routes:
                self._bind(route)
            for listener in self._listeners.values():
                self.store.save_endpoint(listener.endpoint)
        except BaseException:  # a port taken or the store down: nothing left listening
            for listener in self._listeners.values():
                listener.sock.close()
            self._listeners.clear()
            raise
        if self.validate:
            self._validation = ValidationWorker(
                self.store, self.limits.validation_queue, self.limits.record_body_bytes
            )
            self._validation.start()
        self._recorder = Recorder(
            self.store,
            self.session_id,
            {eid: listener.endpoint for eid, listener in self._listeners.items()},
            self.limits.record_queue,
            self._validation,
            self.limits.record_threads,
        )
        self._recorder.start()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.limits.worker_threads, thread_name_prefix="kcert-proxy-conn"
        )
        self._parking = Parking(self._resume, self._finish)
        self._parking.start()
        for listener in self._listeners.values():
            listener.thread = threading.Thread(
                target=self._accept_loop,
                args=(listener,),
                name=f"kcert-proxy-accept-{listener.endpoint.endpoint_id}",
                daemon=True,
            )
            listener.thread.start()

    def _bind(self, route: Route) -> None:
        spec = route.spec
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, spec.listen_port))
            sock.listen(BACKLOG)
        except OSError as exc:
            sock.close()
            raise ProxyError(
                f"endpoint {spec.endpoint_id}: cannot listen on {HOST}:{spec.listen_port}: "
                f"{exc.strerror or exc}"
            ) from None
        sock.settimeout(ACCEPT_POLL)
        port = sock.getsockname()[1]
        scheme = "https" if route.server_tls is not None else "http"
        endpoint = Endpoint(
            endpoint_id=spec.endpoint_id,
            session_id=self.session_id,
            system_id=spec.system_id,
            role=spec.role,
            listen_url=f"{scheme}://{HOST}:{port}{route.target.path}",
            target_url=spec.target_url,
        )
        self._listeners[spec.endpoint_id] = _Listener(route, sock, endpoint)

    def url_for(self, endpoint_id: str) -> str:
        """Where others send to reach `endpoint_id` through the proxy (its target's path kept,
        so the request-target needs no rewriting)."""
        try:
            return self._listeners[endpoint_id].endpoint.listen_url
        except KeyError:
            known = ", ".join(sorted(self._listeners)) or "none (not started?)"
            raise KeyError(f"no endpoint {endpoint_id!r}; the proxy has {known}") from None

    @property
    def endpoints(self) -> list[Endpoint]:
        return [listener.endpoint for listener in self._listeners.values()]

    def stop(self) -> None:
        """Stop listening, finish or close connections, then drain recording and validation
        (every wait bounded by ProxyLimits.stop_grace)."""
        if self._pool is None or self._stopping.is_set():
            return
        self._stopping.set()
        for listener in self._listeners.values():
            with contextlib.suppress(OSError):
                listener.sock.shutdown(socket.SHUT_RDWR)
        for listener in self._listeners.values():
            if listener.thread is not None:
                listener.thread.join(ACCEPT_POLL * 2)
            listener.sock.close()
        grace = self.limits.stop_grace
        with self._lock:
            futures = set(self._futures)
        _, pending = concurrent.futures.wait(futures, timeout=grace)
        if pending:
            with self._lock:
                busy = [f for f in self._active if not f.idle.is_set()]
            for forwarder in busy:
                forwarder.interrupt()
            concurrent.futures.wait(pending, timeout=1.0)
        assert self._parking is not None
        self._parking.stop()  # every parked connection closed
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._recorder is not None:
            self._recorder.stop(grace)
        if self._validation is not None:
            self._validation.stop(grace)

    # -- connections -----------------------------------------------------------------------------

    def _accept_loop(self, listener: _Listener) -> None:
        assert self._pool is not None
        while not self._stopping.is_set():
            try:
                client, _ = listener.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was shut down
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not self._slots.acquire(blocking=False):
                self._reject(client, listener)
                continue
            forwarder = Forwarder(client, listener.route, self.limits, self._emit, self._stopping)
            with self._lock:
                self._active.add(forwarder)
            if forwarder.secured:
                assert self._parking is not None
                self._parking.park(forwarder, self.limits.read_timeout)  # its first request
            else:
                self._resume(forwarder)  # the TLS handshake, in a pool thread

    def _resume(self, forwarder: Forwarder, woken: bool = True) -> None:
        """Hand `forwarder` to the pool for a turn (from the accept or the parking thread)."""
        assert self._pool is not None
        future: concurrent.futures.Future[None] | None = None
        with self._lock, contextlib.suppress(RuntimeError):  # the pool shut down (stop)
            future = self._pool.submit(self._turn, forwarder, woken)
            self._futures.add(future)
        if future is None:
            self._finish(forwarder)
        else:
            future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _turn(self, forwarder: Forwarder, woken: bool) -> None:
        try:
            keep = forwarder.turn(woken)
        except Exception:  # kcert's fault: this connection ends, the proxy goes on
            log.exception("serving a connection on %s failed", forwarder.route.spec.endpoint_id)
            keep = False
        if keep and not self._stopping.is_set():
            assert self._parking is not None
            self._parking.park(forwarder, self.limits.idle_timeout)
        else:
            self._finish(forwarder)

    def _finish(self, forwarder: Forwarder) -> None:
        """Close a connection and free its place (once)."""
        with self._lock:
            if forwarder not in self._active:
                return
            self._active.discard(forwarder)
        forwarder.close()
        self._slots.release()

    def _emit(self, capture: Capture) -> None:
        assert self._recorder is not None
        self._recorder.submit(capture)

    def _reject(self, client: socket.socket, listener: _Listener) -> None:
        """Beyond max_connections: 503 and close, recorded with the request line if it came."""
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        with self._lock:
            self._rejected += 1
        limit = self.limits.max_connections
        capture = Capture(listener.endpoint.endpoint_id, started)
        capture.error = f"too many connections: {limit} already open (ProxyLimits.max_connections)"
        capture.answered = 503
        try:
            if listener.route.server_tls is None:
                client.settimeout(REJECT_READ)
                try:
                    first = client.recv(self.limits.max_header_bytes)
                except (TimeoutError, OSError):
                    first = b""
                line = first.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                if len(line) == 3:
                    capture.method, capture.target = line[0][:16], line[1]
                client.settimeout(REJECT_READ * 4)
                client.sendall(error_response(503, capture.error))
            # a TLS client is closed without an answer: the handshake would cost a thread
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        capture.elapsed_ms = round((time.monotonic() - clock) * 1000, 3)
        self._emit(capture)

    # -- what it did ---------------------------------------------------------------------------

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every captured exchange is stored and validated (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        queues = [w.queue for w in (self._recorder, self._validation) if w is not None]
        while time.monotonic() < deadline:
            with self._lock:
                busy = any(not forwarder.idle.is_set() for forwarder in self._active)
            if not busy and all(q.unfinished_tasks == 0 for q in queues):
                return True
            time.sleep(0.01)
        return False

    @property
    def stats(self) -> ProxyStats:
        recorded = self._recorder.stats if self._recorder else RecorderStats()
        validation = self._validation
        return ProxyStats(
            exchanges=recorded.recorded,
            rejected=self._rejected,
            store_failures=recorded.failures + (validation.failures if validation else 0),
            validation_skipped=recorded.validation_skipped,
            validated=validation.validated if validation else 0,
            open_connections=len(self._active),
        )


__all__ = ["ProxyError", "ProxyStats", "RecordingProxy", "SpecError"]
