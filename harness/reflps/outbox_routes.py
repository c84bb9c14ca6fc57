"""Test agent operations for what the LPS sends: trigger a send, read the outbox, fire the
resend timer (so a test need not wait for real time to pass)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from harness.reflps.cockpit.routes import problem
from harness.reflps.outbox import Outbox, outbox_json
from harness.reflps.outgoing import Attachment, Compose, Party, Patient
from harness.safeparse import Limits, PayloadError, parse_json

MAX_SEND_BODY = 8 * 1024 * 1024  # a send request with attachments (base64)
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024  # all attachments of one message, decoded
MIME_TYPES = Literal[
    "application/pdf", "image/gif", "image/jpeg", "image/png", "image/tiff", "image/bmp"
]
CATEGORIES = Literal[
    "alcohol-and-drug-treatment",
    "assistive-devices",
    "carecoordination",
    "decease",
    "discharge",
    "examination-results",
    "healthcare",
    "home-care-assessment",
    "medicine",
    "nursing",
    "outpatient",
    "psychiatry-social-disability",
    "regarding-referral",
    "telemedicine",
    "training",
    "acute-ambulant",
    "extended-care-responsibility",
    "other",
]


X_ECPR = (  # dk-core's x-ecpr invariant: day, month, year, 1 or 7, two letters, a digit
    r"^((((0[1-9]|1[0-9]|2[0-9]|3[0-1])(01|03|05|07|08|10|12))|((0[1-9]|1[0-9]|2[0-9]|30)"
    r"(04|06|09|11))|((0[1-9]|1[0-9]|2[0-9])(02)))([0-9]{2})(1|7)([A-Z]{2})([0-9]))$"
)


class PatientIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    cpr: str | None = Field(default=None, pattern=r"^[0-9]{10}$")
    xEcpr: str | None = Field(default=None, pattern=X_ECPR)
    given: str = Field(min_length=1, max_length=200)
    family: str = Field(min_length=1, max_length=200)


class ReceiverIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    endpoint: str = Field(pattern=r"^https?://", max_length=2000)
    sor: str = Field(pattern=r"^[0-9]{6,20}$")
    gln: str = Field(pattern=r"^[0-9]{13}$")
    name: str = Field(min_length=1, max_length=200)


class EarlierIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    messageHeaderId: str = Field(default="", max_length=200)
    communicationIdentifier: str = Field(default="", max_length=200)


class ForwardIn(EarlierIn):
    include: Literal["all", "text"] = "all"


class AttachmentIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    contentType: MIME_TYPES | None = None
    data: str | None = Field(default=None, max_length=MAX_SEND_BODY)
    url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)


class EpisodeIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    system: str = Field(default="", max_length=500)
    value: str = Field(min_length=1, max_length=200)


class EncounterIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    episodeOfCareIdentifier: EpisodeIn


class TeamIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    careTeam: str = Field(min_length=1, max_length=200)


class SendRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    kind: Literal["carecommunication", "referral"]
    patient: PatientIn
    receiver: ReceiverIn
    package: Literal["kol", "lrs"] = "kol"
    text: str = Field(default="Status på forløbsplanen fra lægen.", max_length=10000)
    # 1.4.0: what a CareCommunication carries besides the text
    replyTo: EarlierIn | None = None
    forward: ForwardIn | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    category: CATEGORIES | None = None
    topic: str | None = Field(default=None, min_length=1, max_length=200)
    priority: Literal["routine", "asap"] | None = None
    encounter: EncounterIn | None = None
    specificSender: TeamIn | None = None
    specificRecipient: TeamIn | None = None


class Refused(ValueError):
    """A send request the LPS cannot carry out: (HTTP status, title, detail)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _decode(item: AttachmentIn, where: str) -> Attachment:
    if (item.data is None) == (item.url is None):
        raise Refused(400, "bad send request", f"{where}: give exactly one of data and url")
    if item.data is None:
        return Attachment(item.contentType or "", item.title, None, item.url or "")
    if item.contentType is None:
        raise Refused(400, "bad send request", f"{where}.contentType: required with data")
    try:
        data = base64.b64decode(item.data, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, "bad send request", f"{where}.data: not base64") from None
    return Attachment(item.contentType, item.title, data)


def compose(request: SendRequest, outbox: Outbox) -> Compose:
    """The message the GP is asked to write, or why the LPS refuses (Refused)."""
    extras = [
        name
        for name in ("replyTo", "forward", "category", "topic", "priority", "encounter")
        if getattr(request, name) is not None
    ] + (["attachments"] if request.attachments else [])
    if (request.patient.cpr is None) == (request.patient.xEcpr is None):
        raise Refused(400, "bad send request", "patient: give one of cpr and xEcpr")
    if request.kind != "carecommunication":
        if request.patient.cpr is None:
            raise Refused(400, "bad send request", "patient.cpr: a referral needs a CPR number")
        if extras:
            raise Refused(400, "bad send request", f"{extras[0]}: only for a carecommunication")
        return Compose(request.text)
    if request.replyTo is not None and request.forward is not None:
        raise Refused(400, "bad send request", "replyTo and forward: give one of them")
    activity, earlier_in = "new-message", None
    if request.replyTo is not None:
        activity, earlier_in = "reply-message", request.replyTo
    elif request.forward is not None:
        activity, earlier_in = "forward-message", request.forward
    earlier = None
    if earlier_in is not None:
        name = "replyTo" if activity == "reply-message" else "forward"
        if not earlier_in.messageHeaderId and not earlier_in.communicationIdentifier:
            raise Refused(
                400, "bad send request", f"{name}: messageHeaderId or communicationIdentifier"
            )
        earlier = outbox.earlier(earlier_in.messageHeaderId, earlier_in.communicationIdentifier)
        if earlier is None:
            raise Refused(
                404,
                "unknown message",
                f"{name}: no CareCommunication received or sent with "
                + (
                    f"MessageHeader.id {earlier_in.messageHeaderId}"
                    if earlier_in.messageHeaderId
                    else f"communication identifier {earlier_in.communicationIdentifier}"
                ),
            )
    if request.priority is not None and request.category != "regarding-referral":
        raise Refused(
            400,
            "bad send request",
            "priority: only with category regarding-referral (medcom-careCommunication-5)",
        )
    attachments = tuple(
        _decode(item, f"attachments[{n}]") for n, item in enumerate(request.attachments)
    )
    if sum(len(a.data or b"") for a in attachments) > MAX_ATTACHMENT_BYTES:
        raise Refused(413, "attachments too large", f"more than {MAX_ATTACHMENT_BYTES} bytes")
    episode = request.encounter.episodeOfCareIdentifier if request.encounter else None
    return Compose(
        request.text,
        activity,
        earlier,
        request.forward.include if request.forward is not None else "all",
        request.category or "",
        request.topic or "",
        request.priority or "",
        attachments,
        (episode.system, episode.value) if episode is not None else None,
        request.specificSender.careTeam if request.specificSender else "",
        request.specificRecipient.careTeam if request.specificRecipient else "",
    )


def _loopback(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_outbox_router(
    outbox: Outbox, agent: str, kinds: tuple[str, ...] = ("carecommunication", "referral")
) -> APIRouter:
    """The send operations; `kinds` are the messages this LPS can send (an LPS that sends
    only CareCommunication answers 501 to a referral, as the contract asks)."""
    router = APIRouter(tags=["agent"])

    @router.post(f"{agent}/outbox/send", status_code=202)
    async def send(raw: Request) -> Response:
        """Make the LPS send a message of `kind` for the patient to the receiver now."""
        try:
            request = SendRequest.model_validate(
                parse_json(await raw.body(), Limits(max_bytes=MAX_SEND_BODY, max_depth=8))
            )
        except PayloadError as exc:
            return problem(400, "bad send request", str(exc))
        except ValidationError as exc:
            errors = exc.errors()
            first: dict[str, Any] = dict(errors[0]) if errors else {}
            where = ".".join(str(p) for p in first.get("loc", ()))
            return problem(400, "bad send request", f"{where}: {first.get('msg', 'invalid')}")
        if request.kind not in kinds:
            return problem(501, "not implemented", f"kind: this LPS does not send {request.kind}")
        if not _loopback(request.receiver.endpoint):
            # A test system sends only to receivers on this machine: never out into the world.
            return problem(400, "receiver not allowed", "receiver.endpoint: not a loopback URL")
        try:
            job = compose(request, outbox)
        except Refused as exc:
            return problem(exc.status, exc.title, exc.detail)
        return await run_in_threadpool(_send, request, job)

    def _send(request: SendRequest, job: Compose) -> Response:
        item = outbox.send(
            request.kind,
            request.receiver.endpoint,
            Party(request.receiver.name, request.receiver.sor, request.receiver.gln),
            Patient(
                request.patient.cpr or "",
                request.patient.given,
                request.patient.family,
                request.patient.xEcpr or "",
            ),
            request.package,
            request.text,
            job,
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
