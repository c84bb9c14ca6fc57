"""Test agent operations for what the LPS sends: trigger a send, read the outbox, fire the
resend timer (so a test need not wait for real time to pass)."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from harness.reflps.cockpit.routes import problem
from harness.reflps.outbox import Outbox, outbox_json
from harness.reflps.outgoing import Party, Patient
from harness.safeparse import Limits, PayloadError, parse_json


class PatientIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    cpr: str = Field(pattern=r"^[0-9]{10}$")
    given: str = Field(min_length=1, max_length=200)
    family: str = Field(min_length=1, max_length=200)


class ReceiverIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    endpoint: str = Field(pattern=r"^https?://", max_length=2000)
    sor: str = Field(pattern=r"^[0-9]{6,20}$")
    gln: str = Field(pattern=r"^[0-9]{13}$")
    name: str = Field(min_length=1, max_length=200)


class SendRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    kind: Literal["carecommunication", "referral"]
    patient: PatientIn
    receiver: ReceiverIn
    package: Literal["kol", "lrs"] = "kol"
    text: str = Field(default="Status på forløbsplanen fra lægen.", max_length=10000)


def _loopback(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_outbox_router(outbox: Outbox, agent: str) -> APIRouter:
    router = APIRouter(tags=["agent"])

    @router.post(f"{agent}/outbox/send", status_code=202)
    async def send(raw: Request) -> Response:
        """Make the LPS send a message of `kind` for the patient to the receiver now."""
        try:
            request = SendRequest.model_validate(
                parse_json(await raw.body(), Limits(max_bytes=64 * 1024, max_depth=8))
            )
        except PayloadError as exc:
            return problem(400, "bad send request", str(exc))
        except ValidationError as exc:
            errors = exc.errors()
            first: dict[str, Any] = dict(errors[0]) if errors else {}
            where = ".".join(str(p) for p in first.get("loc", ()))
            return problem(400, "bad send request", f"{where}: {first.get('msg', 'invalid')}")
        if not _loopback(request.receiver.endpoint):
            # A test system sends only to receivers on this machine: never out into the world.
            return problem(400, "receiver not allowed", "receiver.endpoint: not a loopback URL")
        return await run_in_threadpool(_send, request)

    def _send(request: SendRequest) -> Response:
        item = outbox.send(
            request.kind,
            request.receiver.endpoint,
            Party(request.receiver.name, request.receiver.sor, request.receiver.gln),
            Patient(request.patient.cpr, request.patient.given, request.patient.family),
            request.package,
            request.text,
        )
        return Response(outbox_json([item]), 202, media_type="application/json")

    @router.get(f"{agent}/outbox")
    def read(messageId: str = "") -> Response:
        """What the LPS sent and what became of it (acknowledged, failed, rejected, awaiting)."""
        if len(messageId) > 200:
            return problem(400, "bad request", "messageId: too long")
        return Response(outbox_json(outbox.find(messageId)), media_type="application/json")

    @router.post(f"{agent}/outbox/retry")
    def retry() -> Response:
        """Fire the resend timer now: unacknowledged messages are sent again."""
        return Response(outbox_json(outbox.retry()), media_type="application/json")

    return router
