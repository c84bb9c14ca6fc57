"""Evidence file names in MedCom's convention: <standard>_<S|R>_<step>_<letter>.<ext>."""

from __future__ import annotations

import re
import string

from harness.model.exchange import Exchange

_SAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _ext(content_type: str, body: bytes) -> str:
    ct = content_type.lower()
    if "json" in ct:
        return "json"
    if "html" in ct:
        return "txt"  # never .html: a SUT's markup must not run when the report is opened
    if "xml" in ct:
        return "xml"
    head = body.lstrip()[:1]
    return {b"{": "json", b"[": "json", b"<": "xml"}.get(head, "txt")


class EvidenceNamer:
    """Assigns each exchange its S (sent) and R (received) file names, letters in order."""

    def __init__(self, standard: str) -> None:
        self.standard = _SAFE.sub("-", standard) or "kcert"
        self._counts: dict[tuple[str, str], int] = {}

    def name(self, exchange: Exchange, step: str) -> None:
        step_key = _SAFE.sub("-", step)
        request = (exchange.request_content_type, exchange.request_body)
        response = (exchange.response_content_type, exchange.response_body)
        sent, received = (response, request) if exchange.inbound else (request, response)
        for direction, (ct, body) in (("S", sent), ("R", received)):
            # a GET has no body: its request line is written as the evidence instead
            body_ext = "txt" if direction == "S" and not body else _ext(ct, body)
            index = self._counts.get((step_key, direction), 0)
            self._counts[(step_key, direction)] = index + 1
            letter = _letters(index)
            exchange.evidence[direction] = (
                f"{self.standard}_{direction}_{step_key}_{letter}.{body_ext}"
            )


def _letters(index: int) -> str:
    letters = string.ascii_uppercase
    if index < 26:
        return letters[index]
    return letters[index // 26 - 1] + letters[index % 26]
