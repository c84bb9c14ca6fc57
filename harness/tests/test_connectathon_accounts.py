"""Connectathon accounts: argon2id hashes, checked fields."""

from __future__ import annotations

import pytest

from harness.connectathon.accounts import (
    AccountError,
    hash_password,
    needs_rehash,
    new_account,
    verify_password,
)


def test_hash_verifies_the_right_password_only() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")
    assert not verify_password("not-a-hash", "correct horse battery")
    assert not verify_password(hashed, "x" * 10_000)
    assert not needs_rehash(hashed)


def test_short_password_refused_naming_the_field() -> None:
    with pytest.raises(AccountError, match="password"):
        hash_password("short")


@pytest.mark.parametrize(
    ("username", "role", "vendor", "field"),
    [
        ("Bad Name", "monitor", "", "username"),
        ("anna", "guest", "", "role"),
        ("anna", "vendor", "", "vendor"),
        ("anna", "monitor", "Acme", "vendor"),
    ],
)
def test_bad_accounts_name_the_field(username: str, role: str, vendor: str, field: str) -> None:
    with pytest.raises(AccountError, match=f"^{field}:"):
        new_account(username, role, "a long enough secret", vendor)


def test_vendor_account_keeps_its_vendor() -> None:
    account = new_account("acme-anna", "vendor", "a long enough secret", "Acme")
    assert account.role == "vendor" and account.vendor == "Acme"
    assert verify_password(account.password_hash, "a long enough secret")
