"""HTTP transport on requests: timeouts, a response size cap, TLS and auth options."""

from __future__ import annotations

import os
import socket
import threading

import requests

from harness.model.exchange import Exchange
from harness.sut.config import SutConfig
from harness.transport.base import (
    Stopwatch,
    TransportError,
    join_url,
    redact_headers,
    redact_url,
)


class HttpTransport:
    """Talks to a SUT over HTTP(S); unreachable or silent SUTs raise `TransportError`."""

    name = "http"

    def __init__(self, config: SutConfig) -> None:
        self.config = config
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment must not see test traffic
        auth = config.auth
        if auth.type == "bearer":
            token = auth.token or os.environ.get(auth.token_env or "", "")
            if not token:
                raise TransportError(
                    f"auth type bearer needs a token: set {auth.token_env or 'auth.token_env'}"
                )
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif auth.type == "mtls":
            self.session.cert = (auth.cert, auth.key) if auth.key else auth.cert
        self.session.verify = config.tls_verify
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
        sent_headers = {**self.extra_headers, **(headers or {})}
        session_headers = {str(k): str(v) for k, v in self.session.headers.items()}
        shown = redact_headers({**session_headers, **sent_headers})
        watch = Stopwatch()
        exchange = Exchange(method, redact_url(url), shown, body, started=watch.started)
        cap = self.config.max_response_bytes
        shown_url = redact_url(url)
        deadline = self.config.total_timeout
        overran = threading.Event()
        try:
            with self.session.request(
                method,
                url,
                data=body or None,
                headers=sent_headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                stream=True,
                allow_redirects=False,
            ) as response:
                exchange.status = response.status_code
                exchange.response_headers = redact_headers(dict(response.headers))

                def cut_off() -> None:
                    # A SUT trickling bytes defeats the per-read timeout: at the limit the
                    # socket is shut down, which also wakes a read blocked in another thread.
                    overran.set()
                    _shutdown(response)

                watchdog = threading.Timer(max(0.0, deadline - watch.elapsed_ms() / 1000), cut_off)
                watchdog.daemon = True
                watchdog.start()
                try:
                    exchange.response_body, exchange.truncated = _read_capped(response, cap)
                finally:
                    watchdog.cancel()
        except (requests.exceptions.RequestException, OSError, AttributeError, ValueError) as exc:
            exchange.error = _explain(exc, overran.is_set(), shown_url, self.config)
            raise TransportError(exchange.error) from None
        finally:
            exchange.duration_ms = watch.elapsed_ms()
        if overran.is_set():
            exchange.error = _explain(None, True, shown_url, self.config)
            raise TransportError(exchange.error)
        return exchange

    def close(self) -> None:
        self.session.close()


def _shutdown(response: requests.Response) -> None:
    # http.client keeps the socket under the response once headers are read; there is no
    # public handle to it, so the lookup tolerates every step being absent.
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        buffered = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        response.close()
    except OSError:
        pass


def _read_capped(response: requests.Response, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > cap:
            chunks.append(chunk[: max(0, cap - (size - len(chunk)))])
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def _explain(exc: BaseException | None, overran: bool, url: str, config: SutConfig) -> str:
    if overran:
        return f"SUT did not finish its answer within {config.total_timeout:g} s at {url}"
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    ):
        return f"SUT unreachable at {url}: {_short(exc)}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"SUT did not answer within {config.read_timeout:g} s at {url}"
    if isinstance(exc, OSError) and not isinstance(exc, requests.exceptions.RequestException):
        return f"TLS or certificate files could not be used for {url}: {_short(exc)}"
    return f"request to {url} failed: {_short(exc or RuntimeError('unknown'))}"


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "…"
