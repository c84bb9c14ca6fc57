"""kcert as the receiving organisation: an HTTP endpoint on 127.0.0.1 the SUT sends to.

The send side of a test needs a peer (the municipality) that receives what the SUT sends,
answers it (acknowledgement, receipt, or deliberately nothing) and keeps every request as an
inbound `Exchange` for the checks. One server per kcert process, started on first use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.model.exchange import Exchange
from harness.transport.base import Stopwatch, redact_headers

MAX_INBOUND_BYTES = 10 * 1024 * 1024
READ_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str = ""
    body: bytes = b""


Responder = Callable[[str, str, dict[str, str], bytes], Reply]  # method, path, headers, body


def _refuse(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
    return Reply(503, "text/plain", b"kcert peer: no test step is waiting for a message\n")


class PeerServer:
    """A threaded loopback server; `expect()` arms it for one step, `wait()` collects."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._responder: Responder = _refuse
        self.received: list[Exchange] = []
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def expect(self, responder: Responder) -> int:
        """Answer the coming requests with `responder`; returns the mark for `wait`."""
        with self._lock:
            self._responder = responder
            return len(self.received)

    def wait(self, mark: int, count: int = 1, timeout_s: float = 10.0) -> list[Exchange]:
        """The requests since `mark`, once `count` arrived or the time is up (bounded)."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.received) - mark < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return list(self.received[mark:])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, exchange: Exchange) -> None:
        with self._arrived:
            self.received.append(exchange)
            self._arrived.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT_S  # a sender that stalls cannot hold a thread forever

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: every request is recorded as evidence instead."""

            def _serve(self) -> None:
                watch = Stopwatch()
                headers = {k: v for k, v in self.headers.items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_INBOUND_BYTES:
                    reply = Reply(413, "text/plain", b"too large\n")
                    body = b""
                else:
                    body = self.rfile.read(length) if length > 0 else b""
                    with peer._lock:
                        responder = peer._responder
                    try:
                        reply = responder(self.command, self.path, headers, body)
                    except Exception as exc:  # kcert's own fault: answer, record, never hang
                        reply = Reply(500, "text/plain", f"kcert peer fault: {exc}\n".encode())
                exchange = Exchange(
                    self.command,
                    f"{peer.base_url}{self.path}",
                    redact_headers(headers),
                    body,
                    status=reply.status,
                    response_headers={"Content-Type": reply.content_type}
                    if reply.content_type
                    else {},
                    response_body=reply.body,
                    started=watch.started,
                    truncated=length > MAX_INBOUND_BYTES,
                    inbound=True,
                )
                exchange.duration_ms = watch.elapsed_ms()
                # Recorded before the answer goes out: once the sender has its answer, the
                # exchange is already there for whoever waits on it.
                peer._record(exchange)
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = _serve
            do_PUT = _serve
            do_GET = _serve

        return Handler


_shared: PeerServer | None = None
_shared_lock = threading.Lock()


def shared_peer() -> PeerServer:
    """The process's one peer server (started on first use, a daemon thread)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PeerServer()
        return _shared
