"""What every route of one web application shares: the store, templates, limits, language."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from harness.connectathon.api import StoreApi
from harness.connectathon.model import ScenarioInfo
from harness.connectathon.web import csrf
from harness.connectathon.web.access import RevokedSessions, Viewer
from harness.connectathon.web.i18n import LANG_COOKIE, LANGS, pick, translate
from harness.connectathon.web.limits import LoginLimiter, WebLimits

TEMPLATES = Path(__file__).parent / "templates"
SCENARIOS_TTL = 10.0  # seconds


@dataclass
class WebState:
    store: StoreApi
    limits: WebLimits
    lang: str
    limiter: LoginLimiter
    revoked: RevokedSessions
    templates: Jinja2Templates
    # Titles and roles by scenario id: a fixed mapping, or a function read again at most
    # every SCENARIOS_TTL seconds (sessions paired after the start get their titles too).
    scenario_source: Mapping[str, ScenarioInfo] | Callable[[], Mapping[str, ScenarioInfo]] = field(
        default_factory=dict
    )
    _scenarios: Mapping[str, ScenarioInfo] = field(default_factory=dict)
    _scenarios_read: float | None = None
    default_session: str | None = None
    clock: Callable[[], float] = field(default=lambda: 0.0)
    streams: int = 0  # open event streams
    streams_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def scenarios(self) -> Mapping[str, ScenarioInfo]:
        source = self.scenario_source
        if not callable(source):
            return source
        now = time.monotonic()
        if self._scenarios_read is None or now - self._scenarios_read > SCENARIOS_TTL:
            self._scenarios = source()
            self._scenarios_read = now
        return self._scenarios

    def scenario_title(self, scenario_id: str, lang: str) -> str:
        info = self.scenarios.get(scenario_id)
        if info is None:
            return scenario_id
        return (info.title_da if lang == "da" else info.title_en) or scenario_id

    def scenario_roles(self, scenario_id: str) -> tuple[str, ...]:
        info = self.scenarios.get(scenario_id)
        return tuple(r.name for r in info.roles) if info else ()


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value a template shows is escaped unless it is Markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def state_of(app: FastAPI) -> WebState:
    state: WebState = app.state.web
    return state


def web(request: Request) -> WebState:
    return state_of(request.app)


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    return pick(request.cookies.get(LANG_COOKIE), web(request).lang)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    viewer: Viewer | None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    lang = lang_of(request)

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    other = "en" if lang == "da" else "da"
    flash = request.session.pop("flash", None)
    full = {
        "flash": t(flash) if isinstance(flash, str) else "",
        "t": t,
        "lang": lang,
        "other_lang": other,
        "lang_url": request.url.path
        + "?"
        + urlencode({**dict(request.query_params), "lang": other}),
        "viewer": viewer,
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token(request),
        "scenario_title": lambda sid: web(request).scenario_title(sid, lang),
        **context,
    }
    response = web(request).templates.TemplateResponse(
        request, name, full, status_code=status_code, headers=headers
    )
    remember_lang(request, response)
    return response


def remember_lang(request: Request, response: Response) -> None:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
        )
