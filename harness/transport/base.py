"""The transport interface: one request in, one recorded `Exchange` out."""

from __future__ import annotations

import time
from typing import Protocol

from harness.dates import now_iso
from harness.model.exchange import Exchange
from harness.redact import redact_headers, redact_url

__all__ = [
    "Stopwatch",
    "Transport",
    "TransportError",
    "join_url",
    "redact_headers",
    "redact_url",
]


class TransportError(Exception):
    """The SUT could not be reached or did not answer in time: an error, never a fail."""


class Transport(Protocol):
    name: str

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        """Send a request to the named endpoint (e.g. "fhir", "agent") and record it."""
        ...

    def close(self) -> None: ...


def join_url(base: str, path: str) -> str:
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


class Stopwatch:
    def __init__(self) -> None:
        self.started = now_iso("milliseconds")
        self._t0 = time.perf_counter()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000.0
