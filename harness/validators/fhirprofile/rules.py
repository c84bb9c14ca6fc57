"""Rule ids and severities of the profile validator's findings."""

from __future__ import annotations

from harness.model.finding import Finding, Location
from harness.model.outcome import Severity

CARD = "FHIR-CARD"
TYPE = "FHIR-TYPE"
FIXED = "FHIR-FIXED"
PATTERN = "FHIR-PATTERN"
SLICE = "FHIR-SLICE"
BINDING = "FHIR-BINDING"
REF = "FHIR-REF"
PROFILE_UNKNOWN = "FHIR-PROFILE-UNKNOWN"
STRUCTURE = "FHIR-STRUCTURE"
SHAPE = "FHIR-SHAPE"
UNKNOWN_ELEMENT = "FHIR-UNKNOWN-ELEMENT"
VALUE = "FHIR-VALUE"
EXTENSION = "FHIR-EXTENSION"
NOT_RUN = "FHIR-NOT-RUN"
BUNDLE = "FHIR-BUNDLE"
SNAPSHOT = "FHIR-SNAPSHOT"
NARRATIVE = "FHIR-NARRATIVE"
OPERATION = "FHIR-OPERATION"
INVARIANT_PREFIX = "FHIR-INVARIANT-"

# Profile violations block approval like other structural defects kcert finds (F2);
# warnings from the profiles themselves are remarks (F4); OK marks what was not checked.
ERROR = Severity.F2
WARNING = Severity.F4
INFO = Severity.OK


def invariant_rule(key: str) -> str:
    return INVARIANT_PREFIX + key


def finding(
    rule_id: str,
    severity: Severity,
    message: str,
    path: str,
    evidence: str,
    line: int | None = None,
) -> Finding:
    return Finding(rule_id, severity, message, Location(path, "fhirpath", line, evidence))
