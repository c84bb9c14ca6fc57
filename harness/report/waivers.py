"""Waivers: a YAML register of accepted deviations; waived findings stop blocking, with a reason.

An expired waiver stops applying and says so in the findings of the case it named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.model.result import RunResult
from harness.yamlsource import check_schema, load_yaml

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["waivers"],
    "properties": {
        "waivers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason", "approver", "expires"],
                "properties": {
                    "case": {"type": "string"},
                    "requirement": {"type": "string", "pattern": r"^MVP[0-9]-[A-Z]+-[0-9]{2}$"},
                    "rule": {"type": "string"},
                    "reason": {"type": "string", "minLength": 1},
                    "approver": {"type": "string", "minLength": 1},
                    "expires": {
                        "type": "string",
                        "format": "date",
                        "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                    },
                },
                "anyOf": [{"required": ["case"]}, {"required": ["requirement"]}],
            },
        }
    },
}


@dataclass(frozen=True)
class Waiver:
    case: str
    requirement: str
    rule: str
    reason: str
    approver: str
    expires: dt.date
    source: str

    def covers(self, case_id: str, requirements: tuple[str, ...], rule_id: str) -> bool:
        return (
            (not self.case or self.case == case_id)
            and (not self.requirement or self.requirement in requirements)
            and (not self.rule or self.rule == rule_id)
        )

    def text(self) -> str:
        return f"{self.reason} (approved by {self.approver}, until {self.expires.isoformat()})"


def load_waivers(path: Path) -> list[Waiver]:
    doc = load_yaml(path)
    check_schema(doc, SCHEMA)
    waivers = []
    for index, raw in enumerate(doc.data["waivers"]):
        try:
            expires = dt.date.fromisoformat(raw["expires"])
        except ValueError:
            raise doc.error(("waivers", index, "expires"), "not a calendar date") from None
        waivers.append(
            Waiver(
                raw.get("case", ""),
                raw.get("requirement", ""),
                raw.get("rule", ""),
                raw["reason"],
                raw["approver"],
                expires,
                f"{doc.file}:{doc.line_of(('waivers', index))}",
            )
        )
    return waivers


def apply_waivers(run: RunResult, waivers: list[Waiver], today: dt.date) -> None:
    """Mark covered findings as waived; note expired waivers where they would have applied."""
    for case in run.cases:
        for step in case.steps:
            updated: list[Finding] = []
            for finding in step.findings:
                match = next(
                    (
                        w
                        for w in waivers
                        if w.covers(case.case.id, case.case.requirements, finding.rule_id)
                    ),
                    None,
                )
                if match is None or not finding.is_problem:
                    updated.append(finding)
                elif match.expires >= today:
                    updated.append(dataclasses.replace(finding, waiver=match.text()))
                else:
                    updated.append(finding)
                    updated.append(
                        Finding(
                            "WAIVER-EXPIRED",
                            Severity.OK,
                            f"waiver {match.source} for {finding.rule_id} expired on "
                            f"{match.expires.isoformat()}: no longer applied",
                            Location(match.source, "yaml"),
                            finding.step_id,
                        )
                    )
            step.findings = updated
