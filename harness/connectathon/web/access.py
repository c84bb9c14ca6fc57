"""Who is signed in, and what that account may see and do.

A vendor account sees only its own vendor's systems and the test instances (and their
exchanges, grades and attachments) one of those systems takes part in. Anything else answers
404, exactly as an unknown id does: a 403 would confirm that another vendor's system or
instance exists (ids name vendors and products), which is itself a detail a vendor may not see.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.requests import Request

from harness.connectathon.api import StoreApi
from harness.connectathon.model import Account, RecordedExchange, System, TestInstance

USER_KEY = "user"
SID_KEY = "sid"
LOGIN_AT_KEY = "at"  # wall-clock seconds of the login: the cookie is re-signed on every use


class LoginRequired(Exception):
    """No (valid) signed-in account: the page answers with a redirect to /login."""


@dataclass(frozen=True)
class Viewer:
    account: Account

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def is_vendor(self) -> bool:
        return self.account.role == "vendor"

    @property
    def can_grade(self) -> bool:
        return self.account.role in ("monitor", "admin")

    @property
    def can_override(self) -> bool:
        return self.account.role == "admin"

    def sees_system(self, system: System) -> bool:
        return not self.is_vendor or system.vendor == self.account.vendor

    def own_system_ids(self, store: StoreApi, session_id: str) -> set[str] | None:
        """The vendor's system ids in a session; None for accounts that see every system."""
        if not self.is_vendor:
            return None
        return {s.system_id for s in store.systems(session_id) if self.sees_system(s)}

    def sees_instance(self, store: StoreApi, instance: TestInstance) -> bool:
        own = self.own_system_ids(store, instance.session_id)
        return own is None or any(b.system_id in own for b in instance.bindings)

    def sees_exchange(self, store: StoreApi, exchange: RecordedExchange) -> bool:
        own = self.own_system_ids(store, exchange.session_id)
        if own is None:
            return True
        if exchange.instance_id:
            try:
                instance = store.instance(exchange.instance_id)
            except KeyError:
                instance = None
            if instance is not None and any(b.system_id in own for b in instance.bindings):
                return True
        return exchange.source in own or exchange.target in own


def not_found() -> HTTPException:
    return HTTPException(status_code=404)


def forbidden() -> HTTPException:
    return HTTPException(status_code=403)


def viewer_of(
    request: Request, store: StoreApi, revoked: RevokedSessions, lifetime: float
) -> Viewer:
    """The signed-in account, re-read from the store on every request (a removed account or a
    changed role takes effect at once); a logged-out session id no longer counts, nor one
    older than `lifetime` seconds (the signed cookie alone would slide on for ever)."""
    username = request.session.get(USER_KEY)
    sid = request.session.get(SID_KEY)
    at = request.session.get(LOGIN_AT_KEY)
    if not isinstance(username, str) or not isinstance(sid, str) or sid in revoked:
        raise LoginRequired()
    if not isinstance(at, (int, float)) or not 0 <= time.time() - at <= lifetime:
        request.session.clear()
        raise LoginRequired()
    account = store.account(username)
    if account is None:
        request.session.clear()
        raise LoginRequired()
    return Viewer(account)


class RevokedSessions:
    """Session ids logged out before their cookie expired; forgotten once the cookie would be.

    Signed cookies cannot be recalled, so a copied cookie would outlive the logout without
    this list. It lives in the process: a restart also ends every session (new key)
    unless the key is configured, in which case logged-out cookies expire with max_age.
    """

    MAX = 50_000

    def __init__(self, max_age: float) -> None:
        self._max_age = max_age
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()  # logout runs on the event loop, checks in threads

    def add(self, sid: str, now: float) -> None:
        with self._lock:
            self._prune(now)
            if len(self._until) >= self.MAX:  # oldest first: dicts keep insertion order
                self._until.pop(next(iter(self._until)))
            self._until[sid] = now + self._max_age

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            return sid in self._until

    def _prune(self, now: float) -> None:
        for sid in [s for s, until in self._until.items() if until <= now]:
            del self._until[sid]
