"""What the recording proxy's tests share: a raw loopback target that keeps the exact bytes
it received, a raw client, and the real connectathon store on SQLite (fixtures)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.connectathon.store import ConnectathonStore

HOST = "127.0.0.1"
WAIT = 10.0  # every wait in these tests is bounded


def read_message(sock: socket.socket, *, head_only_body: bool = False) -> bytes:
    """One HTTP/1.1 message off `sock` as raw bytes (Content-Length or chunked framing), read
    independently of the proxy's own framing code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if head_only_body:
        return head + b"\r\n\r\n"
    if b"content-length" in headers:
        size = int(headers[b"content-length"])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head + b"\r\n\r\n" + rest[:size]
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not _chunked_done(rest):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head + b"\r\n\r\n" + rest
    return head + b"\r\n\r\n"


def _chunked_done(rest: bytes) -> bool:
    """The last chunk and the trailers' empty line came (enough for these tests' bodies)."""
    return rest.endswith(b"\r\n\r\n") and (rest.startswith(b"0\r\n") or b"\r\n0\r\n" in rest)


def response(status: int, body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


@dataclass
class RawTarget:
    """A loopback HTTP target: keeps each request's bytes, answers with `answer(request)`."""

    answer: Callable[[bytes], bytes] = lambda request: response(200, b"ok")
    delay: float = 0.0  # before answering: a slow target
    close_after: bool = False  # close the connection after each answer (a close-delimited body)
    received: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    tls: ssl.SSLContext | None = None  # an https target
    handshake_errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(WAIT)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self.handshake_errors.append(str(exc))
                conn.close()
                return
        with conn:
            while True:
                try:
                    request = read_message(conn)
                except OSError:
                    return
                if not request:
                    return
                self.received.append(request)
                if self.delay:
                    time.sleep(self.delay)
                try:
                    conn.sendall(self.answer(request))
                except OSError:
                    return
                if self.close_after:
                    return


@contextmanager
def raw_target(target: RawTarget | None = None) -> Iterator[RawTarget]:
    target = target or RawTarget()
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(16)
    listener.settimeout(0.2)
    target.port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            target.connections += 1
            threading.Thread(target=target._serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def exchange_raw(port: int, request: bytes, sock: socket.socket | None = None) -> bytes:
    """Send `request` as bytes to the proxy and read the one answer (raw)."""
    own = sock is None
    sock = sock or socket.create_connection((HOST, port), timeout=WAIT)
    try:
        sock.sendall(request)
        return read_message(sock)
    finally:
        if own:
            sock.close()


def free_port() -> int:
    """A port nothing listens on (bound and released): a refused target."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def sqlite_store(tmp_path: Path) -> ConnectathonStore:
    return ConnectathonStore(f"sqlite:///{tmp_path / 'runs.db'}")


# The fixtures every proxy test module binds (`store, session = kit.store, kit.session`).


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConnectathonStore]:
    """The real connectathon store on a SQLite file of the test's own."""
    opened = sqlite_store(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def session(store: ConnectathonStore) -> str:
    return store.create_session("Proxy test", "2026-12-03", "2026-12-04", []).session_id


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])
