"""Waivers: a YAML register of accepted deviations; waived findings stop blocking, with a reason.

An expired waiver stops applying and says so in the findings of the case it named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness.standards  # noqa: F401  (every standard's rule ids registered)
from harness.checks.rules import FAMILIES, RULES
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.model.protocol import Protocol
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


def load_waivers(path: Path, protocols: list[Protocol] | None = None) -> list[Waiver]:
    """The waivers in `path`; with `protocols`, each must name a case, requirement and rule
    that exist (a waiver for nothing would silently waive nothing, or the wrong thing later)."""
    doc = load_yaml(path)
    check_schema(doc, SCHEMA)
    known = _Known.of(protocols) if protocols is not None else None
    waivers = []
    for index, raw in enumerate(doc.data["waivers"]):
        try:
            expires = dt.date.fromisoformat(raw["expires"])
        except ValueError:
            raise doc.error(("waivers", index, "expires"), "not a calendar date") from None
        if known is not None:
            for key, problem in known.problems(raw):
                raise doc.error(("waivers", index, key), problem)
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


@dataclass(frozen=True)
class _Known:
    """The case ids, requirements and rule ids a waiver may name."""

    cases: frozenset[str]
    requirements: frozenset[str]
    rules: frozenset[str]

    @classmethod
    def of(cls, protocols: list[Protocol]) -> _Known:
        cases = [c for p in protocols for c in p.cases]
        rules: set[str] = set(RULES)
        for case in cases:
            for step in case.steps:
                for exp in step.expectations:
                    _collect_ids(exp.params, rules)
        return cls(
            frozenset(c.id for c in cases),
            frozenset(r for c in cases for r in c.requirements),
            frozenset(rules),
        )

    def problems(self, raw: dict[str, Any]) -> list[tuple[str, str]]:
        found = []
        if raw.get("case") and raw["case"] not in self.cases:
            found.append(("case", f"no test case {raw['case']!r} in the protocols"))
        if raw.get("requirement") and raw["requirement"] not in self.requirements:
            found.append(("requirement", f"no test case proves requirement {raw['requirement']!r}"))
        rule = raw.get("rule")
        if rule and rule not in self.rules and not any(rule.startswith(p) for p, _ in FAMILIES):
            found.append(
                (
                    "rule",
                    f"unknown rule {rule!r} (not in kcert's rule catalogue, a validator "
                    "family or a protocol's own rules)",
                )
            )
        return found


def _collect_ids(value: Any, into: set[str]) -> None:
    # A protocol's own rules (FHIRPath, XPath) carry their id under "id" or "rule".
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("id", "rule") and isinstance(item, str):
                into.add(item)
            else:
                _collect_ids(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item, into)


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
