"""The names of a signing key pair's files (a module of its own so that the command line can
name the default key without loading the cryptography library)."""

from __future__ import annotations

PRIVATE = "kcert-signing.key"
PUBLIC = "kcert-signing.pub"
