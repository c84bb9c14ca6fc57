"""The monitor worklist and every grading act: claim, grade, re-open, admin override.

Each act is one `Grade` row (the audit trail); the store sets the instance's grade and claim
from the newest. Attachments are size-capped, stored by the store, and downloadable by whoever
may see the instance.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harness.connectathon.model import GRADES, Grade, GradeValue, TestInstance
from harness.connectathon.web.access import Viewer, forbidden, not_found
from harness.connectathon.web.forms import files_field, read_form, text_field
from harness.connectathon.web.i18n import translate
from harness.connectathon.web.routes_pages import viewer, visible_instance
from harness.connectathon.web.state import WebState, lang_of, render, web
from harness.connectathon.web.views import worklist
from harness.dates import now_iso

router = APIRouter()

# Types a browser may show inline without running anything; others download as bytes.
SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


class GradingRefused(HTTPException):
    """A grading act the instance's state or the form does not allow (message shown)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)


@router.get("/sessions/{session_id}/worklist")
def worklist_page(request: Request, session_id: str, mine: bool = False) -> Response:
    who = viewer(request)
    if not who.can_grade:
        raise forbidden()  # a vendor knows the worklist exists; it is simply not theirs
    state = web(request)
    try:
        session = state.store.session(session_id)
    except KeyError:
        raise not_found() from None
    instances = [
        i for i in state.store.instances(session_id) if not mine or i.claimed_by == who.username
    ]
    waiting, auto = worklist(instances)
    return render(
        request,
        "worklist.html",
        {"session": session, "waiting": waiting, "auto": auto, "mine": mine},
        viewer=who,
    )


def _grader(request: Request, state: WebState, instance_id: str) -> tuple[Viewer, TestInstance]:
    who = viewer(request)
    instance = visible_instance(state, who, instance_id)
    if not who.can_grade:
        raise forbidden()
    return who, instance


def _back(instance_id: str, request: Request, done: str) -> Response:
    request.session["flash"] = done
    return RedirectResponse(f"/instances/{instance_id}", status_code=303)


def _claimed_by_other(who: Viewer, instance: TestInstance) -> bool:
    return bool(instance.claimed_by) and instance.claimed_by != who.username


@router.post("/instances/{instance_id}/claim")
async def claim(request: Request, instance_id: str) -> Response:
    state = web(request)
    form = await read_form(request)
    who, instance = await run_in_threadpool(_grader, request, state, instance_id)
    lang = lang_of(request)
    if _claimed_by_other(who, instance):
        raise GradingRefused(409, translate(lang, "error.not_claimable", by=instance.claimed_by))
    comment = text_field(form, "comment", state.limits.max_comment)
    await _add(state, Grade(instance_id, instance.grade, "claim", who.username, now_iso(), comment))
    return _back(instance_id, request, "done.claimed")


@router.post("/instances/{instance_id}/grade")
async def grade(request: Request, instance_id: str) -> Response:
    state = web(request)
    form = await read_form(request)
    who, instance = await run_in_threadpool(_grader, request, state, instance_id)
    lang = lang_of(request)
    if _claimed_by_other(who, instance):
        raise GradingRefused(409, translate(lang, "error.not_claimable", by=instance.claimed_by))
    value = _grade_value(form, lang, allow_waiting=False)
    comment = text_field(form, "comment", state.limits.max_comment)
    if value != "verified" and not comment:
        raise GradingRefused(400, translate(lang, "error.comment_required"))
    attachments = await _save_files(state, form, instance_id, lang)
    await _take(state, who, instance)
    await _add(
        state, Grade(instance_id, value, "monitor", who.username, now_iso(), comment, attachments)
    )
    return _back(instance_id, request, "done.graded")


@router.post("/instances/{instance_id}/reopen")
async def reopen(request: Request, instance_id: str) -> Response:
    state = web(request)
    form = await read_form(request)
    who, _ = await run_in_threadpool(_grader, request, state, instance_id)
    lang = lang_of(request)
    comment = text_field(form, "comment", state.limits.max_comment)
    if not comment:
        raise GradingRefused(400, translate(lang, "error.comment_required"))
    await _add(state, Grade(instance_id, "waiting", "reopen", who.username, now_iso(), comment))
    return _back(instance_id, request, "done.reopened")


@router.post("/instances/{instance_id}/override")
async def override(request: Request, instance_id: str) -> Response:
    state = web(request)
    form = await read_form(request)
    who, instance = await run_in_threadpool(_grader, request, state, instance_id)
    if not who.can_override:
        raise forbidden()
    lang = lang_of(request)
    value = _grade_value(form, lang, allow_waiting=True)
    comment = text_field(form, "comment", state.limits.max_comment)
    if not comment:
        raise GradingRefused(400, translate(lang, "error.comment_required"))
    attachments = await _save_files(state, form, instance_id, lang)
    await _take(state, who, instance)
    await _add(
        state, Grade(instance_id, value, "override", who.username, now_iso(), comment, attachments)
    )
    return _back(instance_id, request, "done.overridden")


@router.get("/instances/{instance_id}/attachments/{attachment_id}")
def download(request: Request, instance_id: str, attachment_id: str) -> Response:
    who = viewer(request)
    state = web(request)
    visible_instance(state, who, instance_id)
    if not any(attachment_id in g.attachments for g in state.store.grades(instance_id)):
        raise not_found()  # an attachment is reached only through an act of this instance
    try:
        name, content_type, data = state.store.attachment(attachment_id)
    except KeyError:
        raise not_found() from None
    media = content_type if content_type in SAFE_TYPES else "application/octet-stream"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )


def _grade_value(form: FormData, lang: str, *, allow_waiting: bool) -> GradeValue:
    raw = text_field(form, "grade", 20)
    for value in GRADES:
        if raw == value and (allow_waiting or value != "waiting"):
            return value
    raise GradingRefused(400, translate(lang, "error.bad_grade"))


async def _save_files(
    state: WebState, form: FormData, instance_id: str, lang: str
) -> tuple[str, ...]:
    files = files_field(form, "attachments")
    limits = state.limits
    if len(files) > limits.max_attachments:
        raise GradingRefused(
            413, translate(lang, "error.too_many_files", count=limits.max_attachments)
        )
    loaded: list[tuple[str, str, bytes]] = []
    for upload in files:
        data = await upload.read(limits.max_attachment + 1)
        name = _clean_name(upload)
        if len(data) > limits.max_attachment:
            raise GradingRefused(
                413,
                translate(
                    lang, "error.file_too_large", name=name, size=limits.max_attachment // 1024
                ),
            )
        loaded.append((name, upload.content_type or "application/octet-stream", data))
    # All files checked before any is stored: a refused act leaves nothing behind.
    ids = []
    for name, content_type, data in loaded:
        ids.append(
            await run_in_threadpool(
                state.store.save_attachment, instance_id, name, content_type, data
            )
        )
    return tuple(ids)


def _clean_name(upload: UploadFile) -> str:
    base = (upload.filename or "attachment").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .") or "attachment"
    return cleaned[:200]


async def _take(state: WebState, who: Viewer, instance: TestInstance) -> None:
    """A person grading an instance nobody has claimed takes it first (a claim act in the
    trail): the claim says a person has dealt with it, which the worklist relies on."""
    if not instance.claimed_by:
        await _add(
            state, Grade(instance.instance_id, instance.grade, "claim", who.username, now_iso())
        )


async def _add(state: WebState, act: Grade) -> None:
    await run_in_threadpool(state.store.add_grade, act)
