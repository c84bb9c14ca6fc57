"""In-process transport: an ASGI app called directly, for speed in kcert's own tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from harness.model.exchange import Exchange
from harness.sut.config import SutConfig
from harness.transport.base import Stopwatch, join_url, redact_headers, redact_url


class InProcessTransport:
    """Calls the app through Starlette's test client; same recording as HTTP."""

    name = "inprocess"

    def __init__(self, config: SutConfig, app: Any) -> None:
        from starlette.testclient import TestClient

        self.config = config
        self.app = app  # contract fuzzing drives the same app directly
        self.client = TestClient(app, raise_server_exceptions=False)
        self.extra_headers: dict[str, str] = {}  # capabilities.ExtraHeaders

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        url = join_url(self.config.endpoint(endpoint), path)
        parts = urlsplit(url)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        sent_headers = {**self.extra_headers, **(headers or {})}
        watch = Stopwatch()
        exchange = Exchange(
            method, redact_url(url), redact_headers(sent_headers), body, started=watch.started
        )
        response = self.client.request(method, local, content=body or None, headers=sent_headers)
        exchange.status = response.status_code
        exchange.response_headers = redact_headers(dict(response.headers))
        data = response.content
        if len(data) > self.config.max_response_bytes:
            exchange.truncated = True
            data = data[: self.config.max_response_bytes]
        exchange.response_body = data
        exchange.duration_ms = watch.elapsed_ms()
        return exchange

    def close(self) -> None:
        self.client.close()
