"""Connectathon accounts: password hashing with argon2id (argon2-cffi) and account checks.

The web application verifies logins with `verify_password`; the CLI creates accounts with
`new_account`. Plain passwords are never stored or logged.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from harness.connectathon.model import Account, AccountRole

MIN_PASSWORD_LENGTH = 12  # NIST SP 800-63B asks for at least 8; a shared event asks for more
MAX_PASSWORD_LENGTH = 256  # bounds the hashing work one login attempt can cause
ROLES: tuple[AccountRole, ...] = ("admin", "monitor", "vendor")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")

# argon2-cffi's defaults follow RFC 9106's second recommended option (64 MiB, 3 passes).
_HASHER = PasswordHasher()


class AccountError(ValueError):
    """An account that cannot be made as asked; the message names the field."""


def hash_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"password: must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise AccountError(
            f"username: {username!r} must be 2-63 characters of a-z, 0-9, '.', '_' or '-'"
        )
    return username


def new_account(username: str, role: str, password: str, vendor: str = "") -> Account:
    """An account ready for `StoreApi.add_account`; a vendor account must name its vendor."""
    check_username(username)
    if role not in ROLES:
        raise AccountError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if role == "vendor" and not vendor.strip():
        raise AccountError("vendor: a vendor account must name the vendor whose systems it sees")
    if role != "vendor" and vendor:
        raise AccountError("vendor: only a vendor account names a vendor")
    return Account(username, role, hash_password(password), vendor.strip())
