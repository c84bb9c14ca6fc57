"""Attachments kcert asks a SUT to send: small synthetic files of each MedCom MIME type,
and the check of what arrived against what was asked for (content, Attachment.size and
Attachment.hash, which FHIR R4 defines as the base64 SHA-1 of the data)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

# the MIME types MedCom allows for attachments (medcom-core-attachmentMimeTypes), as Pillow
# writes them
FORMATS = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/jpeg": "JPEG",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}
LINK = "https://kcert.invalid/bilag/forloebsplan"
# Pillow stamps a PDF with the time it was written; a fixed stamp keeps a sample's bytes the
# same in every run, so `kcert rejudge` asks for what the recorded run asked for
PDF_STAMP = time.gmtime(1767225600)  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class Asked:
    """One attachment kcert asked for: content of a MIME type, or a link."""

    title: str
    content_type: str = ""
    data: bytes | None = None
    url: str = ""

    def request(self) -> dict[str, Any]:
        """Its `attachments[]` item in the agent's SendRequest."""
        if self.data is None:
            return {"title": self.title, "url": self.url}
        return {
            "title": self.title,
            "contentType": self.content_type,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


def sample(content_type: str, title: str) -> Asked:
    """A small synthetic file of `content_type` (a tiny coloured picture, or a PDF of one)."""
    image = Image.new("RGB", (8, 8), (40, 110, 180))
    out = io.BytesIO()
    pdf = content_type == "application/pdf"
    fixed = {"creationDate": PDF_STAMP, "modDate": PDF_STAMP} if pdf else {}
    image.save(out, format=FORMATS[content_type], **fixed)
    return Asked(title, content_type, out.getvalue())


def link(title: str) -> Asked:
    return Asked(title, url=LINK)


def _attachments(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    found = []
    for entry in (message or {}).get("entry") or []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "Communication":
            continue
        for payload in res.get("payload") or []:
            content = payload.get("contentAttachment") if isinstance(payload, dict) else None
            if isinstance(content, dict):
                found.append(content)
    return found


def check(asked: list[Asked], message: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(problems, notes): each attachment asked for, found by title in what arrived."""
    problems: list[str] = []
    notes: list[str] = []
    arrived = _attachments(message)
    for item in asked:
        match = next((a for a in arrived if a.get("title") == item.title), None)
        where = f"attachment {item.title!r}"
        if match is None:
            problems.append(f"{where} was asked for and is not in the message sent")
            continue
        if item.data is None:
            if match.get("url") != item.url:
                problems.append(f"{where}: url is {match.get('url')!r}, asked for {item.url!r}")
            else:
                notes.append(f"{where}: the link arrived as asked")
            continue
        problems.extend(_check_content(item, match, where))
        if not any(p.startswith(where) for p in problems):
            notes.append(
                f"{where}: {item.content_type}, {len(item.data)} bytes, content, size and "
                "SHA-1 hash as asked"
            )
    return problems, notes


def _check_content(item: Asked, match: dict[str, Any], where: str) -> list[str]:
    assert item.data is not None
    problems = []
    if match.get("contentType") != item.content_type:
        problems.append(
            f"{where}: contentType is {match.get('contentType')!r}, asked for {item.content_type!r}"
        )
    try:
        data = base64.b64decode(str(match.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        return [*problems, f"{where}: data is not base64"]
    if data != item.data:
        problems.append(
            f"{where}: the content differs from what was asked for ({len(data)} bytes, "
            f"SHA-256 {hashlib.sha256(data).hexdigest()[:16]}…, asked "
            f"{len(item.data)} bytes, {hashlib.sha256(item.data).hexdigest()[:16]}…)"
        )
    size = match.get("size")
    if size is not None and size != len(data):
        problems.append(f"{where}: Attachment.size is {size}, the data has {len(data)} bytes")
    digest = match.get("hash")
    if digest is not None:
        sha1 = base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")
        sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        if digest == sha256:
            problems.append(
                f"{where}: Attachment.hash is the SHA-256 of the data; FHIR R4 defines it as "
                "the base64 SHA-1"
            )
        elif digest != sha1:
            problems.append(
                f"{where}: Attachment.hash {digest!r} is not the base64 SHA-1 of the data ({sha1})"
            )
    return problems
