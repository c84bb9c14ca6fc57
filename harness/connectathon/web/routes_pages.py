"""The pages to look at: sessions, matrix, instances, one instance, one exchange, unmatched."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harness.connectathon.model import Binding, TestInstance
from harness.connectathon.web.access import Viewer, not_found, viewer_of
from harness.connectathon.web.i18n import translate
from harness.connectathon.web.sequence import exchange_outcome, sequence_svg
from harness.connectathon.web.state import WebState, lang_of, render, web
from harness.connectathon.web.views import (
    matrix_table,
    shown_body,
    shown_findings,
    shown_headers,
)

router = APIRouter()


def viewer(request: Request) -> Viewer:
    state = web(request)
    return viewer_of(request, state.store, state.revoked, state.limits.session_lifetime)


def visible_instance(state: WebState, who: Viewer, instance_id: str) -> TestInstance:
    try:
        instance = state.store.instance(instance_id)
    except KeyError:
        raise not_found() from None
    if not who.sees_instance(state.store, instance):
        raise not_found()  # as for an unknown id: see access.py
    return instance


@router.get("/")
def home(request: Request) -> Response:
    who = viewer(request)
    state = web(request)
    if state.default_session:
        return RedirectResponse(f"/sessions/{state.default_session}", status_code=303)
    sessions = state.store.sessions()
    return render(request, "sessions.html", {"sessions": sessions}, viewer=who)


@router.get("/sessions")
def sessions_page(request: Request) -> Response:
    who = viewer(request)
    return render(request, "sessions.html", {"sessions": web(request).store.sessions()}, viewer=who)


@router.get("/sessions/{session_id}")
def matrix_page(request: Request, session_id: str) -> Response:
    who = viewer(request)
    state = web(request)
    try:
        session = state.store.session(session_id)
    except KeyError:
        raise not_found() from None
    systems = state.store.systems(session_id)
    visible = who.own_system_ids(state.store, session_id)
    table = matrix_table(state.store.matrix(session_id), session.scenarios, systems, visible)
    return render(
        request,
        "matrix.html",
        {"session": session, "table": table, "poll_ms": int(state.limits.poll_interval * 1000)},
        viewer=who,
    )


@router.get("/sessions/{session_id}/instances")
def instances_page(
    request: Request, session_id: str, system: str = "", scenario: str = "", role: str = ""
) -> Response:
    who = viewer(request)
    state = web(request)
    try:
        session = state.store.session(session_id)
    except KeyError:
        raise not_found() from None
    own = who.own_system_ids(state.store, session_id)
    shown = [
        i
        for i in state.store.instances(session_id, system or None)
        if (not scenario or i.scenario_id == scenario)
        and (not (system and role) or Binding(role, system) in i.bindings)
        and (own is None or any(b.system_id in own for b in i.bindings))
    ]
    return render(
        request,
        "instances.html",
        {
            "session": session,
            "instances": shown,
            "system": system,
            "scenario": scenario,
            "role": role,
        },
        viewer=who,
    )


@router.get("/instances/{instance_id}")
def instance_page(request: Request, instance_id: str) -> Response:
    who = viewer(request)
    state = web(request)
    instance = visible_instance(state, who, instance_id)
    steps = state.store.steps(instance_id)
    exchanges = state.store.exchanges(
        instance.session_id, instance_id=instance_id, limit=state.limits.max_exchanges_shown
    )
    grades = state.store.grades(instance_id)
    lang = lang_of(request)
    svg = sequence_svg(
        instance,
        steps,
        exchanges,
        translate(lang, "instance.diagram_title", id=instance_id),
        state.scenario_roles(instance.scenario_id),
    )
    return render(
        request,
        "instance.html",
        {
            "instance": instance,
            "steps": steps,
            "exchanges": exchanges,
            "grades": grades,
            "svg": svg,
            "outcome_of": exchange_outcome,
            "findings_of": shown_findings,
            "max_attachment_kb": state.limits.max_attachment // 1024,
            "max_attachments": state.limits.max_attachments,
            "poll_ms": int(state.limits.poll_interval * 1000),
        },
        viewer=who,
    )


@router.get("/exchanges/{exchange_id}")
def exchange_page(request: Request, exchange_id: str) -> Response:
    who = viewer(request)
    state = web(request)
    try:
        exchange = state.store.exchange(exchange_id)
    except KeyError:
        raise not_found() from None
    if not who.sees_exchange(state.store, exchange):
        raise not_found()  # as for an unknown id: see access.py
    limit = state.limits.shown_body
    return render(
        request,
        "exchange.html",
        {
            "ex": exchange,
            "outcome": exchange_outcome(exchange),
            "request_headers": shown_headers(exchange.request_headers),
            "response_headers": shown_headers(exchange.response_headers),
            "request_body": shown_body(exchange.request_body, limit),
            "response_body": shown_body(exchange.response_body, limit),
            "findings": shown_findings(exchange.findings),
        },
        viewer=who,
    )


@router.get("/sessions/{session_id}/unmatched")
def unmatched_page(request: Request, session_id: str) -> Response:
    who = viewer(request)
    state = web(request)
    try:
        session = state.store.session(session_id)
    except KeyError:
        raise not_found() from None
    found = state.store.exchanges(
        session_id, unmatched=True, limit=state.limits.max_exchanges_shown
    )
    shown = [e for e in found if who.sees_exchange(state.store, e)]
    return render(
        request,
        "unmatched.html",
        {"session": session, "exchanges": shown, "outcome_of": exchange_outcome},
        viewer=who,
    )
