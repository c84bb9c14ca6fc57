"""The web application's bounds, and the login rate limiter (per username and client)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class RateLimit:
    """At most `attempts` failed logins per `window` seconds for one key."""

    name: str
    attempts: int
    window: float
    scope: Literal["account-client", "client"] = "account-client"


# Named so a 429 and the log say which limit fired.
LOGIN_PER_ACCOUNT_CLIENT = RateLimit("login-per-account-client", attempts=5, window=900.0)
LOGIN_PER_CLIENT = RateLimit("login-per-client", attempts=30, window=900.0, scope="client")


@dataclass(frozen=True)
class WebLimits:
    login_limits: tuple[RateLimit, ...] = (LOGIN_PER_ACCOUNT_CLIENT, LOGIN_PER_CLIENT)
    session_max_age: int = 8 * 3600  # seconds a session stays valid without being used
    session_lifetime: int = 12 * 3600  # seconds after the login a session ends, used or not
    max_body: int = 12 * 1024 * 1024  # bytes of any request body
    max_attachment: int = 2 * 1024 * 1024  # bytes of one attachment
    max_attachments: int = 5  # files per grading act
    max_comment: int = 4000  # characters
    max_form_fields: int = 20
    shown_body: int = 256 * 1024  # bytes of a recorded body the exchange page shows
    max_exchanges_shown: int = 500  # exchanges listed on one page
    sse_max_seconds: float = 300.0  # one event stream's life; EventSource reconnects after
    sse_interval: float = 2.0  # seconds between looks at the store
    sse_heartbeat: float = 15.0  # seconds between comment lines that keep proxies from closing
    sse_max_streams: int = 50  # concurrent event streams
    poll_interval: float = 5.0  # seconds, for the polling fallback without EventSource


@dataclass
class _Bucket:
    failures: deque[float] = field(default_factory=deque)


class LoginLimiter:
    """Counts failed logins per (limit, key) in sliding windows; thread-safe, bounded in keys."""

    MAX_KEYS = 10_000

    def __init__(
        self, limits: tuple[RateLimit, ...], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def _keys(self, username: str, client: str) -> list[tuple[RateLimit, tuple[str, str]]]:
        out = []
        for limit in self._limits:
            key = client if limit.scope == "client" else f"{username}\x00{client}"
            out.append((limit, (limit.name, key)))
        return out

    def retry_after(self, username: str, client: str) -> tuple[str, int] | None:
        """(limit name, seconds to wait) when a limit is used up, else None."""
        now = self._clock()
        with self._lock:
            for limit, key in self._keys(username, client):
                bucket = self._buckets.get(key)
                if bucket is None:
                    continue
                self._expire(bucket, limit, now)
                if len(bucket.failures) >= limit.attempts:
                    wait = bucket.failures[0] + limit.window - now
                    return limit.name, max(1, math.ceil(wait))
        return None

    def failed(self, username: str, client: str) -> None:
        now = self._clock()
        with self._lock:
            for limit, key in self._keys(username, client):
                bucket = self._buckets.pop(key, None) or _Bucket()
                self._expire(bucket, limit, now)
                bucket.failures.append(now)
                while len(bucket.failures) > limit.attempts:
                    bucket.failures.popleft()
                self._buckets[key] = bucket  # most recent last
            while len(self._buckets) > self.MAX_KEYS:
                self._buckets.popitem(last=False)

    def succeeded(self, username: str, client: str) -> None:
        """A good login forgets that account's failures from that client (not the client's)."""
        with self._lock:
            for limit, key in self._keys(username, client):
                if limit.scope != "client":
                    self._buckets.pop(key, None)

    @staticmethod
    def _expire(bucket: _Bucket, limit: RateLimit, now: float) -> None:
        while bucket.failures and bucket.failures[0] <= now - limit.window:
            bucket.failures.popleft()
