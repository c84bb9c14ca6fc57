"""Throw-away certificates for kcert's TLS tests (made per test run, never kept)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Key = ec.EllipticCurvePrivateKey


def new_key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def new_cert(
    subject: str,
    key: Key,
    issuer: tuple[str, Key] | None,
    *,
    ca: bool = False,
    addresses: Sequence[str] = (),
    names: Sequence[str] = (),
) -> x509.Certificate:
    """A certificate for `key`, self-signed when `issuer` (name, key) is None, valid for a
    day; `addresses`/`names`: the IP addresses and DNS names a server certificate is for."""
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    alternatives: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(a)) for a in addresses
    ]
    alternatives += [x509.DNSName(n) for n in names]
    if alternatives:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_pem(path: Path, cert: x509.Certificate, key: Key | None) -> tuple[Path, Path]:
    """The certificate at `path`, its key (when given) beside it with the suffix .key."""
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = path.with_suffix(".key")
    if key is not None:
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path, key_path
