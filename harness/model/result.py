"""Results of steps, test cases, protocols and runs, and the roll-up to a verdict."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.model.answer import ManualAnswer
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.i18n import Text
from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Protocol, Step, TestCase
from harness.model.scope import Scope

# An artifact of this media type is a table of objectives the report shows as a table: a JSON
# list of rows {operation, measure, status (pass|fail|error), severity, measured_text,
# allowed_text} (a load run's SLO outcomes).
SLO_TABLE = "application/vnd.kcert.slo+json"


@dataclass(frozen=True)
class Artifact:
    """A file a step made for a person to look at (a plot, a tool's own output): written as
    evidence, listed in results.json with its SHA-256, an image shown in the report."""

    name: str  # a file name, unique within its step ("latency.svg")
    media_type: str  # "image/svg+xml", "text/csv", …
    data: bytes
    caption: Text = field(default_factory=Text)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_image(self) -> bool:
        return self.media_type in ("image/svg+xml", "image/png", "image/jpeg")


@dataclass
class StepResult:
    step: Step
    outcome: Outcome
    findings: list[Finding] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    message: str = ""
    duration_ms: float = 0.0
    answer: ManualAnswer | None = None  # an attended step: what the tester recorded
    # files for a person (plots, a load generator's CSVs); not kept in the run store
    artifacts: list[Artifact] = field(default_factory=list)


@dataclass
class CaseResult:
    case: TestCase
    protocol_id: str
    steps: list[StepResult] = field(default_factory=list)
    started: str = ""
    duration_ms: float = 0.0
    error: str = ""
    not_in_scope: str = ""  # why the case was not run: outside the SUT's declared scope

    @property
    def outcome(self) -> Outcome:
        if self.not_in_scope:
            return Outcome.NOT_IN_SCOPE
        if self.error:
            return Outcome.ERROR
        return Outcome.worst((s.outcome for s in self.steps), default=Outcome.SKIP)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.steps for f in s.findings]

    @property
    def blocking(self) -> bool:
        """A finding here stands in the way of approval (F1-F3)."""
        return any(f.blocking for f in self.findings)

    @property
    def assessment(self) -> Severity:
        """MedCom's column "Vurdering": the gravest problem found, OK when none."""
        return Severity.gravest(f.severity for f in self.findings if f.is_problem)


@dataclass
class ProtocolResult:
    protocol: Protocol
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        return Outcome.worst((c.outcome for c in self.cases), default=Outcome.SKIP)


@dataclass
class SutInfo:
    name: str
    vendor: str
    version: str
    transport: str
    endpoints: dict[str, str]
    identity: dict[str, str]
    defects: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The report's and the run store's SUT block (plain JSON data)."""
        return {
            "name": self.name,
            "vendor": self.vendor,
            "version": self.version,
            "transport": self.transport,
            "endpoints": dict(self.endpoints),
            "identity": dict(self.identity),
            "defects": list(self.defects),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SutInfo:
        """The block back; what an older record lacks is empty, extra keys (scope) are left."""
        endpoints = data.get("endpoints")
        identity = data.get("identity")
        defects = data.get("defects")
        return cls(
            name=str(data.get("name", "")),
            vendor=str(data.get("vendor", "")),
            version=str(data.get("version", "")),
            transport=str(data.get("transport", "")),
            endpoints={str(k): str(v) for k, v in (endpoints or {}).items()}
            if isinstance(endpoints, Mapping)
            else {},
            identity={str(k): str(v) for k, v in (identity or {}).items()}
            if isinstance(identity, Mapping)
            else {},
            defects=tuple(str(d) for d in defects) if isinstance(defects, list | tuple) else (),
        )


@dataclass
class RunResult:
    run_id: str
    sut: SutInfo
    test_type: str
    tester: str
    started: str
    finished: str = ""
    protocols: list[ProtocolResult] = field(default_factory=list)
    error: str = ""  # an infrastructure problem that stopped the run
    suite_version: str = ""
    lang: str = "da"
    place: str = ""
    packs: list[dict[str, str]] = field(default_factory=list)  # id, version, kind, sha256
    parent_run: str = ""  # the run this one re-judges or continues
    relation: str = ""  # "rejudge" or ""
    scope: Scope = field(default_factory=Scope)

    @property
    def cases(self) -> list[CaseResult]:
        return [c for p in self.protocols for c in p.cases]

    @property
    def outcome(self) -> Outcome:
        if self.error:
            return Outcome.ERROR
        return Outcome.worst((p.outcome for p in self.protocols), default=Outcome.SKIP)

    @property
    def verdict(self) -> Verdict:
        return judge(self)

    @property
    def in_scope(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome is not Outcome.NOT_IN_SCOPE]

    @property
    def pending_steps(self) -> list[tuple[CaseResult, StepResult]]:
        """Attended steps still waiting for a tester."""
        return [(c, s) for c in self.cases for s in c.steps if s.outcome is Outcome.PENDING]


def judge(run: RunResult) -> Verdict:
    """Godkendt only with no F1-F3 finding, no error and nothing pending, among the cases in
    scope; cases not in scope do not count, but a run with none in scope approves nothing."""
    outcomes = [c.outcome for c in run.cases]
    if run.error or Outcome.ERROR in outcomes:
        return Verdict.FEJL
    if any(f.blocking for c in run.cases for f in c.findings):
        return Verdict.IKKE_GODKENDT
    if Outcome.PENDING in outcomes:
        return Verdict.AFVENTER
    if run.cases and not run.in_scope:
        return Verdict.IKKE_GODKENDT
    return Verdict.GODKENDT
