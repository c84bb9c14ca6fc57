"""HTTP/1.1 messages read off a socket as the bytes that came, with their framing understood.

The proxy forwards what it read (`Head.raw`, `Body.raw`) and records what it means
(`Head.headers`, `Body.content`: the body with chunked framing removed). Every read runs
under two clocks: `read_timeout` for silence and the exchange's `deadline` for the whole, so a
peer that drips one byte at a time cannot hold a connection longer than the exchange allows.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Literal

CRLF = b"\r\n"
MAX_LINE = 8 * 1024  # a chunk-size line or one header line
RECV_BYTES = 64 * 1024


class WireError(Exception):
    """Base of what can go wrong reading a message; `reason` is said to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLarge(WireError):
    """A head or body is larger than the proxy's limit allows."""


class TimedOut(WireError):
    """The peer was silent too long, or the exchange ran out of time."""


class Malformed(WireError):
    """The bytes are not an HTTP/1.1 message the proxy can frame."""


class Closed(WireError):
    """The peer closed the connection (before a message began, or in the middle of one)."""


class Reader:
    """Buffered reads from one socket under a silence timeout and an exchange deadline."""

    def __init__(self, sock: socket.socket, read_timeout: float) -> None:
        self.sock = sock
        self.read_timeout = read_timeout
        self.buffer = bytearray()

    def fill(self, deadline: float) -> bool:
        """Receive more bytes; False at end of stream."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimedOut("the exchange took longer than exchange_timeout")
        self.sock.settimeout(min(self.read_timeout, remaining))
        try:
            data = self.sock.recv(RECV_BYTES)
        except TimeoutError:
            if remaining <= self.read_timeout:
                raise TimedOut("the exchange took longer than exchange_timeout") from None
            raise TimedOut(f"no bytes for {self.read_timeout:g} s (read_timeout)") from None
        except ConnectionResetError:
            raise Closed("the connection was reset") from None
        if not data:
            return False
        self.buffer += data
        return True

    def wait_for_data(self, timeout: float) -> bool:
        """True when a byte is ready within `timeout` (the next request on a kept-alive
        connection); False when the peer closed or stayed silent."""
        if self.buffer:
            return True
        try:
            return self.fill(time.monotonic() + timeout)
        except (TimedOut, Closed, OSError):
            return False

    def readline(self, limit: int, deadline: float) -> bytes:
        """One line with its CRLF (or bare LF); TooLarge beyond `limit` bytes."""
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end >= 0:
                if end + 1 > limit:
                    raise TooLarge(f"a line longer than {limit} bytes")
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                return line
            if len(self.buffer) > limit:
                raise TooLarge(f"a line longer than {limit} bytes")
            start = len(self.buffer)
            if not self.fill(deadline):
                raise Closed("the connection closed in the middle of a line")

    def read_exact(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            if not self.fill(deadline):
                raise Closed(f"the connection closed {size - len(self.buffer)} bytes early")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_to_eof(self, limit: int, deadline: float) -> bytes:
        while self.fill(deadline):
            if len(self.buffer) > limit:
                raise TooLarge(f"a body larger than {limit} bytes")
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def send_all(sock: socket.socket, data: bytes, read_timeout: float, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimedOut("the exchange took longer than exchange_timeout")
    sock.settimeout(min(read_timeout, remaining))
    try:
        sock.sendall(data)
    except TimeoutError:
        raise TimedOut("the peer did not take the bytes in time") from None


@dataclass
class Head:
    """A start line and its headers, exactly as read (`raw`) and taken apart."""

    raw: bytes
    start: str  # the start line, decoded as Latin-1 (HTTP's own octets)
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def get(self, name: str) -> str | None:
        found = self.values(name)
        return ", ".join(found) if found else None

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every `name` header, lower case."""
        return {
            token.strip().lower()
            for value in self.values(name)
            for token in value.split(",")
            if token.strip()
        }


def read_head(reader: Reader, limit: int, deadline: float) -> Head:
    """A message head up to its empty line; Closed when the stream ends before a byte."""
    raw = bytearray()
    lines: list[str] = []
    while True:
        if not reader.buffer and not raw and not reader.fill(deadline):
            raise Closed("the connection closed before a message began")
        try:
            line = reader.readline(min(MAX_LINE, limit - len(raw) + 1), deadline)
        except TooLarge:
            raise TooLarge(
                f"a message head larger than {limit} bytes (max_header_bytes) or a line in it "
                f"longer than {MAX_LINE}"
            ) from None
        raw += line
        if len(raw) > limit:
            raise TooLarge(f"a message head larger than {limit} bytes (max_header_bytes)")
        text = line.rstrip(b"\r\n").decode("latin-1")
        if not text:
            if not lines:
                continue  # RFC 9112 2.2: empty lines before a request line are ignored
            break
        lines.append(text)
    headers: list[tuple[str, str]] = []
    for text in lines[1:]:
        if text[:1] in (" ", "\t"):
            raise Malformed("a folded header line (obsolete line folding is refused)")
        name, colon, value = text.partition(":")
        if not colon or not name or name != name.strip():
            raise Malformed(f"a header line without a name and colon: {text[:80]!r}")
        headers.append((name, value.strip(" \t")))
    return Head(bytes(raw), lines[0], headers)


# -- framing --------------------------------------------------------------------------------------

FramingKind = Literal["none", "length", "chunked", "eof"]


@dataclass(frozen=True)
class Framing:
    kind: FramingKind
    length: int = 0


def _content_length(head: Head) -> int | None:
    values = {v.strip() for value in head.values("content-length") for v in value.split(",")}
    if not values:
        return None
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise Malformed(f"Content-Length {', '.join(sorted(values))!r} is not one number")
    return int(next(iter(values)))


def request_framing(head: Head) -> Framing:
    """RFC 9112 6.3 for a request; both Transfer-Encoding and Content-Length is refused
    (the classic request-smuggling shape)."""
    coding = [t.strip().lower() for v in head.values("transfer-encoding") for t in v.split(",")]
    length = _content_length(head)
    if coding:
        if length is not None:
            raise Malformed("both Transfer-Encoding and Content-Length")
        if coding[-1] != "chunked":
            raise Malformed(f"Transfer-Encoding {', '.join(coding)} does not end in chunked")
        return Framing("chunked")
    if length is not None:
        return Framing("length", length)
    return Framing("none")


def response_framing(method: str, status: int, head: Head) -> Framing:
    """RFC 9112 6.3 for a response to `method`."""
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return Framing("none")
    coding = [t.strip().lower() for v in head.values("transfer-encoding") for t in v.split(",")]
    if coding:
        return Framing("chunked") if coding[-1] == "chunked" else Framing("eof")
    length = _content_length(head)
    if length is not None:
        return Framing("length", length)
    return Framing("eof")


@dataclass
class Body:
    raw: bytes  # the bytes as framed on the wire
    content: bytes  # the body itself (chunked framing and trailers removed)


def read_body(reader: Reader, framing: Framing, limit: int, deadline: float) -> Body:
    """The body `framing` describes; TooLarge beyond `limit` bytes of content."""
    if framing.kind == "none":
        return Body(b"", b"")
    if framing.kind == "length":
        if framing.length > limit:
            raise TooLarge(f"a body of {framing.length} bytes, larger than {limit}")
        data = reader.read_exact(framing.length, deadline)
        return Body(data, data)
    if framing.kind == "eof":
        data = reader.read_to_eof(limit, deadline)
        return Body(data, data)
    return _read_chunked(reader, limit, deadline)


def _read_chunked(reader: Reader, limit: int, deadline: float) -> Body:
    raw = bytearray()
    content = bytearray()
    # the framing itself is bounded too: many one-byte chunks with long extensions
    raw_limit = 2 * limit + MAX_LINE * 16
    while True:
        line = reader.readline(MAX_LINE, deadline)
        raw += line
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Malformed(f"a chunk size that is not hexadecimal: {size_text[:20]!r}") from None
        if size < 0:
            raise Malformed("a negative chunk size")
        if size == 0:
            break
        if len(content) + size > limit:
            raise TooLarge(f"a chunked body larger than {limit} bytes")
        data = reader.read_exact(size + 2, deadline)
        if data[-2:] != CRLF:
            raise Malformed("a chunk not followed by CRLF")
        raw += data
        content += data[:-2]
        if len(raw) > raw_limit:
            raise TooLarge(f"chunked framing larger than {raw_limit} bytes")
    while True:  # trailers, up to the empty line
        line = reader.readline(MAX_LINE, deadline)
        raw += line
        if len(raw) > raw_limit:
            raise TooLarge(f"chunked trailers larger than {raw_limit} bytes")
        if line in (CRLF, b"\n"):
            break
    return Body(bytes(raw), bytes(content))
