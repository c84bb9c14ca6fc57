"""Findings: what a validator or expectation says about SUT output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.model.outcome import Severity


@dataclass(frozen=True)
class Location:
    """Where in a payload a finding points: a path in some language, and a line when known."""

    path: str = ""
    language: str = ""  # "fhirpath", "xpath", "json-pointer", "http", "yaml"
    line: int | None = None
    evidence: str = ""  # evidence file name the path applies to

    def describe(self) -> str:
        parts = [p for p in (self.evidence, self.path) if p]
        text = " ".join(parts)
        if self.line is not None:
            text += f" (line {self.line})"
        return text


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one place; severity on MedCom's scale (OK = informational)."""

    rule_id: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    step_id: str = ""
    waiver: str = ""  # an accepted deviation: why, by whom, until when

    @property
    def blocking(self) -> bool:
        return self.severity.blocks_approval and not self.waiver

    @property
    def is_problem(self) -> bool:
        return self.severity is not Severity.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "message": self.message,
            "step": self.step_id,
            "waiver": self.waiver,
            "location": {
                "path": self.location.path,
                "language": self.location.language,
                "line": self.location.line,
                "evidence": self.location.evidence,
            },
        }
