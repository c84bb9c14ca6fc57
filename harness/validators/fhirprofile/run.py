"""The state of one validate() call: findings, the context, caches that must not outlive it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.validators.fhirprofile import rules
from harness.validators.fhirprofile.contexts import ValidationContext
from harness.validators.fhirprofile.references import BundleResolver


@dataclass
class Run:
    """Nothing here outlives one validate() call."""

    evidence: str
    bundle: dict[str, Any] | None
    resolver: BundleResolver
    context: ValidationContext
    findings: list[Finding] = field(default_factory=list)
    not_run: dict[str, None] = field(default_factory=dict)  # ordered set of reasons
    resource: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    env: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[tuple[str, str, str], bool | str] = field(default_factory=dict)
    conformance: dict[tuple[int, str], bool] = field(default_factory=dict)
    # (resource, profile url) pairs already walked, so a Bundle entry reached through its
    # declared meta.profile and again through the entry slice's type profile is judged once
    done: set[tuple[int, str]] = field(default_factory=set)
    lines: dict[str, int] = field(default_factory=dict)  # FHIRPath -> source line (XML input)
    top: dict[str, Any] = field(default_factory=dict)  # the instance as given
    memo: dict[str, Any] = field(default_factory=dict)  # what is worked out once per call

    def add(self, rule_id: str, severity: Severity, message: str, path: str) -> None:
        finding = rules.finding(rule_id, severity, message, path, self.evidence)
        line = self.lines.get(path)
        if line is not None:
            finding = rules.finding(rule_id, severity, message, path, self.evidence, line)
        self.findings.append(finding)

    def skip(self, reason: str, path: str = "", rule_id: str = rules.NOT_RUN) -> None:
        """A check that could not run: said once in the summary and as a note at the place."""
        self.not_run.setdefault(reason, None)
        self.add(rule_id, rules.INFO, reason, path)

    @contextmanager
    def scratch(self) -> Iterator[list[Finding]]:
        """Collect findings aside (to test conformance) instead of reporting them."""
        saved, self.findings = self.findings, []
        saved_done, self.done = self.done, set()
        saved_not_run = dict(self.not_run)
        try:
            yield self.findings
        finally:
            self.findings, self.done, self.not_run = saved, saved_done, saved_not_run

    @contextmanager
    def on_resource(self, resource: dict[str, Any]) -> Iterator[None]:
        """Switch %resource and the base for relative references to another resource."""
        saved = (self.resource, self.base_url, self.env)
        self.resource = resource
        self.base_url = self.resolver.full_url_of.get(id(resource)) or self.base_url
        root = saved[2].get("rootResource", resource) if saved[2] else resource
        if self.bundle is not None and id(resource) in self.resolver.full_url_of:
            root = resource  # a Bundle entry is a root resource of its own
        self.env = {"resource": resource, "rootResource": root, "bundle": self.bundle}
        try:
            yield
        finally:
            self.resource, self.base_url, self.env = saved

    def result(self) -> list[Finding]:
        # the same fact found through a base element and its slice, or a not-checked note
        # repeated for every element, is reported once
        seen: set[tuple[str, str, str]] = set()
        unique = []
        for item in self.findings:
            path = "" if item.severity is Severity.OK else item.location.path
            key = (item.rule_id, path, item.message)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        return unique
