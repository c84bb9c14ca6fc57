"""The check registry and what a check sees: the step's exchange and what was sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.fhir.resource import FhirReadError, read_resource, structure_issues
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.registry import Registry
from harness.safeparse import PayloadError


@dataclass
class Sent:
    """A message kcert sent in a step: the resource, its generated ids, its format."""

    resource: dict[str, Any]
    ids: dict[str, str]
    fmt: str
    body: bytes
    content_type: str

    @property
    def header_id(self) -> str:
        try:
            return str(self.resource["entry"][0]["resource"]["id"])
        except (KeyError, IndexError, TypeError):
            return ""

    @property
    def bundle_id(self) -> str:
        return str(self.resource.get("id", ""))


@dataclass
class StepRecord:
    """What an earlier step of the same test case left behind, for later steps to compare."""

    exchange: Exchange | None
    sent: Sent | None
    parsed: dict[str, Any] | None = None
    person: dict[str, str] = field(default_factory=dict)
    peer: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckContext:
    """Everything a check may look at; it never talks to the SUT itself."""

    step_id: str
    exchange: Exchange
    severity: Severity
    sent: Sent | None
    earlier: dict[str, StepRecord]
    sut_identity: dict[str, str]
    peer_identity: dict[str, str]
    person: dict[str, str] = field(default_factory=dict)
    standards: tuple[str, ...] = ()  # the FHIR package versions the SUT claims
    exchanges: list[Exchange] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    _parsed: dict[str, Any] | None = None
    _parse_problem: str | None = None
    _fhir_problems: list[Finding] | None = None

    @property
    def evidence_r(self) -> str:
        return self.exchange.evidence.get("R", "")

    def finding(
        self,
        rule_id: str,
        message: str,
        path: str = "",
        language: str = "fhirpath",
        severity: Severity | None = None,
    ) -> Finding:
        """A finding about the step's own answer."""
        return self.finding_on(self.exchange, rule_id, message, path, language, severity)

    def finding_on(
        self,
        exchange: Exchange,
        rule_id: str,
        message: str,
        path: str = "",
        language: str = "fhirpath",
        severity: Severity | None = None,
    ) -> Finding:
        """A finding about what kcert received in `exchange` (e.g. what the SUT sent its peer)."""
        return Finding(
            rule_id,
            severity or self.severity,
            message,
            Location(path, language, None, exchange.evidence.get("R", "")),
            self.step_id,
        )

    def pack_missing(self, exchange: Exchange, kind: str, what: str) -> Finding:
        """A check that needs a pack which is not installed (or not in the run's pack set):
        a visible gap in the report, informational, never a pass in disguise."""
        return self.finding_on(
            exchange,
            "PACK-MISSING",
            f"not run: pack missing ({kind}): {what}",
            "",
            "",
            Severity.OK,
        )

    def inbound(self) -> list[Exchange]:
        """What the SUT delivered to kcert's peer in this step, in order of arrival (a TLS
        connection the peer refused is evidence, not a delivery)."""
        return [e for e in self.exchanges if e.inbound and not e.error]

    def response_resource(self) -> dict[str, Any] | None:
        """The response body as a FHIR resource, or None with the reason kept."""
        if self._parsed is None and self._parse_problem is None:
            body = self.exchange.response_body
            if not body:
                self._parse_problem = "the response has no body"
            else:
                try:
                    _, self._parsed = read_resource(body, self.exchange.response_content_type)
                except (PayloadError, FhirReadError) as exc:
                    self._parse_problem = str(exc)
        return self._parsed

    def fhir_problems(self) -> list[Finding]:
        """Why the answer is not a well-formed FHIR resource (parse or R4B structure), if so.

        Rule checks run only on well-formed answers, so a hostile shape (a string where an
        object belongs) is a finding here and never an exception inside a later rule.
        """
        if self._fhir_problems is None:
            problem = self.parse_problem()
            if problem is not None:
                self._fhir_problems = [problem]
            else:
                self._fhir_problems = [
                    self.finding("FHIR-STRUCTURE", issue.message, issue.path)
                    for issue in structure_issues(self.response_resource() or {})[:20]
                ]
        return self._fhir_problems

    def parse_problem(self) -> Finding | None:
        if self.response_resource() is None:
            return self.finding(
                "FHIR-PARSE",
                f"response is not a readable FHIR resource: {self._parse_problem}",
                "",
                "http",
            )
        return None


class CheckFunc(Protocol):
    def __call__(self, ctx: CheckContext, **params: Any) -> Iterator[Finding]: ...


CHECKS: Registry[CheckFunc] = Registry("expectation")
