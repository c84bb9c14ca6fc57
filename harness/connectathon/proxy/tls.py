"""TLS contexts of one endpoint: terminating (the proxy's certificate, an optional client CA)
and re-originating (the target's CA bundle, an optional client certificate)."""

from __future__ import annotations

import ssl

from harness.connectathon.proxy.spec import ProxyTls, SpecError


def server_context(tls: ProxyTls, endpoint_id: str) -> ssl.SSLContext:
    """The listening side; requires a client certificate when `client_ca` is set."""
    assert tls.certfile is not None and tls.keyfile is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile)
        if tls.client_ca is not None:
            context.load_verify_locations(cafile=str(tls.client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise SpecError(f"endpoint {endpoint_id}: TLS certificate or key: {exc}") from None
    return context


def client_context(tls: ProxyTls | None, endpoint_id: str) -> ssl.SSLContext:
    """The target side: the target's certificate checked (host name included) against
    `upstream_ca` or the system's CAs; the proxy's client certificate when configured."""
    try:
        context = ssl.create_default_context(
            cafile=str(tls.upstream_ca) if tls and tls.upstream_ca else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if tls is not None and tls.upstream_certfile is not None:
            context.load_cert_chain(tls.upstream_certfile, tls.upstream_keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise SpecError(f"endpoint {endpoint_id}: upstream TLS CA or certificate: {exc}") from None
    return context
