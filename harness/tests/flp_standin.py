"""A small stand-in for the reference FLP service (the BRIEF15 API), for the swarm's tests.

In memory, one uvicorn server in a thread on 127.0.0.1; `faults` make it answer wrongly in
named ways so the preflight and the users' checks can be seen to fire. The real reference FLP
service is harness/refflp (another lane); this one only has to speak the same API.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.safeparse import PayloadError, parse_xml

V3 = {"v3": "urn:hl7-org:v3"}
FAULTS = ("share-format", "no-readback", "cockpit-shape", "view-missing", "update-stale")


def problem(status: int, title: str, detail: str) -> Response:
    return JSONResponse(
        {"title": title, "detail": detail}, status, media_type="application/problem+json"
    )


@dataclass
class Store:
    faults: frozenset[str] = frozenset()
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read(body: bytes) -> tuple[str, str] | Response:
    try:
        root = parse_xml(body)
    except PayloadError as exc:
        return problem(400, "Bad document", str(exc))
    cpr = root.xpath(
        "string(v3:recordTarget/v3:patientRole/v3:id[@root='1.2.208.176.1.2']/@extension)",
        namespaces=V3,
    )
    title = root.xpath("string(v3:title)", namespaces=V3)
    package = next((p for p in ("kol", "lbp") if p in re.findall(r"\w+", title)), "")
    if not cpr or not package:
        return problem(400, "Bad document", "no CPR or no package in the document")
    return str(cpr), package


def create_app(store: Store) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "standin", "version": "0", "workers": 1})

    async def create(request: Request) -> Response:
        body = await request.body()
        read = _read(body)
        if isinstance(read, Response):
            return read
        cpr, package = read
        plan_id = str(uuid.uuid4())
        with store.lock:
            store.plans[plan_id] = {
                "id": plan_id,
                "version": 1,
                "cpr": cpr,
                "package": package,
                "clinic": request.headers.get("x-clinic", ""),
                "doc": body,
            }
        return JSONResponse(
            {"id": plan_id, "version": 1}, 201, headers={"Location": f"/flp/v1/plans/{plan_id}"}
        )

    async def plan(request: Request) -> Response:
        plan_id = request.path_params["id"]
        with store.lock:
            row = store.plans.get(plan_id)
        if row is None or (request.method == "GET" and "no-readback" in store.faults):
            return problem(404, "Not found", f"no plan {plan_id}")
        if request.method == "GET":
            return Response(
                row["doc"], media_type="application/xml", headers={"ETag": f'"{row["version"]}"'}
            )
        body = await request.body()
        read = _read(body)
        if isinstance(read, Response):
            return read
        wanted = request.headers.get("if-match", "").strip('"')
        if wanted != str(row["version"]) or "update-stale" in store.faults:
            return problem(412, "Stale version", f"plan is at version {row['version']}")
        with store.lock:
            row["version"] += 1
            row["doc"] = body
        return JSONResponse({"id": plan_id, "version": row["version"]})

    async def view(request: Request) -> Response:
        cpr = request.path_params["cpr"]
        channel = request.query_params.get("channel", "")
        if channel not in ("minlaege", "sundhedsjournalen"):
            return problem(400, "Bad channel", channel)
        with store.lock:
            rows = [r for r in store.plans.values() if r["cpr"] == cpr]
        if "view-missing" in store.faults:
            rows = []
        plans = [
            {
                "id": r["id"],
                "package": r["package"],
                "clinic": r["clinic"],
                "version": r["version"],
                "updated": "2026-12-03T00:00:00Z",
                "goals": [],
            }
            for r in rows
        ]
        return JSONResponse({"patient": cpr, "channel": channel, "plans": plans})

    async def cockpit(request: Request) -> Response:
        sor = request.path_params["sor"]
        package = request.query_params.get("package", "")
        size = int(request.query_params.get("size", "50"))
        if "cockpit-shape" in store.faults:
            return JSONResponse({"clinic": sor, "rows": []})
        with store.lock:
            rows = [
                r for r in store.plans.values() if r["clinic"] == sor and r["package"] == package
            ]
        items = [
            {"patient": r["cpr"], "plan": r["id"], "version": r["version"], "updated": ""}
            for r in rows[:size]
        ]
        return JSONResponse(
            {
                "clinic": sor,
                "package": package,
                "total": len(rows),
                "page": 1,
                "size": size,
                "items": items,
            }
        )

    async def share(request: Request) -> Response:
        plan_id = request.path_params["id"]
        with store.lock:
            row = store.plans.get(plan_id)
            if row is None:
                return problem(404, "Not found", f"no plan {plan_id}")
            doc_id = str(uuid.uuid4())
            store.shared[doc_id] = row["doc"]
        fmt = "PDF" if "share-format" in store.faults else "DK-CPD"
        return JSONResponse(
            {"plan": plan_id, "version": row["version"], "document": doc_id, "format": fmt}
        )

    async def shared(request: Request) -> Response:
        with store.lock:
            doc = store.shared.get(request.path_params["doc"])
        if doc is None:
            return problem(404, "Not found", "no such document")
        return Response(doc, media_type="application/xml")

    return Starlette(
        routes=[
            Route("/flp/v1/health", health),
            Route("/flp/v1/plans", create, methods=["POST"]),
            Route("/flp/v1/plans/{id}", plan, methods=["GET", "PUT"]),
            Route("/flp/v1/plans/{id}/share", share, methods=["POST"]),
            Route("/flp/v1/shared/{doc}", shared),
            Route("/flp/v1/patients/{cpr}/plans", view),
            Route("/flp/v1/clinics/{sor}/cockpit", cockpit),
        ]
    )


@contextlib.contextmanager
def running_standin(faults: tuple[str, ...] = ()) -> Iterator[tuple[str, Store]]:
    """Serve the stand-in on 127.0.0.1 (a free port): yields its base URL and its store."""
    store = Store(frozenset(faults))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(store), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
