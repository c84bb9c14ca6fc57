"""The reference FLP service's HTTP API (harness/contract/flp-api.yaml), as a FastAPI app.

`create_app(settings)` for tests in-process; `app_from_env()` is the factory each uvicorn
worker calls (`serve` passes the settings by environment variables).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import signal
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from harness.refflp import cpd
from harness.refflp.defects import GLOBAL_LOCK, MISSING_INDEX, N_PLUS_ONE
from harness.refflp.locking import GlobalLock
from harness.refflp.pool import PoolExhausted
from harness.refflp.settings import (
    HIDE_OLDER_THAN_YEARS,
    MAX_BODY_BYTES,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_PATIENT_PLANS,
    MAX_SEED_CLINICS,
    MAX_SEED_PLANS_PER_CLINIC,
    MAX_SEED_ROWS,
    SERVICE,
    VERSION,
    Settings,
)
from harness.refflp.store import NotFound, Stale, Store, WrongOwner, now
from harness.safeparse import PayloadError, parse_json

PREFIX = "/flp/v1"
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
XML = "application/xml"
CHANNELS = ("minlaege", "sundhedsjournalen")
_PLAN_ID = re.compile(r"^[0-9a-f]{32}$")
_SOR = re.compile(r"^\d{6,18}$")
_CPR = re.compile(r"^\d{10}$")
_IF_MATCH = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def two_year_cutoff(today: dt.datetime) -> dt.datetime:
    """The oldest plan data the patient view shows (the published two-year rule)."""
    try:
        return today.replace(year=today.year - HIDE_OLDER_THAN_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - HIDE_OLDER_THAN_YEARS, day=28)


async def read_body(request: Request) -> bytes:
    """The request body, refused (413) beyond MAX_BODY_BYTES without reading further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Problem(413, "Body too large", f"at most {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Problem(413, "Body too large", f"at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _document(data: bytes, content_type: str) -> cpd.CarePlan:
    if content_type.split(";")[0].strip().lower() not in (
        XML,
        "text/xml",
        "application/hl7-cda+xml",
    ):
        raise Problem(
            415, "Unsupported media type", "the body must be a DK-CPD document (application/xml)"
        )
    try:
        return cpd.read_plan(data, MAX_BODY_BYTES)
    except cpd.DocumentProblem as exc:
        raise Problem(400, "Not a DK-CPD care plan", str(exc)) from exc


def _clinic(request: Request, required: bool) -> str:
    clinic = request.headers.get("x-clinic", "").strip()
    if not clinic:
        if required:
            raise Problem(400, "No clinic", "X-Clinic: the SOR code of the clinic is required")
        return ""
    if not _SOR.match(clinic):
        raise Problem(
            400, "Bad clinic", f"X-Clinic: {clinic[:40]!r} is not a SOR code (6-18 digits)"
        )
    return clinic


def _plan_id(plan_id: str) -> str:
    if not _PLAN_ID.match(plan_id):
        raise Problem(404, "No such plan", f"no plan {plan_id[:40]!r}")
    return plan_id


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Problem(400, "Bad query", f"{name}: {raw[:20]!r} is not a whole number {low}-{high}")
    return int(raw)


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def create_app(settings: Settings) -> FastAPI:
    store = Store(settings.db, settings.pool_size)
    store.ensure_schema(indexes=MISSING_INDEX not in settings.defects)
    n_plus_one = N_PLUS_ONE in settings.defects
    app = FastAPI(
        title="kcert reference FLP service",
        version=VERSION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> Response:
        return problem(exc.status, exc.title, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, "HTTP error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return problem(400, "Bad request", str(exc.errors())[:500])

    @app.exception_handler(PoolExhausted)
    async def _busy(_: Request, exc: PoolExhausted) -> Response:
        return problem(503, "Busy", str(exc), {"Retry-After": "1"})

    for error in store.errors:  # the database's own failures (locked too long, gone away)

        @app.exception_handler(error)
        async def _store_error(_: Request, exc: Exception) -> Response:
            detail = f"{type(exc).__name__}: {str(exc)[:300]}"
            return problem(503, "Store unavailable", detail, {"Retry-After": "1"})

    @app.get(f"{PREFIX}/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "service": SERVICE,
            "version": VERSION,
            "workers": settings.workers,
            "defects": list(settings.defects),
            "store": store.kind,
        }

    @app.post(f"{PREFIX}/plans", status_code=201)
    async def create_plan(request: Request) -> Response:
        clinic = _clinic(request, required=True)
        body = await read_body(request)
        plan = _document(body, request.headers.get("content-type", ""))
        if plan.author_sor and plan.author_sor != clinic:
            raise Problem(
                400, "Clinic mismatch", f"author is clinic {plan.author_sor}, X-Clinic {clinic}"
            )
        plan_id = await run_in_threadpool(store.create, clinic, plan, body)
        return JSONResponse(
            {"id": plan_id, "version": 1},
            status_code=201,
            headers={"Location": f"{PREFIX}/plans/{plan_id}", **_etag(1)},
        )

    @app.put(f"{PREFIX}/plans/{{plan_id}}")
    async def update_plan(plan_id: str, request: Request) -> Response:
        _plan_id(plan_id)
        clinic = _clinic(request, required=False)
        raw = request.headers.get("if-match", "").strip()
        if not raw:
            raise Problem(428, "If-Match required", 'If-Match: "<version>" of the plan is required')
        match = _IF_MATCH.match(raw)
        if not match:
            raise Problem(400, "Bad If-Match", f'If-Match: {raw[:40]!r} is not "<version>"')
        body = await read_body(request)
        plan = _document(body, request.headers.get("content-type", ""))
        try:
            version = await run_in_threadpool(
                store.update, plan_id, int(match.group(1)), clinic, plan, body
            )
        except NotFound as exc:
            raise Problem(404, "No such plan", f"no plan {plan_id}") from exc
        except Stale as exc:
            raise Problem(412, "Stale version", str(exc), _etag(exc.current)) from exc
        except WrongOwner as exc:
            raise Problem(409, "Not this plan's", str(exc)) from exc
        return JSONResponse({"id": plan_id, "version": version}, headers=_etag(version))

    @app.get(f"{PREFIX}/plans/{{plan_id}}")
    def read_plan(plan_id: str) -> Response:
        try:
            version, document = store.read(_plan_id(plan_id))
        except NotFound as exc:
            raise Problem(404, "No such plan", f"no plan {plan_id}") from exc
        return Response(document, media_type=XML, headers=_etag(version))

    @app.get(f"{PREFIX}/patients/{{cpr}}/plans")
    def patient_plans(cpr: str, request: Request) -> dict[str, Any]:
        if not _CPR.match(cpr):
            raise Problem(400, "Bad CPR", "the patient's CPR is 10 digits")
        channel = request.query_params.get("channel", "")
        if channel not in CHANNELS:
            raise Problem(
                400, "Bad query", f"channel: {channel[:30]!r}; one of {', '.join(CHANNELS)}"
            )
        plans = store.patient_plans(cpr, two_year_cutoff(now()), MAX_PATIENT_PLANS)
        return {"patient": cpr, "channel": channel, "plans": plans}

    @app.get(f"{PREFIX}/clinics/{{sor}}/cockpit")
    def cockpit(sor: str, request: Request) -> dict[str, Any]:
        if not _SOR.match(sor):
            raise Problem(400, "Bad clinic", f"{sor[:40]!r} is not a SOR code (6-18 digits)")
        package = request.query_params.get("package", "")
        if package not in cpd.PACKAGES:
            raise Problem(400, "Bad query", f"package: {package[:30]!r}; one of kol, lbp")
        page = _int_param(request, "page", 1, 1, MAX_PAGE)
        size = _int_param(request, "size", 50, 1, MAX_PAGE_SIZE)
        total, items = store.cockpit(sor, package, (page - 1) * size, size, n_plus_one)
        return {
            "clinic": sor,
            "package": package,
            "total": total,
            "page": page,
            "size": size,
            "items": [vars(item) for item in items],
        }

    @app.post(f"{PREFIX}/plans/{{plan_id}}/share")
    def share(plan_id: str) -> dict[str, Any]:
        try:
            version, document = store.share(_plan_id(plan_id))
        except NotFound as exc:
            raise Problem(404, "No such plan", f"no plan {plan_id}") from exc
        return {"plan": plan_id, "version": version, "document": document, "format": "DK-CPD"}

    @app.get(f"{PREFIX}/shared/{{document}}")
    def shared(document: str) -> Response:
        try:
            if not _PLAN_ID.match(document):
                raise NotFound(document)
            return Response(store.shared(document), media_type=XML)
        except NotFound as exc:
            raise Problem(404, "No such document", f"no shared document {document[:40]!r}") from exc

    if settings.allow_admin:
        _admin_routes(app, store)
    if GLOBAL_LOCK in settings.defects:
        app.add_middleware(GlobalLock, path=settings.lock_path)
    return app


def _admin_routes(app: FastAPI, store: Store) -> None:
    @app.post(f"{PREFIX}/admin/seed")
    async def seed(request: Request) -> dict[str, Any]:
        try:
            body = parse_json(await read_body(request))
        except PayloadError as exc:
            raise Problem(400, "Bad JSON", str(exc)) from exc
        if not isinstance(body, dict):
            raise Problem(400, "Bad seed", "the body is a JSON object")
        values = {}
        for name, high in (
            ("clinics", MAX_SEED_CLINICS),
            ("plans_per_clinic", MAX_SEED_PLANS_PER_CLINIC),
            ("seed", 2**31),
        ):
            value = body.get(name, 0 if name == "seed" else None)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
                raise Problem(400, "Bad seed", f"{name}: a whole number 0-{high}")
            values[name] = value
        if values["clinics"] * values["plans_per_clinic"] > MAX_SEED_ROWS:
            raise Problem(
                400, "Bad seed", f"clinics × plans_per_clinic: at most {MAX_SEED_ROWS} plans"
            )
        sors = await run_in_threadpool(
            store.seed, values["clinics"], values["plans_per_clinic"], values["seed"]
        )
        return {"clinics": sors, "plans": len(sors) * values["plans_per_clinic"]}

    @app.post(f"{PREFIX}/admin/reset")
    def reset() -> dict[str, str]:
        store.reset()
        return {"status": "reset"}


def _die_with_supervisor() -> None:
    """Linux: a worker process ends when its supervisor does, even one killed by SIGKILL, so
    no orphaned worker keeps serving the port."""
    parent = multiprocessing.parent_process()
    if sys.platform != "linux" or parent is None:
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent.pid:  # it died while this worker was starting: no signal comes
        raise SystemExit("the service's supervisor is gone")


def app_from_env() -> FastAPI:
    """The factory each uvicorn worker process calls."""
    _die_with_supervisor()
    return create_app(Settings.from_env())
