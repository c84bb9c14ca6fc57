"""The connectathon web application: matrix, instances, exchanges, worklist and grading.

Server-rendered (jinja2, autoescaped); one small static script adds live updates. Signed
session cookies (itsdangerous through Starlette's SessionMiddleware: HttpOnly, SameSite=Lax),
a CSRF token in every POST form, rate-limited login, security headers on every answer.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from harness.connectathon.api import StoreApi
from harness.connectathon.model import ScenarioInfo
from harness.connectathon.web import routes_auth, routes_grading, routes_live, routes_pages
from harness.connectathon.web.access import LoginRequired, RevokedSessions
from harness.connectathon.web.i18n import pick, translate
from harness.connectathon.web.limits import LoginLimiter, WebLimits
from harness.connectathon.web.security import SecurityMiddleware
from harness.connectathon.web.state import WebState, lang_of, make_templates, render

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "kcert_session"


def create_app(
    store: StoreApi,
    *,
    secret_key: bytes | None = None,
    lang: str = "da",
    limits: WebLimits | None = None,
    scenarios: Mapping[str, ScenarioInfo] | Callable[[], Mapping[str, ScenarioInfo]] | None = None,
    default_session: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    https_only: bool = False,
) -> FastAPI:
    """The application over `store`.

    Args:
        secret_key: signs the session cookies; None makes a random one (sessions end with
            the process).
        lang: the default language ("da" or "en"); ?lang= and the toggle's cookie choose.
        scenarios: titles and roles by scenario id, for headings and lifeline order; or a
            function giving them, asked again at most every 10 s.
        default_session: where "/" leads (kcert connectathon serve --session).
        clock: the rate limiter's clock (tests move it).
    """
    limits = limits or WebLimits()
    key = secret_key or secrets.token_bytes(32)
    app = FastAPI(title="kcert connectathon", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = WebState(
        store=store,
        limits=limits,
        lang=pick(lang),
        limiter=LoginLimiter(limits.login_limits, clock),
        revoked=RevokedSessions(limits.session_max_age),
        templates=make_templates(),
        scenario_source=scenarios if callable(scenarios) else dict(scenarios or {}),
        default_session=default_session,
        clock=clock,
    )
    app.include_router(routes_auth.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_grading.router)
    app.include_router(routes_live.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # Order: the security layer is outermost, so even a refused body gets the headers.
    app.add_middleware(
        SessionMiddleware,
        secret_key=key.hex(),
        session_cookie=SESSION_COOKIE,
        max_age=limits.session_max_age,
        same_site="lax",
        https_only=https_only,
    )
    app.add_middleware(SecurityMiddleware, max_body=limits.max_body)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "login required"}, status_code=401)
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":
            target = "/"  # a form posted after the session ended is not sent again
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.status_code}, exc.status_code, headers=headers)
        lang = lang_of(request)
        if exc.detail == "csrf":
            message = translate(lang, "error.csrf")
        elif (
            isinstance(exc.detail, str)
            and exc.status_code in (400, 409, 413)
            and (exc.detail not in ("Bad Request", "Conflict", "Request Entity Too Large"))
        ):
            message = exc.detail
        else:
            message = translate(lang, f"error.{exc.status_code}")
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            viewer=None,
            status_code=exc.status_code,
            headers=headers,
        )

    return app
