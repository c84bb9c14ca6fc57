"""Removing credentials from anything that may end in evidence, logs or reports."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
SECRET_QUERY_KEYS = frozenset(
    {
        "token",
        "access_token",
        "id_token",
        "apikey",
        "api_key",
        "key",
        "password",
        "secret",
        "code",
        "sig",
        "signature",
        "client_secret",
    }
)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    """user:password@ and secret-looking query parameters become ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}")
_URL_USER = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@:]+(:[^/\s@]*)?@")
_SECRET_PAIR = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_QUERY_KEYS - {"code"}, key=len, reverse=True)) + r")"
    r"(\"?\s*[=:]\s*\"?)[^\s\"&,;]+"
)


def redact_text(text: str) -> str:
    """Credentials a SUT may echo in a body it answers: tokens, URL credentials, secrets."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = _URL_USER.sub(lambda m: f"{m.group(1)}***@", text)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
