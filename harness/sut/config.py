"""SUT configuration (YAML): identity, endpoints, transport, auth, TLS, timeouts, kcert's peer."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model.scope import DIRECTIONS, Capabilities
from harness.redact import redact_url
from harness.sut.contract import operation_names
from harness.sut.peer_config import PEER_SCHEMA, PeerConfig, load_peer
from harness.yamlsource import YamlDocument, check_schema, load_yaml


def capabilities_schema() -> dict[str, Any]:
    """What the SUT implements (the configuration's `capabilities:`, the health answer's)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "what the SUT implements; cases needing anything else are not in scope",
        "properties": {
            "standards": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["standard"],
                    "properties": {
                        "standard": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"},
                        "version": {"type": "string", "maxLength": 40},
                        "directions": {
                            "type": "array",
                            "minItems": 1,
                            "uniqueItems": True,
                            "items": {"enum": list(DIRECTIONS)},
                        },
                    },
                },
            },
            "operations": {
                "type": "array",
                "maxItems": 100,
                "uniqueItems": True,
                "items": {"enum": operation_names()},
            },
        },
    }


# The configuration's manual operations (done by a tester with files) by contract operation.
MANUAL_OPERATIONS = {"population-load": "loadPopulation", "cockpit-members": "listProfileMembers"}

SUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "vendor", "version", "endpoints", "identity"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "vendor": {"type": "string", "minLength": 1},
        "version": {"type": "string", "minLength": 1},
        "transport": {"enum": ["http"]},
        "endpoints": {
            "type": "object",
            "required": ["fhir", "agent"],
            "additionalProperties": {"type": "string", "pattern": "^https?://"},
        },
        "identity": {
            "type": "object",
            "required": ["sor", "gln"],
            "additionalProperties": False,
            "properties": {
                "sor": {"type": "string", "pattern": "^[0-9]{6,18}$"},
                "gln": {"type": "string", "pattern": "^[0-9]{13}$"},
                "name": {"type": "string"},
            },
        },
        "auth": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {"enum": ["none", "bearer", "mtls"]},
                "token_env": {"type": "string"},
                "token": {"type": "string"},
                "allow_plain_token": {"type": "boolean"},
                "cert": {"type": "string"},
                "key": {"type": "string"},
            },
        },
        "tls": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"verify": {"type": ["boolean", "string"]}},
        },
        "timeouts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "connect": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
                "read": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
                "total": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
            },
        },
        "manual": {
            "type": "object",
            "additionalProperties": False,
            "description": "operations the SUT cannot expose: done by a tester with files",
            "properties": {
                "operations": {
                    "type": "array",
                    "items": {"enum": sorted(MANUAL_OPERATIONS)},
                },
                "exports": {"type": "string", "description": "folder for handover and exports"},
            },
        },
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"max_response_bytes": {"type": "integer", "minimum": 1024}},
        },
        "standards": {
            "type": "array",
            "description": "the FHIR package versions the SUT claims (ID#VERSION); what it sends "
            "is judged in exactly those packages' validation contexts",
            "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*#[A-Za-z0-9._+-]+$"},
            "maxItems": 50,
        },
        "capabilities": capabilities_schema(),
        "peer": PEER_SCHEMA,
    },
}


class SutConfigError(ValueError):
    """The SUT configuration is incomplete or inconsistent; the text says what to fix."""


@dataclass(frozen=True)
class AuthConfig:
    type: str = "none"
    token_env: str = ""
    token: str = field(default="", repr=False)  # never in a log line or a traceback
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class SutConfig:
    name: str
    vendor: str
    version: str
    endpoints: dict[str, str]
    sor: str
    gln: str
    org_name: str = ""
    transport: str = "http"
    auth: AuthConfig = field(default_factory=AuthConfig)
    tls_verify: bool | str = True
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_response_bytes: int = 10 * 1024 * 1024
    defects: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()  # FHIR packages (ID#VERSION) the SUT claims to implement
    manual_operations: tuple[str, ...] = ()
    exports_dir: str = ""
    capabilities: Capabilities | None = None  # None: not declared in the configuration
    peer: PeerConfig = field(default_factory=PeerConfig)  # where kcert's peers listen

    @property
    def manual_operation_ids(self) -> frozenset[str]:
        """The contract operations a tester does by hand: covered, though not offered."""
        return frozenset(MANUAL_OPERATIONS[m] for m in self.manual_operations)

    def endpoint(self, name: str) -> str:
        try:
            return self.endpoints[name]
        except KeyError:
            raise SutConfigError(
                f"SUT {self.name!r} has no endpoint {name!r}; configured: "
                + ", ".join(sorted(self.endpoints))
            ) from None

    def public_dict(self) -> dict[str, Any]:
        """What a report may show: no token, no key path."""
        return {
            "name": self.name,
            "vendor": self.vendor,
            "version": self.version,
            "transport": self.transport,
            "endpoints": {k: redact_url(v) for k, v in self.endpoints.items()},
            "identity": {"sor": self.sor, "gln": self.gln, "name": self.org_name},
            "auth": self.auth.type,
            "defects": list(self.defects),
            "standards": list(self.standards),
            "capabilities": None if self.capabilities is None else self.capabilities.to_dict(),
            "peer": self.peer.public_dict(),
        }


def load_sut_config(path: Path, *, credentials: bool = False) -> SutConfig:
    """A SUT configuration file; `credentials` also checks the token and certificate files
    can be used now (what a run needs, not what a re-judging does). Errors at file:line."""
    return sut_config_from(load_yaml(path), path.parent, credentials=credentials)


def sut_config_from(
    doc: YamlDocument,
    base: Path,
    *,
    credentials: bool = False,
    environ: Mapping[str, str] | None = None,
) -> SutConfig:
    """The one reading of a SUT configuration (a file's or a registration's mapping): schema,
    consistency and, with `credentials`, the credentials; relative paths are under `base`."""
    check_schema(doc, SUT_SCHEMA)
    data = doc.data
    auth_data = data.get("auth") or {"type": "none"}

    def resolved(name: str) -> str:
        # relative certificate paths are relative to the configuration file
        value = auth_data.get(name, "")
        return str(base / value) if value else ""

    auth = AuthConfig(
        type=auth_data["type"],
        token_env=auth_data.get("token_env", ""),
        token=auth_data.get("token", ""),
        cert=resolved("cert"),
        key=resolved("key"),
    )
    if auth.token and auth_data.get("allow_plain_token") is not True:
        # A token in a file gets committed, copied and mailed; the environment is where it goes.
        raise doc.error(
            ("auth", "token"),
            "a plain-text token in the configuration is refused: write `token_env: NAME` and "
            "export NAME=<token> in kcert's environment (or, knowingly, allow_plain_token: true)",
        )
    if auth.type == "mtls" and not auth.cert:
        raise doc.error(("auth", "cert"), "auth type mtls needs a client certificate path")
    for key in ("cert", "key"):
        value = getattr(auth, key)
        if value and not (base / value).is_file():
            raise doc.error(("auth", key), f"file not found: {value}")
    verify = (data.get("tls") or {}).get("verify", True)
    if isinstance(verify, str) and not (base / verify).exists():
        raise doc.error(("tls", "verify"), f"CA bundle not found: {verify}")
    if credentials:
        check_credentials(doc, auth, str(base / verify) if isinstance(verify, str) else "", environ)
    timeouts = data.get("timeouts") or {}
    identity = data["identity"]
    return SutConfig(
        name=data["name"],
        vendor=data["vendor"],
        version=data["version"],
        endpoints=dict(data["endpoints"]),
        sor=identity["sor"],
        gln=identity["gln"],
        org_name=identity.get("name", ""),
        transport=data.get("transport", "http"),
        auth=auth,
        tls_verify=(str(base / verify) if isinstance(verify, str) else bool(verify)),
        connect_timeout=float(timeouts.get("connect", 5.0)),
        read_timeout=float(timeouts.get("read", 30.0)),
        total_timeout=float(timeouts.get("total", 120.0)),
        manual_operations=tuple((data.get("manual") or {}).get("operations", [])),
        exports_dir=str(base / (data.get("manual") or {}).get("exports", "kcert-exports")),
        max_response_bytes=int(
            (data.get("limits") or {}).get("max_response_bytes", 10 * 1024 * 1024)
        ),
        standards=tuple(data.get("standards") or ()),
        capabilities=(
            Capabilities.from_dict(data["capabilities"], "sut-config")
            if "capabilities" in data
            else None
        ),
        peer=load_peer(doc, base),
    )


def check_credentials(
    doc: YamlDocument,
    auth: AuthConfig,
    ca_bundle: str = "",
    environ: Mapping[str, str] | None = None,
) -> None:
    """The credentials a run needs are there now: the bearer token (in the environment
    variable named, or allowed in the file) and readable certificate, key and CA files.
    Nothing is opened towards the SUT; errors name the field."""
    env = os.environ if environ is None else environ
    if auth.type == "bearer" and not auth.token:
        if not auth.token_env:
            raise doc.error(
                ("auth",), "auth type bearer needs a token: name its variable in token_env"
            )
        if not env.get(auth.token_env, "").strip():
            raise doc.error(
                ("auth", "token_env"),
                f"auth type bearer needs a token: the environment variable {auth.token_env} "
                "is not set (or empty) in kcert's environment",
            )
    files = [(("auth", "cert"), auth.cert), (("auth", "key"), auth.key)]
    files.append((("tls", "verify"), ca_bundle))
    for where, name in files:
        if name and not _readable(Path(name)):
            raise doc.error(where, f"cannot read {name}: permission denied")


def _readable(path: Path) -> bool:
    if path.is_dir():  # a CA directory (c_rehash layout) for tls.verify
        return os.access(path, os.R_OK | os.X_OK)
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True
