"""Reading POST forms: bounded, and refused with 403 without the session's CSRF token."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from harness.connectathon.web import csrf
from harness.connectathon.web.state import web


class CsrfRefused(HTTPException):
    """A POST without the session's CSRF token (or from another origin)."""

    def __init__(self) -> None:
        super().__init__(status_code=403, detail="csrf")


async def read_form(request: Request) -> FormData:
    limits = web(request).limits
    try:
        form = await request.form(
            max_files=limits.max_attachments + 1,  # one more, so "too many" is our message
            max_fields=limits.max_form_fields,
            max_part_size=max(limits.max_comment * 4, 64 * 1024),
        )
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if not csrf.valid(request, form.get(csrf.FIELD)):
        await form.close()
        raise CsrfRefused()
    return form


def text_field(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return ""
    return value.strip()[:limit]


def files_field(form: FormData, name: str) -> list[UploadFile]:
    """The uploaded files of a field; an empty file input (no file chosen) is not a file."""
    return [v for v in form.getlist(name) if isinstance(v, UploadFile) and (v.filename or v.size)]


def safe_next(target: str | None) -> str:
    """A redirect target after login: only a path on this site (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
