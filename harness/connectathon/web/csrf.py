"""CSRF protection: a random token per browser session, required in every POST form.

The token lives in the signed session cookie and is echoed in a hidden form field; a POST
whose field does not match (or whose Origin header names another site) is refused with 403.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

FIELD = "csrf_token"
_SESSION_KEY = "csrf"


def token(request: Request) -> str:
    """The session's token, made on first use (also for the login form, before any login)."""
    current = request.session.get(_SESSION_KEY)
    if not isinstance(current, str) or len(current) < 32:
        current = secrets.token_urlsafe(32)
        request.session[_SESSION_KEY] = current
    return current


def renew(request: Request) -> None:
    request.session[_SESSION_KEY] = secrets.token_urlsafe(32)


def valid(request: Request, submitted: object) -> bool:
    expected = request.session.get(_SESSION_KEY)
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        return False
    return same_origin(request)


def same_origin(request: Request) -> bool:
    """An Origin header, when the browser sends one, must be this server's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme == request.url.scheme and parts.netloc == host
