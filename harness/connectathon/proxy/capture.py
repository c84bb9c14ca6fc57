"""What the proxy saw of one exchange, before anything is redacted, masked or matched."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field


def iso_ms(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def new_exchange_id() -> str:
    """A permanent id (the web application links /exchanges/<id>), taken when the exchange
    begins: its nanosecond clock first, so ids sort as the exchanges began, also within one
    millisecond of `started`; random digits after it keep two proxies' ids apart."""
    return f"x-{time.time_ns():016x}-{uuid.uuid4().hex[:12]}"


@dataclass
class Capture:
    """One exchange on one endpoint as forwarded: bodies already capped at what is recorded."""

    endpoint_id: str
    started_at: dt.datetime  # UTC
    exchange_id: str = field(default_factory=new_exchange_id)
    elapsed_ms: float = 0.0
    method: str = ""
    target: str = ""  # the request-target as sent (path and query)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    request_truncated: bool = False  # the body was longer than record_body_bytes
    request_length: int = 0  # the body's whole length (as forwarded)
    status: int | None = None  # the target's status; None when it gave none
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    response_truncated: bool = False
    response_length: int = 0
    error: str = ""  # why the exchange did not complete as the client asked
    answered: int | None = None  # the status the proxy itself answered with, on an error

    @property
    def started(self) -> str:
        return iso_ms(self.started_at)
