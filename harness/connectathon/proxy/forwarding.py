"""One client connection: read each request, forward its bytes, return the target's bytes.

What is forwarded is what was read: the request line, the headers (Host included) and the
body go to the target as the client sent them, and the target's status line, headers and
body go back as the target sent them. Host stays the client's: the proxy is the address the
client was given for the system, so absolute links a target builds from Host point back
through the proxy (and stay recorded); TLS to the target checks the target's own name
(SNI and certificate), which Host does not take part in. Hop-by-hop headers are not removed
either: the proxy keeps a connection alive exactly as the two ends asked (HTTP/1.1 without
`Connection: close`), one target connection per client connection, and closes both when
either side says close, when a body is delimited by the close, or after a failure.

The proxy answers itself only when forwarding cannot go on: 400/408/413/431 for a request it
cannot frame, read in time or accept by size; 502 when the target refuses, breaks the
protocol or answers too much; 504 when the target is slow; each with `Connection: close`,
and the exchange is recorded with `error` saying what happened. `Expect: 100-continue` is
answered by the proxy (it has checked the announced size); interim answers of the target
are passed on, except a second 100. Protocol upgrades (101) are not supported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.connectathon.proxy.capture import Capture
from harness.connectathon.proxy.limits import ProxyLimits
from harness.connectathon.proxy.spec import EndpointSpec, Target
from harness.connectathon.proxy.wire import (
    Closed,
    Head,
    Malformed,
    Reader,
    TimedOut,
    TooLarge,
    WireError,
    read_body,
    read_head,
    request_framing,
    response_framing,
    send_all,
)

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def error_response(status: int, message: str) -> bytes:
    """The proxy's own answer: plain text, and the connection closes after it."""
    body = f"kcert proxy: {message}\n".encode()
    return (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii") + body


@dataclass
class Route:
    """An endpoint as the forwarder needs it."""

    spec: EndpointSpec
    target: Target
    server_tls: ssl.SSLContext | None  # terminating TLS: the proxy's certificate
    upstream_tls: ssl.SSLContext | None  # for an https target


class Failure(Exception):
    """Forwarding stops: the client gets `status` (when still possible), the record `error`."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _version_keeps_alive(version: str, connection: set[str]) -> bool:
    if "close" in connection:
        return False
    return version == "HTTP/1.1" or "keep-alive" in connection


class Forwarder:
    """One accepted client connection, served in turns by the pool's threads.

    A turn serves the requests the client has sent and ends when none is waiting: the
    connection is then parked (server.py watches it without a thread) until its next request
    arrives or `idle_timeout` passes. So kept-alive connections cost no thread while idle, and
    the pool bounds the exchanges in flight, not the connections open.
    """

    def __init__(
        self,
        client: socket.socket,
        route: Route,
        limits: ProxyLimits,
        emit: Callable[[Capture], None],
        stopping: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.stopping = stopping or threading.Event()
        self.route = route
        self.limits = limits
        self.emit = emit
        self.reader = Reader(client, limits.read_timeout)
        self.upstream: socket.socket | None = None
        self.upstream_reader: Reader | None = None
        self.served = 0  # exchanges on this connection
        self.secured = route.server_tls is None  # the TLS handshake is done (or not needed)
        self.idle = threading.Event()  # parked: between exchanges, safe to close at stop

    # -- the connection ------------------------------------------------------------------------

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.upstream = None

    def interrupt(self) -> None:
        """Stop: end a blocked read on either side (from another thread)."""
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def turn(self, woken: bool) -> bool:
        """Serve what the client sent; True: park the connection (kept alive, nothing
        waiting), False: close it. `woken`: the parked socket became readable."""
        self.idle.clear()
        if not self.secured:
            if not self._handshake():
                return False
            self.secured = True
            if not self._waiting():
                return True  # the first request comes later: parked, no thread held
            woken = False
        if (
            woken
            and not self._waiting()
            and not self.reader.wait_for_data(self.limits.read_timeout)
        ):
            return False  # readable at end of stream: the client closed
        while True:
            if self.served >= self.limits.max_exchanges_per_connection:
                return False
            self.served += 1
            if not self._one(self.reader):
                return False
            if self.stopping.is_set():
                return False  # stop(): no new exchange on a kept-alive connection
            if not self._waiting():
                return True

    def _waiting(self) -> bool:
        """Bytes already read or decrypted that a selector would not report."""
        if self.reader.buffer:
            return True
        return isinstance(self.client, ssl.SSLSocket) and self.client.pending() > 0

    def _handshake(self) -> bool:
        """TLS with the client, in a pool thread (a slow client never holds the accept
        loop); a failed handshake is recorded as an exchange with its error."""
        context = self.route.server_tls
        assert context is not None
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        self.client.settimeout(min(self.limits.read_timeout, self.limits.exchange_timeout))
        try:
            self.client = context.wrap_socket(self.client, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            capture = Capture(self.route.spec.endpoint_id, started)
            capture.error = f"TLS handshake with the client failed: {exc}"
            capture.elapsed_ms = round((time.monotonic() - clock) * 1000, 3)
            self.emit(capture)
            return False
        self.reader = Reader(self.client, self.limits.read_timeout)
        return True

    # -- one exchange --------------------------------------------------------------------------

    def _one(self, reader: Reader) -> bool:
        """Forward one exchange and emit its capture; False when the connection must close."""
        capture = Capture(self.route.spec.endpoint_id, dt.datetime.now(dt.UTC))
        clock = time.monotonic()
        deadline = clock + self.limits.exchange_timeout
        keep = False
        try:
            keep = self._forward(reader, capture, deadline)
        except (WireError, OSError) as exc:  # the client went away while interim answers flowed
            reason = exc.reason if isinstance(exc, WireError) else str(exc)
            capture.error = f"the connection broke: {reason}"
            self._drop_upstream()
        except Failure as failure:
            capture.error = failure.error
            capture.answered = failure.status
            if failure.status:
                with contextlib.suppress(WireError, OSError):
                    send_all(
                        self.client,
                        error_response(failure.status, failure.error),
                        self.limits.read_timeout,
                        time.monotonic() + self.limits.read_timeout,
                    )
        capture.elapsed_ms = round((time.monotonic() - clock) * 1000, 3)
        self.emit(capture)
        return keep

    def _forward(self, reader: Reader, capture: Capture, deadline: float) -> bool:
        limits = self.limits
        try:
            head = read_head(reader, limits.max_header_bytes, deadline)
        except TooLarge as exc:
            raise Failure(431, f"request head too large: {exc.reason}") from None
        except TimedOut as exc:
            raise Failure(
                408, f"the client did not send its request in time: {exc.reason}"
            ) from None
        except Closed as exc:
            raise Failure(0, f"the client closed the connection: {exc.reason}") from None
        except Malformed as exc:
            raise Failure(400, f"malformed request: {exc.reason}") from None
        method, target, version = _request_line(head)
        capture.method, capture.target = method, target
        capture.request_headers = head.headers
        try:
            framing = request_framing(head)
        except Malformed as exc:
            raise Failure(400, f"malformed request: {exc.reason}") from None
        if framing.kind == "length" and framing.length > limits.max_request_body:
            raise Failure(
                413,
                f"request body of {framing.length} bytes is larger than max_request_body "
                f"({limits.max_request_body})",
            )
        continued = False
        if "100-continue" in head.tokens("expect") and framing.kind != "none":
            send_all(self.client, CONTINUE, limits.read_timeout, deadline)
            continued = True
        try:
            body = read_body(reader, framing, limits.max_request_body, deadline)
        except TooLarge as exc:
            raise Failure(413, f"request body larger than max_request_body: {exc.reason}") from None
        except TimedOut as exc:
            raise Failure(408, f"the client did not send its body in time: {exc.reason}") from None
        except (Closed, Malformed) as exc:
            raise Failure(400, f"request body: {exc.reason}") from None
        capture.request_body, capture.request_truncated = _capped(body.content, limits)
        capture.request_length = len(body.content)
        client_keeps = _version_keeps_alive(version, head.tokens("connection"))

        response, response_body = self._exchange_upstream(
            head.raw + body.raw, method, capture, deadline, continued
        )
        try:
            send_all(self.client, response.raw + response_body, limits.read_timeout, deadline)
        except (WireError, OSError) as exc:
            reason = exc.reason if isinstance(exc, WireError) else str(exc)
            raise Failure(0, f"the client did not take the response: {reason}") from None
        upstream_keeps = capture.status is not None and self.upstream is not None
        return client_keeps and upstream_keeps

    def _exchange_upstream(
        self, request: bytes, method: str, capture: Capture, deadline: float, continued: bool
    ) -> tuple[Head, bytes]:
        limits = self.limits
        where = f"{self.route.target.host}:{self.route.target.port}"
        reader = self._connect(deadline)
        try:
            send_all(self._upstream_socket(), request, limits.read_timeout, deadline)
        except TimedOut as exc:
            self._drop_upstream()
            raise Failure(
                504, f"the target {where} did not take the request: {exc.reason}"
            ) from None
        except OSError as exc:
            self._drop_upstream()
            raise Failure(502, f"sending to the target {where} failed: {exc}") from None
        while True:
            try:
                head = read_head(reader, limits.max_header_bytes, deadline)
            except TimedOut as exc:
                self._drop_upstream()
                raise Failure(
                    504, f"the target {where} did not answer in time: {exc.reason}"
                ) from None
            except (Closed, OSError) as exc:
                self._drop_upstream()
                reason = exc.reason if isinstance(exc, WireError) else str(exc)
                raise Failure(502, f"the target {where} gave no answer: {reason}") from None
            except (TooLarge, Malformed) as exc:
                self._drop_upstream()
                raise Failure(502, f"the target's answer head: {exc.reason}") from None
            status = _status(head)
            if status is None:
                self._drop_upstream()
                raise Failure(502, f"the target's status line is not HTTP: {head.start[:80]!r}")
            if status == 101:
                self._drop_upstream()
                raise Failure(502, "the target switched protocols (101): upgrades are not proxied")
            if 100 <= status < 200:
                if not (status == 100 and continued):
                    send_all(self.client, head.raw, limits.read_timeout, deadline)
                continue
            break
        capture.status = status
        capture.response_headers = head.headers
        framing = response_framing(method, status, head)
        try:
            body = read_body(reader, framing, limits.max_response_body, deadline)
        except TooLarge as exc:
            self._drop_upstream()
            capture.status = None
            raise Failure(
                502, f"the target's answer is larger than max_response_body: {exc.reason}"
            ) from None
        except TimedOut as exc:
            self._drop_upstream()
            capture.status = None
            raise Failure(504, f"the target's answer body came too slowly: {exc.reason}") from None
        except (Closed, Malformed, OSError) as exc:
            self._drop_upstream()
            capture.status = None
            reason = exc.reason if isinstance(exc, WireError) else str(exc)
            raise Failure(502, f"the target's answer body: {reason}") from None
        capture.response_body, capture.response_truncated = _capped(body.content, limits)
        capture.response_length = len(body.content)
        version = head.start.split(" ", 1)[0]
        if framing.kind == "eof" or not _version_keeps_alive(version, head.tokens("connection")):
            self._drop_upstream()
        return head, body.raw

    # -- the target connection -----------------------------------------------------------------

    def _upstream_socket(self) -> socket.socket:
        assert self.upstream is not None
        return self.upstream

    def _drop_upstream(self) -> None:
        if self.upstream is not None:
            with contextlib.suppress(OSError):
                self.upstream.close()
        self.upstream = None
        self.upstream_reader = None

    def _connect(self, deadline: float) -> Reader:
        """The kept target connection when it is still open, else a new one."""
        if self.upstream is not None and self.upstream_reader is not None:
            if _still_open(self.upstream) and not self.upstream_reader.buffer:
                return self.upstream_reader
            self._drop_upstream()
        target = self.route.target
        where = f"{target.host}:{target.port}"
        timeout = min(self.limits.connect_timeout, max(deadline - time.monotonic(), 0.001))
        try:
            sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except ConnectionRefusedError:
            raise Failure(502, f"the target {where} refused the connection") from None
        except TimeoutError:
            raise Failure(
                504, f"the target {where} did not accept within {timeout:g} s (connect_timeout)"
            ) from None
        except OSError as exc:
            raise Failure(502, f"the target {where} cannot be reached: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.route.upstream_tls is not None:
            try:
                sock = self.route.upstream_tls.wrap_socket(sock, server_hostname=target.host)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise Failure(502, f"TLS to the target {where} failed: {exc}") from None
        self.upstream = sock
        self.upstream_reader = Reader(sock, self.limits.read_timeout)
        return self.upstream_reader


def _request_line(head: Head) -> tuple[str, str, str]:
    parts = head.start.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
        raise Failure(400, f"malformed request line: {head.start[:80]!r}")
    return parts[0], parts[1], parts[2]


def _status(head: Head) -> int | None:
    parts = head.start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return None
    status = int(parts[1])
    return status if 100 <= status <= 599 else None


def _capped(content: bytes, limits: ProxyLimits) -> tuple[bytes, bool]:
    if len(content) > limits.record_body_bytes:
        return content[: limits.record_body_bytes], True
    return content, False


def _still_open(sock: socket.socket) -> bool:
    """A kept-alive target connection is usable when nothing is waiting on it: readable
    between exchanges means the target closed it (or sent what nobody asked for)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    return not readable
