"""The reference LPS as a FastAPI app: FHIR $process-message and the LPS test agent API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from harness.reflps.careplan.routes import build_router as build_careplan_router
from harness.reflps.cockpit.routes import CockpitService, build_router, problem
from harness.reflps.cockpit.store import ClinicStore
from harness.reflps.defects import CATALOGUE, check_names
from harness.reflps.identity import REFERENCE_CLINIC, ClinicIdentity, software_version
from harness.reflps.inbox import render_inbox
from harness.reflps.messaging import MessageReceiver, NotAMessage, operation_outcome
from harness.reflps.outbox import Outbox
from harness.reflps.outbox_routes import build_outbox_router
from harness.reflps.standards import received_standards
from harness.reflps.storage import Storage
from harness.reflps.wire import WireError, read_body, write_body

AGENT = "/kcert-agent/v1"
MAX_BODY = 10 * 1024 * 1024


# `only="carecommunication"`: an LPS that implements nothing but CareCommunication (sending
# and receiving, with the agent operations those need); the other routes are not there, as
# with a vendor's LPS of that scope. kcert's own tests run the whole suite against it.
FEATURES = ("all", "carecommunication")
CARECOMMUNICATION_OPERATIONS = [
    "health",
    "reset",
    "processMessage",
    "listReceivedMessages",
    "sendMessage",
    "readOutbox",
    "fireResendTimer",
]


class StandardClaim(BaseModel):
    model_config = ConfigDict(strict=True)
    standard: str
    version: str = ""
    directions: list[str]


class Capabilities(BaseModel):
    model_config = ConfigDict(strict=True)
    standards: list[StandardClaim]
    operations: list[str] | None = None


class Health(BaseModel):
    model_config = ConfigDict(strict=True)
    status: str
    system: str
    version: str
    sor: str
    gln: str
    defects: list[str]
    capabilities: Capabilities | None = None


class ReceivedMessage(BaseModel):
    model_config = ConfigDict(strict=True)
    messageHeaderId: str
    bundleId: str
    event: str
    activity: str
    patientCpr: str
    senderSor: str
    receivedAt: str
    format: str


class ReceivedList(BaseModel):
    model_config = ConfigDict(strict=True)
    total: int
    messages: list[ReceivedMessage]


class ResetResult(BaseModel):
    model_config = ConfigDict(strict=True)
    status: str


class DefectInfo(BaseModel):
    model_config = ConfigDict(strict=True)
    name: str
    active: bool
    da: str
    en: str


def create_app(
    defects: list[str] | tuple[str, ...] = (),
    db_path: Path | None = None,
    identity: ClinicIdentity = REFERENCE_CLINIC,
    only: str = "all",
    declare: bool = False,
) -> FastAPI:
    """`declare`: the health answer names what this LPS implements (its capabilities)."""
    if only not in FEATURES:
        raise ValueError(f"unknown feature set {only!r}; known: {', '.join(FEATURES)}")
    active = check_names(list(defects))
    storage = Storage(db_path)
    # the standards received in their own modules: not part of a CareCommunication-only LPS
    received = received_standards() if only == "all" else ()
    handlers = {s.event: s.create(storage, identity, active) for s in received}
    receiver = MessageReceiver(storage, identity, active, handlers)
    cockpit = CockpitService(ClinicStore(storage.connection, storage.lock), active)
    outbox = Outbox(identity, frozenset(active))
    app = FastAPI(
        title="kcert reference LPS",
        version=software_version(),
        description="Reference general-practice system: FHIR messaging and the LPS test agent API.",
    )

    @app.post("/fhir/$process-message", tags=["fhir"])
    async def process_message(request: Request) -> Response:
        """Receive a MedCom FHIR message Bundle; answer with an acknowledgement Bundle."""
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        wants_xml = "xml" in request.headers.get("accept", "") or "xml" in content_type
        if len(body) > MAX_BODY:
            return _json(413, operation_outcome("message too large", "too-long"))
        if "xml-unsupported" in active and "xml" in content_type:
            return _json(415, operation_outcome("XML is not supported", "not-supported"))
        try:
            fmt, resource = read_body(body, content_type)
        except WireError as exc:
            if "server-error-on-garbage" in active:
                return Response("Internal Server Error", status_code=500, media_type="text/plain")
            return write_body(400, operation_outcome(str(exc)), wants_xml and exc.xml_ok)
        try:
            ack = receiver.receive(resource, fmt)
        except NotAMessage as exc:
            return write_body(400, operation_outcome(str(exc), "invalid"), fmt == "xml")
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # a message of a shape the LPS's rules did not foresee: refused, never a 500
            return write_body(
                400, operation_outcome(f"message not understood: {exc}"), fmt == "xml"
            )
        if _ack_code(ack) == "ok":
            outbox.keep(resource)  # what a reply or forward may refer to later
        return write_body(200, ack, fmt == "xml" or wants_xml)

    @app.get(f"{AGENT}/health", tags=["agent"], response_model_exclude_none=True)
    def health() -> Health:
        """Liveness and identity of the system under test."""
        return Health(
            status="ok",
            system="kcert reference LPS",
            version=software_version(),
            sor=identity.sor,
            gln=identity.gln,
            defects=sorted(active),
            capabilities=_capabilities(only) if declare else None,
        )

    @app.post(f"{AGENT}/reset", tags=["agent"])
    def reset() -> ResetResult:
        """Forget every received message, acknowledgement and loaded patient."""
        storage.reset()
        cockpit.store.reset()
        cockpit.forget()
        outbox.reset()
        for handler in handlers.values():
            handler.reset()
        return ResetResult(status="reset")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem(400, "bad request", f"{where}: {first.get('msg', 'invalid')}")

    if only == "all":
        app.include_router(build_router(cockpit, AGENT))
        app.include_router(build_careplan_router(cockpit, identity, active, AGENT))
    for handler in handlers.values():
        app.include_router(handler.router(AGENT))
    kinds = ("carecommunication", "referral") if only == "all" else ("carecommunication",)
    app.include_router(build_outbox_router(outbox, AGENT, kinds))

    @app.get(f"{AGENT}/messages", tags=["agent"])
    def messages(messageHeaderId: str = "", patientCpr: str = "") -> ReceivedList:
        """Messages the LPS accepted and stored, optionally filtered."""
        found = storage.messages(messageHeaderId, patientCpr)
        return ReceivedList(
            total=len(found),
            messages=[
                ReceivedMessage(
                    messageHeaderId=m.header_id,
                    bundleId=m.bundle_id,
                    event=m.event,
                    activity=m.activity,
                    patientCpr=m.patient_cpr,
                    senderSor=m.sender_sor,
                    receivedAt=m.received_at,
                    format=m.fmt,
                )
                for m in found
            ],
        )

    @app.get("/ui/inbox", tags=["ui"], response_class=HTMLResponse)
    def inbox() -> HTMLResponse:
        """The GP's inbox as a person sees it: what attended test steps look at."""
        return HTMLResponse(render_inbox(storage.messages(), identity.name))

    @app.get(f"{AGENT}/defects", tags=["agent"])
    def defects_list() -> list[DefectInfo]:
        """The defect catalogue and which defects are active."""
        return [
            DefectInfo(name=d.name, active=d.name in active, da=d.da, en=d.en)
            for d in CATALOGUE.values()
        ]

    app.state.storage = storage
    return app


def _capabilities(only: str) -> Capabilities:
    both = ["send", "receive"]
    if only == "carecommunication":
        return Capabilities(
            standards=[StandardClaim(standard="CareCommunication", directions=both)],
            operations=list(CARECOMMUNICATION_OPERATIONS),
        )
    # every operation of the contract (operations left out), the standards of every protocol
    return Capabilities(
        standards=[
            StandardClaim(standard="CareCommunication", directions=both),
            StandardClaim(standard="REF01", directions=["send"]),
            StandardClaim(standard="DK-CPD", directions=["send"]),
            StandardClaim(standard="DK-QRD", directions=["receive"]),
            StandardClaim(standard="Cockpit", directions=both),
            *(
                StandardClaim(standard=s.name, directions=list(s.directions))
                for s in received_standards()
            ),
        ]
    )


def _ack_code(ack: dict[str, Any]) -> str:
    entries = ack.get("entry") or [{}]
    header = entries[0].get("resource") if isinstance(entries[0], dict) else None
    response = header.get("response") if isinstance(header, dict) else None
    return str(response.get("code", "")) if isinstance(response, dict) else ""


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), status_code=status, media_type="application/fhir+json")
