"""Exchanges: every request kcert sends and every answer it gets, as recorded evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Exchange:
    """One request/response pair with the SUT; secrets are removed before it is stored."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    started: str = ""
    duration_ms: float = 0.0
    error: str = ""
    truncated: bool = False
    evidence: dict[str, str] = field(default_factory=dict)  # "S"/"R" -> file name
    # The SUT called kcert (kcert plays the receiving peer): the request is what the SUT
    # sent (evidence R), the response what kcert answered (evidence S).
    inbound: bool = False
    # Real-format CPR numbers the SUT sent were masked (harness.checks.realcpr): direction
    # ("R") -> SHA-256 of the original bytes; `withheld`: directions whose body was not kept.
    masked: dict[str, str] = field(default_factory=dict)
    withheld: list[str] = field(default_factory=list)

    @property
    def sent_by_kcert(self) -> bytes:
        return self.response_body if self.inbound else self.request_body

    @property
    def received_by_kcert(self) -> bytes:
        return self.request_body if self.inbound else self.response_body

    @property
    def response_content_type(self) -> str:
        for key, value in self.response_headers.items():
            if key.lower() == "content-type":
                return value
        return ""

    @property
    def request_content_type(self) -> str:
        for key, value in self.request_headers.items():
            if key.lower() == "content-type":
                return value
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "request_headers": self.request_headers,
            "status": self.status,
            "response_headers": self.response_headers,
            "started": self.started,
            "duration_ms": round(self.duration_ms, 2),
            "error": self.error,
            "truncated": self.truncated,
            "evidence": self.evidence,
            "inbound": self.inbound,
            **({"masked": self.masked, "withheld": self.withheld} if self.masked else {}),
        }
