"""What the proxy is asked to put in front of: one endpoint per system role, and its TLS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SpecError(ValueError):
    """An EndpointSpec or ProxyTls cannot be used: the message names the endpoint and the
    field (a target that is not http(s)://host:port, a key without a certificate, ...)."""


@dataclass(frozen=True)
class ProxyTls:
    """TLS on either side of one endpoint; every field is a PEM file.

    Listening side (terminating): `certfile`/`keyfile` make the endpoint speak HTTPS;
    `client_ca` then requires a client certificate issued by that CA.
    Target side (re-originating, for an https:// target): `upstream_ca` is the CA bundle the
    target's certificate is checked against (None: the system's CAs); `upstream_certfile`/
    `upstream_keyfile` the client certificate the proxy presents to the target.
    """

    certfile: Path | None = None
    keyfile: Path | None = None
    client_ca: Path | None = None
    upstream_ca: Path | None = None
    upstream_certfile: Path | None = None
    upstream_keyfile: Path | None = None

    @property
    def terminates(self) -> bool:
        return self.certfile is not None


@dataclass(frozen=True)
class EndpointSpec:
    """One proxied endpoint: the proxy listens on 127.0.0.1:`listen_port` (0: a free port)
    and forwards to `target_url`, the system's own address for `role`."""

    system_id: str
    role: str
    target_url: str
    listen_port: int = 0
    tls: ProxyTls | None = None

    @property
    def endpoint_id(self) -> str:
        return f"{self.system_id}:{self.role}"


@dataclass(frozen=True)
class Target:
    """Where an endpoint forwards to, taken apart once."""

    scheme: str  # http or https
    host: str
    port: int
    path: str  # the target's base path ("" for none): clients send it, the proxy keeps it


def parse_target(spec: EndpointSpec) -> Target:
    where = f"endpoint {spec.endpoint_id}: target_url {spec.target_url!r}"
    try:
        parts = urlsplit(spec.target_url)
        port = parts.port
    except ValueError as exc:
        raise SpecError(f"{where}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise SpecError(f"{where}: the scheme must be http or https")
    if not parts.hostname:
        raise SpecError(f"{where}: no host")
    if parts.username or parts.password:
        raise SpecError(f"{where}: credentials in the URL are not forwarded; remove them")
    if parts.query or parts.fragment:
        raise SpecError(f"{where}: a target has no query or fragment")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, parts.path.rstrip("/"))


def check_spec(spec: EndpointSpec) -> Target:
    """The spec's target, or SpecError naming what does not fit."""
    name = f"endpoint {spec.endpoint_id}"
    if not spec.system_id or not spec.role:
        raise SpecError(f"{name}: system_id and role must not be empty")
    if not 0 <= spec.listen_port <= 65535:
        raise SpecError(f"{name}: listen_port {spec.listen_port} is not a TCP port")
    target = parse_target(spec)
    tls = spec.tls
    if tls is not None:
        if (tls.certfile is None) != (tls.keyfile is None):
            raise SpecError(f"{name}: tls.certfile and tls.keyfile go together")
        if tls.client_ca is not None and tls.certfile is None:
            raise SpecError(f"{name}: tls.client_ca needs tls.certfile (a TLS listener)")
        if (tls.upstream_certfile is None) != (tls.upstream_keyfile is None):
            raise SpecError(f"{name}: tls.upstream_certfile and tls.upstream_keyfile go together")
        if target.scheme != "https" and (tls.upstream_ca or tls.upstream_certfile):
            raise SpecError(f"{name}: tls.upstream_* need an https:// target_url")
        for label in (
            "certfile",
            "keyfile",
            "client_ca",
            "upstream_ca",
            "upstream_certfile",
            "upstream_keyfile",
        ):
            path = getattr(tls, label)
            if path is not None and not Path(path).is_file():
                raise SpecError(f"{name}: tls.{label} {str(path)!r} is not a file")
    return target
