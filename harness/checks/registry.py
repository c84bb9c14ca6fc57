"""The check registry and what a check sees: the step's exchange and what was sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.checks.diagnostics import status_message, with_quote
from harness.fhir.resource import FhirReadError, read_resource, structure_issues
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.registry import Registry
from harness.safeparse import PayloadError

ANSWER = "answer"  # what a step's SUT answer(s) said: status, body
DELIVERY = "delivery"  # what the SUT sent to kcert's peer in the step


class NotEvaluated(Exception):
    """A check or step cannot be judged because something it builds on already failed.

    The root finding was reported once, where it happened; what depends on it says so
    ("not evaluated") instead of adding a second failure for the same cause.
    """

    def __init__(self, reason: str, root: Finding | None = None) -> None:
        super().__init__(reason)
        self.root = root


def root_reason(root: Finding) -> str:
    """How a dependent names the finding it depends on."""
    step = f"step {root.step_id}: " if root.step_id else ""
    text = root.message if len(root.message) <= 160 else root.message[:159] + "…"
    return f"{step}{root.rule_id} {text}"


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
    # The step's root finding (its answer or delivery unusable, its operation refused): a
    # later step that needs what this one should have produced is not evaluated.
    root: Finding | None = None


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
    # subject (ANSWER, DELIVERY) -> the first finding that made it unusable in this step
    roots: dict[str, Finding] = field(default_factory=dict)

    def root(self, finding: Finding, *subjects: str, instead: bool = False) -> Finding:
        """Mark `finding` as the root cause for `subjects` (default: the answer): later
        checks of the step that read them are not evaluated. `instead`: it restates the
        root this check met (e.g. a parse problem as "no OperationOutcome") and replaces it."""
        for subject in subjects or (ANSWER,):
            if instead:
                self.roots[subject] = finding
            else:
                self.roots.setdefault(subject, finding)
        return finding

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

    def bad_status(
        self,
        expected: str,
        rule: str,
        what: str = "",
        subjects: tuple[str, ...] = (ANSWER,),
        exchange: Exchange | None = None,
    ) -> Finding:
        """The answer's status is not `expected`: the step's root finding, quoting the SUT
        (SUT-OPERATION-MISSING when it does not offer the operation at all)."""
        exchange = exchange or self.exchange
        override, message = status_message(exchange, expected)
        text = f"{what}: {message}" if what else message
        return self.root(
            self.finding_on(exchange, override or rule, text, "status", "http"), *subjects
        )

    def bad_answer(
        self,
        rule: str,
        message: str,
        path: str = "",
        language: str = "json-pointer",
        subjects: tuple[str, ...] = (ANSWER,),
        exchange: Exchange | None = None,
    ) -> Finding:
        """The answer breaks the contract (unreadable, wrong shape): the step's root finding,
        quoting what the SUT said."""
        exchange = exchange or self.exchange
        finding = self.finding_on(exchange, rule, with_quote(message, exchange), path, language)
        return self.root(finding, *subjects)

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
                if self._fhir_problems:
                    self.root(self._fhir_problems[0])
        return self._fhir_problems

    def parse_problem(self) -> Finding | None:
        if self.response_resource() is None:
            # An answer cut at the size cap is unreadable because it is too large: that is
            # the root cause to name, not the parse error it leads to.
            return self.root(
                self.finding(
                    "HTTP-TOO-LARGE" if self.exchange.truncated else "FHIR-PARSE",
                    with_quote(
                        f"response (HTTP {self.exchange.status}) is not a readable FHIR "
                        f"resource: {self._parse_problem}",
                        self.exchange,
                    ),
                    "",
                    "http",
                )
            )
        return None


# What each check judges besides kcert's own data: the step's answer unless named here. A
# check is not evaluated once an earlier check of the step found what it reads unusable.
_READS: dict[str, tuple[str, ...]] = {
    "contract-conforms": (),  # the contract-fuzz summary kcert itself wrote
    "sent-carecommunication": (DELIVERY,),
    "sent-referral": (DELIVERY,),
    "resent": (ANSWER, DELIVERY),  # the resend request's answer, and what came again
    "cpd-schema": (DELIVERY,),
    "cpd-schematron": (DELIVERY,),
    "cpd-rules": (DELIVERY,),
    "cpd-metadata": (DELIVERY,),
    "cpd-matches-oracle": (DELIVERY,),
    "cpd-replaces": (DELIVERY,),
}


def reads(check: str) -> tuple[str, ...]:
    """The subjects (ANSWER, DELIVERY) a check reads."""
    return _READS.get(check, (ANSWER,))


class CheckFunc(Protocol):
    def __call__(self, ctx: CheckContext, **params: Any) -> Iterator[Finding]: ...


CHECKS: Registry[CheckFunc] = Registry("expectation")
