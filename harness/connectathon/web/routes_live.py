"""JSON for scripts and tools, and bounded server-sent event streams for live pages.

A stream lives at most `sse_max_seconds` (the browser's EventSource reconnects), looks at the
store every `sse_interval` seconds, sends an event only when its snapshot changed and a
comment line every `sse_heartbeat` seconds; at most `sse_max_streams` are open at once (503
beyond). Without EventSource the page script polls the JSON endpoints instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from harness.connectathon.web.access import Viewer, not_found
from harness.connectathon.web.routes_pages import viewer, visible_instance
from harness.connectathon.web.state import WebState, web
from harness.connectathon.web.views import cell_json, exchange_summary

router = APIRouter(prefix="/api")


def _fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def matrix_snapshot(state: WebState, who: Viewer, session_id: str) -> dict[str, Any]:
    try:
        state.store.session(session_id)
    except KeyError:
        raise not_found() from None
    visible = who.own_system_ids(state.store, session_id)
    cells = [
        cell_json(c)
        for c in state.store.matrix(session_id)
        if visible is None or c.system_id in visible
    ]
    return {"session_id": session_id, "cells": cells, "fingerprint": _fingerprint(cells)}


def instance_snapshot(state: WebState, who: Viewer, instance_id: str) -> dict[str, Any]:
    instance = visible_instance(state, who, instance_id)
    steps = [
        {"step_id": s.step_id, "seq": s.seq, "outcome": s.outcome}
        for s in state.store.steps(instance_id)
    ]
    exchanges = [
        exchange_summary(e)
        for e in state.store.exchanges(
            instance.session_id, instance_id=instance_id, limit=state.limits.max_exchanges_shown
        )
    ]
    body = {
        "instance_id": instance.instance_id,
        "status": instance.status,
        "outcome": instance.outcome,
        "grade": instance.grade,
        "claimed_by": instance.claimed_by,
        "started": instance.started,
        "finished": instance.finished,
        "steps": steps,
        "exchanges": exchanges,
        "grades": len(state.store.grades(instance_id)),
    }
    body["fingerprint"] = _fingerprint(body)
    return body


@router.get("/sessions")
def sessions_json(request: Request) -> JSONResponse:
    viewer(request)
    return JSONResponse(
        {
            "sessions": [
                {
                    "session_id": s.session_id,
                    "name": s.name,
                    "starts": s.starts,
                    "ends": s.ends,
                    "scenarios": list(s.scenarios),
                }
                for s in web(request).store.sessions()
            ]
        }
    )


@router.get("/sessions/{session_id}/matrix")
def matrix_json(request: Request, session_id: str) -> JSONResponse:
    return JSONResponse(matrix_snapshot(web(request), viewer(request), session_id))


@router.get("/instances/{instance_id}")
def instance_json(request: Request, instance_id: str) -> JSONResponse:
    return JSONResponse(instance_snapshot(web(request), viewer(request), instance_id))


@router.get("/sessions/{session_id}/events")
def matrix_events(request: Request, session_id: str) -> Response:
    state, who = web(request), viewer(request)
    matrix_snapshot(state, who, session_id)  # 404 now, not inside the stream
    return _stream(request, state, lambda: matrix_snapshot(state, who, session_id))


@router.get("/instances/{instance_id}/events")
def instance_events(request: Request, instance_id: str) -> Response:
    state, who = web(request), viewer(request)
    instance_snapshot(state, who, instance_id)
    return _stream(request, state, lambda: instance_snapshot(state, who, instance_id))


def _stream(request: Request, state: WebState, snapshot: Callable[[], dict[str, Any]]) -> Response:
    if state.streams >= state.limits.sse_max_streams:
        raise HTTPException(status_code=503, headers={"Retry-After": "10"})
    return StreamingResponse(
        _events(request, state, snapshot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, state: WebState, snapshot: Callable[[], dict[str, Any]]
) -> AsyncIterator[str]:
    limits = state.limits
    # Counted inside the generator: its finally runs whenever it started, so the count
    # cannot leak when a client leaves before the first byte.
    with state.streams_lock:
        full = state.streams >= limits.sse_max_streams
        if not full:
            state.streams += 1
    if full:
        yield "event: busy\ndata: {}\n\n"
        return
    try:
        yield f"retry: {int(limits.poll_interval * 1000)}\n\n"
        start = last_beat = time.monotonic()
        last = ""
        while time.monotonic() - start < limits.sse_max_seconds:
            try:
                data = await run_in_threadpool(snapshot)
            except HTTPException:
                yield "event: gone\ndata: {}\n\n"
                return
            if data["fingerprint"] != last:
                last = data["fingerprint"]
                yield f"event: update\ndata: {json.dumps(data)}\n\n"
                last_beat = time.monotonic()
            elif time.monotonic() - last_beat >= limits.sse_heartbeat:
                yield ": heartbeat\n\n"
                last_beat = time.monotonic()
            if await request.is_disconnected():
                return
            await asyncio.sleep(limits.sse_interval)
        yield "event: end\ndata: {}\n\n"
    finally:
        with state.streams_lock:
            state.streams -= 1
