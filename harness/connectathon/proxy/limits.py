"""The recording proxy's bounds: every size, count and wait it allows, named in one place."""

from __future__ import annotations

from dataclasses import dataclass, fields

KIB = 1024
MIB = 1024 * KIB


class LimitsError(ValueError):
    """A ProxyLimits value is out of range: every limit is a positive number (the message
    names the field and the value given)."""


@dataclass(frozen=True)
class ProxyLimits:
    """What one proxy allows; each limit, when it fires, becomes the exchange's `error`."""

    # sizes (bytes)
    max_request_body: int = 10 * MIB  # larger: 413 to the client, nothing forwarded
    max_response_body: int = 10 * MIB  # larger: 502 to the client
    max_header_bytes: int = 64 * KIB  # request or response head (start line + headers)
    record_body_bytes: int = 2 * MIB  # what the store keeps (and live validation reads)
    # waits (seconds)
    connect_timeout: float = 5.0  # opening the connection to the target
    read_timeout: float = 30.0  # silence from either side in the middle of a message
    exchange_timeout: float = 60.0  # one exchange, first request byte to last response byte
    idle_timeout: float = 15.0  # a kept-alive client connection waiting for its next request
    stop_grace: float = 5.0  # exchanges in flight at stop() get this long to finish
    # counts
    max_connections: int = 256  # open client connections over all endpoints; beyond: 503
    worker_threads: int = 32  # exchanges forwarded at once; more wait for a thread
    max_exchanges_per_connection: int = 1000  # then the connection is closed
    validation_queue: int = 64  # exchanges waiting for live validation; beyond: skipped
    record_queue: int = 1024  # exchanges waiting to be stored; beyond: stored synchronously
    record_threads: int = 4  # threads storing exchanges (and matching them to instances)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise LimitsError(
                    f"ProxyLimits.{item.name} must be a positive number, not {value!r}"
                )
