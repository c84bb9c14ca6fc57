"""Login (rate-limited per account and client) and logout."""

from __future__ import annotations

import functools
import secrets
import time

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harness.connectathon.accounts import MAX_PASSWORD_LENGTH, hash_password, verify_password
from harness.connectathon.web import csrf
from harness.connectathon.web.access import LOGIN_AT_KEY, SID_KEY, USER_KEY
from harness.connectathon.web.forms import read_form, safe_next, text_field
from harness.connectathon.web.i18n import translate
from harness.connectathon.web.state import lang_of, render, web

router = APIRouter()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a login takes as long either way
    (the answer's timing tells nobody which usernames exist). Made at the first login."""
    return hash_password(secrets.token_urlsafe(24))


def _client(request: Request) -> str:
    # Loopback service: the peer address is the client (no proxy headers are trusted).
    return request.client.host if request.client else "?"


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": ""}, viewer=None)


@router.post("/login")
async def login(request: Request) -> Response:
    state = web(request)
    form = await read_form(request)
    username = text_field(form, "username", 64).lower()
    password_value = form.get("password")
    password = password_value if isinstance(password_value, str) else ""
    target = safe_next(text_field(form, "next", 500))
    client = _client(request)
    lang = lang_of(request)

    limited = state.limiter.retry_after(username, client)
    if limited is not None:
        name, seconds = limited
        return render(
            request,
            "login.html",
            {
                "next": target,
                "error": translate(lang, "login.limited", seconds=seconds),
                "limit": name,
            },
            viewer=None,
            status_code=429,
            headers={"Retry-After": str(seconds), "X-Kcert-Limit": name},
        )
    account = await run_in_threadpool(state.store.account, username) if username else None
    good = await run_in_threadpool(
        verify_password,
        account.password_hash if account else _dummy_hash(),
        password[: MAX_PASSWORD_LENGTH + 1],
    )
    if account is None or not good:
        state.limiter.failed(username, client)
        return render(
            request,
            "login.html",
            {"next": target, "error": translate(lang, "login.failed")},
            viewer=None,
            status_code=401,
        )
    state.limiter.succeeded(username, client)
    # A fresh session (id and CSRF token) at login: nothing from before carries over.
    request.session.clear()
    request.session[USER_KEY] = account.username
    request.session[SID_KEY] = secrets.token_urlsafe(18)
    request.session[LOGIN_AT_KEY] = int(time.time())
    csrf.renew(request)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    state = web(request)
    await read_form(request)
    sid = request.session.get(SID_KEY)
    if isinstance(sid, str):
        state.revoked.add(sid, state.clock())
    request.session.clear()
    request.session["flash"] = "login.logged_out"
    return RedirectResponse("/login", status_code=303)
