"""kcert as the receiving organisation: an HTTP(S) endpoint the SUT sends to.

The send side of a test needs a peer (the municipality, the document repository) that receives
what the SUT sends, answers it (acknowledgement, receipt, or deliberately nothing) and keeps
every request as an inbound `Exchange` for the checks. A session owns its peers
(`PeerServers`): one server per peer configuration, started on first use and stopped when the
session closes, each with its own port and its own armed responder, so two sessions (two SUTs)
can run at the same time in one process. A server listens on 127.0.0.1 by default, or where
the SUT configuration's `peer:` says (bind address, advertised URL, TLS with an optional
client-certificate check).

A TLS connection the peer refuses (no client certificate, one from another CA, plain HTTP on
the TLS port) is recorded too: an inbound `Exchange` without a status whose `error` says why,
so the step's evidence shows what the SUT tried; it does not count as a delivered request.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.dates import now_iso
from harness.model.exchange import Exchange
from harness.sut.peer_config import PeerConfig, server_context
from harness.transport.base import Stopwatch, redact_headers

MAX_INBOUND_BYTES = 10 * 1024 * 1024
MAX_RECORDED = 5_000  # requests and refusals kept per peer server
MAX_CHUNKS = 10_000  # a chunked body in more pieces than this is refused, not read forever
READ_TIMEOUT_S = 10.0
SHUTDOWN_POLL_S = 0.05  # how soon the accept loop notices close()


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str = ""
    body: bytes = b""


Responder = Callable[[str, str, dict[str, str], bytes], Reply]  # method, path, headers, body


def _refuse(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
    return Reply(503, "text/plain", b"kcert peer: no test step is waiting for a message\n")


class PeerError(RuntimeError):
    """kcert's peer cannot listen where it is configured to (address taken, not local)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Queued connections a slow handshake may not starve; bounded like everything else.
    request_queue_size = 64

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a sender that drops its connection mid-request is no traceback on the
        tester's terminal (what arrived is recorded, what did not is not a request)."""


def _read_body(handler: BaseHTTPRequestHandler) -> tuple[bytes, Reply | None]:
    """The request body (Content-Length or chunked), bounded; or the answer refusing it."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(handler)
    text = handler.headers.get("Content-Length") or "0"
    if not text.strip().isdigit():
        return b"", Reply(400, "text/plain", b"bad Content-Length\n")
    length = int(text)
    if length > MAX_INBOUND_BYTES:
        return b"", Reply(413, "text/plain", b"too large\n")
    return (handler.rfile.read(length) if length else b""), None


def _read_chunked(handler: BaseHTTPRequestHandler) -> tuple[bytes, Reply | None]:
    parts: list[bytes] = []
    total = 0
    for _ in range(MAX_CHUNKS):
        size_line = handler.rfile.readline(100).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            return b"", Reply(400, "text/plain", b"bad chunk size\n")
        if size == 0:
            for _ in range(MAX_CHUNKS):  # trailers up to the empty line
                if handler.rfile.readline(1000) in (b"\r\n", b"\n", b""):
                    break
            return b"".join(parts), None
        total += size
        if total > MAX_INBOUND_BYTES:
            return b"", Reply(413, "text/plain", b"too large\n")
        parts.append(handler.rfile.read(size))
        handler.rfile.readline(3)  # the CRLF after the chunk
    return b"", Reply(400, "text/plain", b"too many chunks\n")


class _Server6(_Server):
    address_family = socket.AF_INET6


class PeerServer:
    """A threaded server; `expect()` arms it for one step, `wait()` collects."""

    def __init__(self, host: str | PeerConfig = "127.0.0.1") -> None:
        config = host if isinstance(host, PeerConfig) else PeerConfig(host=host)
        self.config = config
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._responder: Responder = _refuse
        self.received: list[Exchange] = []  # delivered requests and refused connections
        server_class = _Server6 if ":" in config.host else _Server
        try:
            self._server = server_class((config.host, config.port), self._handler_class())
        except OSError as exc:
            raise PeerError(
                f"kcert's peer cannot listen on {config.public_dict()['bind']}: "
                f"{exc.strerror or exc}"
            ) from None
        self._tls = server_context(config) if config.tls else None
        if self._tls is not None:
            # The handshake runs in the handler thread, so a client that stalls or is refused
            # neither blocks the accept loop nor goes unrecorded.
            self._server.socket = self._tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        # serve_forever looks for shutdown() every poll interval: the default 0.5 s made every
        # session's close wait up to half a second per peer.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True
        )
        self._thread.start()

    @property
    def bound_url(self) -> str:
        """Where the server actually listens (scheme, address, port)."""
        host, port = self._server.server_address[:2]
        scheme = "https" if self._tls is not None else "http"
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"{scheme}://{shown}:{port}"

    @property
    def base_url(self) -> str:
        """The URL the SUT is told to send to: the advertised one, else the bound one."""
        return self.config.advertise or self.bound_url

    @property
    def delivered(self) -> list[Exchange]:
        with self._lock:
            return [e for e in self.received if not e.error]

    def expect(self, responder: Responder) -> int:
        """Answer the coming requests with `responder`; returns the mark for `wait`."""
        with self._lock:
            self._responder = responder
            return len(self.received)

    def wait(self, mark: int, count: int = 1, timeout_s: float = 10.0) -> list[Exchange]:
        """What arrived since `mark` (refused connections included), once `count` requests
        were delivered or the time is up (bounded)."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while sum(1 for e in self.received[mark:] if not e.error) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return list(self.received[mark:])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, exchange: Exchange) -> bool:
        """Keep `exchange`; False once the record is full (a peer open to a network must not
        grow without bound: far more than any run's inbound requests)."""
        with self._arrived:
            if len(self.received) >= MAX_RECORDED:
                return False
            self.received.append(exchange)
            self._arrived.notify_all()
            return True

    def _refused(self, client: tuple[str, int], exc: BaseException) -> None:
        reason = str(getattr(exc, "reason", None) or type(exc).__name__)
        # "[SSL: REASON] what happened (_ssl.c:1006)" -> "what happened"
        said = re.search(r"\] (.+?)(?: \(_ssl\.c:\d+\))?$", str(exc))
        detail = (said.group(1) if said else str(exc))[:200]
        error = f"kcert's peer refused the TLS connection from {client[0]}: " + (
            f"{detail} ({reason})" if detail and detail != reason else reason
        )
        self._record(
            Exchange(
                "TLS",
                self.base_url,
                {"X-Kcert-Client": f"{client[0]}:{client[1]}"},
                b"",
                # what kcert "answered": the refusal, so the evidence file says why
                response_headers={"Content-Type": "text/plain"},
                response_body=f"{error}\n".encode(),
                started=now_iso("milliseconds"),
                error=error,
                inbound=True,
            )
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT_S  # a sender that stalls cannot hold a thread forever

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: every request is recorded as evidence instead."""

            def handle(self) -> None:
                if isinstance(self.connection, ssl.SSLSocket):
                    try:
                        self.connection.do_handshake()
                    except (ssl.SSLError, OSError) as exc:
                        peer._refused(self.client_address, exc)
                        self.close_connection = True
                        return
                super().handle()

            def _serve(self) -> None:
                watch = Stopwatch()
                headers = {k: v for k, v in self.headers.items()}
                body, problem = _read_body(self)
                if problem is not None:
                    reply = problem
                else:
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
                    truncated=problem is not None and problem.status == 413,
                    inbound=True,
                )
                exchange.duration_ms = watch.elapsed_ms()
                # Recorded before the answer goes out: once the sender has its answer, the
                # exchange is already there for whoever waits on it.
                if not peer._record(exchange):
                    reply = Reply(503, "text/plain", b"kcert peer: record full\n")
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


class PeerServers:
    """The peer servers of one session: started on first use, one per configuration, all
    stopped by `close()`. Nothing here is shared between sessions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[PeerConfig, PeerServer] = {}
        self._closed = False

    def server(self, config: PeerConfig | None = None) -> PeerServer:
        """This session's server for `config` (default: loopback, any free port)."""
        key = config or PeerConfig()
        with self._lock:
            if self._closed:
                raise PeerError("kcert's peers of this session are closed")
            if key not in self._servers:
                self._servers[key] = PeerServer(key)
            return self._servers[key]

    @property
    def running(self) -> list[PeerServer]:
        with self._lock:
            return list(self._servers.values())

    def close(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
            self._closed = True
        for server in servers:
            server.close()
