"""HTTP transport on requests: timeouts, a response size cap, TLS and auth options."""

from __future__ import annotations

import os

import requests

from harness.model.exchange import Exchange
from harness.sut.config import SutConfig
from harness.transport.base import Stopwatch, TransportError, join_url, redact_headers


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

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        url = join_url(self.config.endpoint(endpoint), path)
        sent_headers = dict(headers or {})
        session_headers = {str(k): str(v) for k, v in self.session.headers.items()}
        shown = redact_headers({**session_headers, **sent_headers})
        watch = Stopwatch()
        exchange = Exchange(method, url, shown, body, started=watch.started)
        cap = self.config.max_response_bytes
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
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > cap:
                        exchange.truncated = True
                        chunks.append(chunk[: max(0, cap - (size - len(chunk)))])
                        break
                    chunks.append(chunk)
                exchange.response_body = b"".join(chunks)
        except requests.exceptions.ConnectionError as exc:
            exchange.error = f"SUT unreachable at {url}: {_short(exc)}"
            raise TransportError(exchange.error) from None
        except requests.exceptions.Timeout:
            exchange.error = f"SUT did not answer within {self.config.read_timeout} s at {url}"
            raise TransportError(exchange.error) from None
        except requests.exceptions.RequestException as exc:
            exchange.error = f"request to {url} failed: {_short(exc)}"
            raise TransportError(exchange.error) from None
        finally:
            exchange.duration_ms = watch.elapsed_ms()
        return exchange

    def close(self) -> None:
        self.session.close()


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "…"
