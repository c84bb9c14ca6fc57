"""Where kcert's own peers listen and how a SUT reaches them (`peer:` in the SUT configuration).

kcert plays the receiving organisation (acknowledgements, receipts) and the document repository
(plan sharing) on one HTTP server. For the reference LPS on this machine it binds to 127.0.0.1
on a free port; a vendor's SUT on another host needs an address it can reach (`bind`), the URL
the SUT is told to send to (`advertise`, e.g. behind NAT or a DNS name) and usually TLS: kcert's
server certificate and, optionally, a CA that client certificates must chain to.

Certificates and keys are named as files (relative to the configuration file), never inline.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.yamlsource import JsonPath, YamlDocument

LOOPBACK = "127.0.0.1"

PEER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "kcert's receiving peer and document repository, for a SUT on another host",
    "properties": {
        "bind": {
            "type": "string",
            "description": "ADDRESS:PORT kcert's peers listen on ([::]:PORT for IPv6); "
            "port 0 = any free port",
            "pattern": r"^(\[[0-9A-Fa-f:.]+\]|[0-9.]+|localhost):[0-9]{1,5}$",
        },
        "advertise": {
            "type": "string",
            "description": "the base URL the SUT is told to send to (scheme, host, port)",
            "pattern": "^https?://",
            "maxLength": 300,
        },
        "tls": {
            "type": "object",
            "additionalProperties": False,
            "required": ["cert", "key"],
            "properties": {
                "cert": {"type": "string", "minLength": 1, "description": "PEM file"},
                "key": {"type": "string", "minLength": 1, "description": "PEM file"},
                "client_ca": {
                    "type": "string",
                    "minLength": 1,
                    "description": "PEM file: when set, a client must present a certificate "
                    "issued by this CA or its connection is refused (and recorded)",
                },
            },
        },
    },
}


@dataclass(frozen=True)
class PeerConfig:
    """How kcert's peer server listens; the default is loopback on a free port, plain HTTP."""

    host: str = LOOPBACK
    port: int = 0
    advertise: str = ""  # base URL without a trailing slash; "" = the bound address
    cert: str = ""  # server certificate (PEM), absolute path; "" = plain HTTP
    key: str = ""
    client_ca: str = ""  # CA (PEM) a client certificate must chain to; "" = none asked

    @property
    def tls(self) -> bool:
        return bool(self.cert)

    def public_dict(self) -> dict[str, Any]:
        """What a report may show: addresses and whether TLS is on, no file paths."""
        return {
            "bind": f"{_bracketed(self.host)}:{self.port}",
            "advertise": self.advertise,
            "tls": self.tls,
            "client_certificates": bool(self.client_ca),
        }


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def server_context(config: PeerConfig) -> ssl.SSLContext:
    """The TLS context the peer serves with (raises ssl.SSLError/OSError on bad files)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.cert, config.key)
    if config.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=config.client_ca)
    return context


def load_peer(doc: YamlDocument, base: Path) -> PeerConfig:
    """The `peer:` section (already schema-checked) as a PeerConfig; errors at file:line."""
    data = doc.data.get("peer")
    if data is None:
        return PeerConfig()
    at: JsonPath = ("peer",)
    host, port = LOOPBACK, 0
    if "bind" in data:
        host, port = _bind(doc, data["bind"])
    tls = data.get("tls") or {}
    files = {name: _file(doc, base, ("peer", "tls", name), tls[name]) for name in tls}
    advertise = ""
    if "advertise" in data:
        advertise = _advertise(doc, data["advertise"], bool(tls))
    elif ipaddress.ip_address(host).is_unspecified:
        raise doc.error(
            (*at, "bind"),
            f"{data['bind']} listens on every address but names none a SUT can send to; "
            "set peer.advertise to the URL the SUT reaches kcert at",
        )
    if advertise and port == 0:
        # an advertised URL must reach a port known before the run: never "any free port"
        raise doc.error(
            (*at, "bind" if "bind" in data else "advertise"),
            "an advertised URL needs a fixed port to reach: set peer.bind ADDRESS:PORT "
            "(not port 0, any free port)",
        )
    config = PeerConfig(
        host=host,
        port=port,
        advertise=advertise,
        cert=files.get("cert", ""),
        key=files.get("key", ""),
        client_ca=files.get("client_ca", ""),
    )
    if config.tls:
        try:
            server_context(config)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise doc.error(
                (*at, "tls"), f"cannot use the certificate, key or client CA: {exc}"
            ) from None
    return config


def _bind(doc: YamlDocument, value: str) -> tuple[str, int]:
    where: JsonPath = ("peer", "bind")
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]")
    if host == "localhost":
        host = LOOPBACK
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise doc.error(where, f"{host!r} is not an IP address") from None
    port = int(port_text)
    if port > 65535:
        raise doc.error(where, f"port {port} is out of range (0-65535)")
    return str(address), port


def _advertise(doc: YamlDocument, value: str, tls: bool) -> str:
    where: JsonPath = ("peer", "advertise")
    parts = urlsplit(value)
    if not parts.hostname:
        raise doc.error(where, f"{value!r} names no host")
    if parts.username or parts.password:
        raise doc.error(where, "the advertised URL must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise doc.error(
            where,
            "the advertised URL is a base (scheme, host, port) without path or query: kcert "
            "adds /fhir/$process-message, /oioxml and /kcert-repository/v1/documents itself",
        )
    try:
        _ = parts.port
    except ValueError:
        raise doc.error(where, f"{value!r} has a bad port") from None
    if tls and parts.scheme != "https":
        raise doc.error(where, "peer.tls is set, so the advertised URL must be https://")
    if not tls and parts.scheme == "https":
        raise doc.error(where, "an https:// URL needs peer.tls (server certificate and key)")
    return f"{parts.scheme}://{parts.netloc}"


def _file(doc: YamlDocument, base: Path, where: JsonPath, value: str) -> str:
    if "-----BEGIN" in value:
        raise doc.error(where, "name a PEM file here, never the certificate or key itself")
    path = base / value
    if not path.is_file():
        raise doc.error(where, f"file not found: {path}")
    return str(path)
