"""Agent operations for care-plan sharing (DK-CPD) and PRO documents (QRD) in."""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from harness.reflps.careplan.pro import NotAQrd, ProInbox, read_qrd
from harness.reflps.careplan.sharing import PlanSharing, RepositoryFailed, ShareRefused
from harness.reflps.cockpit.routes import CockpitService, _as_of, plan_body, problem
from harness.reflps.identity import ClinicIdentity
from harness.safeparse import Limits, PayloadError, parse_json

MAX_DOCUMENT = 2 * 1024 * 1024


def _share_request(body: bytes) -> tuple[str, str]:
    """(repositoryUrl, asOf) from the JSON body; ValueError says what is wrong."""
    try:
        data = parse_json(body, Limits(max_bytes=64 * 1024, max_depth=8))
    except PayloadError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(data, dict) or set(data) != {"repositoryUrl", "asOf"}:
        raise ValueError("the body is an object with exactly repositoryUrl and asOf")
    url, as_of = data["repositoryUrl"], data["asOf"]
    if not isinstance(url, str) or not isinstance(as_of, str):
        raise ValueError("repositoryUrl and asOf are strings")
    return url, as_of


def build_router(
    cockpit: CockpitService, identity: ClinicIdentity, defects: frozenset[str], prefix: str
) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["agent"])
    sharing = PlanSharing(cockpit.store, defects)
    inbox = ProInbox(cockpit.store, defects)
    clinic = {"sor": identity.sor, "name": identity.name}

    @router.post("/patients/{cpr}/plan/share")
    async def share_plan(cpr: str, request: Request) -> Response:
        """Build the patient's plan at asOf as DK-CPD and submit it to the repository."""
        try:
            wanted_url, wanted_as_of = _share_request(await request.body())
        except ValueError as exc:
            return problem(400, "bad share request", str(exc))
        as_of = _as_of(wanted_as_of)
        if isinstance(as_of, Response):
            return as_of
        try:
            url = sharing.check_url(wanted_url)
        except ShareRefused as exc:
            return problem(400, "repository not allowed", str(exc))
        return await run_in_threadpool(_share, cpr, as_of, url)

    def _share(cpr: str, as_of: dt.date, url: str) -> Response:
        patient = sharing.patient(cpr)
        plan = plan_body(cockpit, cpr, as_of) if patient else None
        if patient is None or plan is None:
            return problem(404, "unknown patient", "no patient with that CPR in this clinic")
        try:
            shared = sharing.share(plan, patient, clinic, url)
        except RepositoryFailed as exc:
            return problem(502, "the repository did not take the plan", str(exc))
        body = {
            "status": "shared",
            "documentId": shared.document_id,
            "version": shared.version,
            "repositoryStatus": shared.repository_status,
        }
        return Response(json.dumps(body), media_type="application/json")

    @router.post("/documents")
    async def receive_document(request: Request) -> Response:
        """A PRO answer document (DK-QRD) for one of the clinic's patients."""
        content_type = request.headers.get("content-type", "").lower()
        if "xml" not in content_type:
            return problem(415, "unsupported media type", "send the QRD as application/xml")
        body = await request.body()
        if len(body) > MAX_DOCUMENT:
            return problem(413, "document too large", f"at most {MAX_DOCUMENT} bytes")
        try:
            answers = read_qrd(body)
        except (PayloadError, NotAQrd) as exc:
            return problem(400, "not a QRD document this LPS can file", str(exc))
        if not inbox.known_patient(answers.cpr):
            return problem(404, "unknown patient", "the document's patient is not in this clinic")
        try:
            fresh = inbox.attach(answers)
        except NotAQrd as exc:
            return problem(400, "not a QRD document this LPS can file", str(exc))
        cockpit.forget()  # the stratification follows the new answers
        result = {
            "status": "attached" if fresh else "already-attached",
            "documentId": answers.document_id,
            "patientCpr": answers.cpr,
            "questionnaire": answers.questionnaire,
            "answered": answers.day.isoformat(),
        }
        return Response(json.dumps(result), media_type="application/json")

    return router
