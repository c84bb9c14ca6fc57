"""The connectathon's plain data, shared by scenarios, store, proxy, web and export.

Lanes may add fields with defaults; nobody renames or removes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SIMULATED = "kcert"  # a role played by kcert itself: the system id of every simulated role

# Instance states as the executor sets them.
InstanceStatus = Literal["pending", "running", "done", "error"]
# What kcert judged of an instance (the automatic verdict): passed/failed/error/not-run.
Outcome = Literal["", "passed", "failed", "error", "not-run"]
# A monitor's grade (Gazelle's words): what the matrix counts.
GradeValue = Literal["waiting", "verified", "partial", "failed"]
GRADES: tuple[GradeValue, ...] = ("waiting", "verified", "partial", "failed")
GradeKind = Literal["auto", "monitor", "override", "reopen", "claim"]
AccountRole = Literal["admin", "monitor", "vendor"]

# Header kcert's own sends carry so the proxy matches them to an instance step first.
INSTANCE_HEADER = "X-Kcert-Instance"
STEP_HEADER = "X-Kcert-Step"


@dataclass(frozen=True)
class ConnectathonSession:
    session_id: str
    name: str
    starts: str  # ISO date
    ends: str  # ISO date
    scenarios: tuple[str, ...]  # scenario ids in scope
    created: str = ""


@dataclass(frozen=True)
class System:
    """A registered system: who made it, the roles it plays and how to reach it."""

    system_id: str  # unique within the session, e.g. "vendor-a-lps"
    session_id: str
    vendor: str
    product: str
    version: str
    roles: tuple[str, ...]  # e.g. ("lps",)
    # The SUT configuration of today as SutChoice.from_registration takes it
    # (`sut: reference` + `defects`, or `configuration:` inline).
    registration: dict[str, Any] = field(default_factory=dict)
    # The folder the registration's relative file names (certificates, CA bundles) are in:
    # the systems YAML's own folder, absolute; "" for none. Give it to from_registration.
    files: str = ""


@dataclass(frozen=True)
class Binding:
    role: str
    system_id: str  # a registered system's id, or SIMULATED


@dataclass
class InstanceStep:
    instance_id: str
    step_id: str
    seq: int
    sender: str  # role
    receiver: str  # role
    title: str
    outcome: Outcome = ""
    started: str = ""
    finished: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)  # {rule, severity, message}


@dataclass
class TestInstance:
    """One pairing of systems running one scenario."""

    __test__ = False  # not a pytest test class

    instance_id: str
    session_id: str
    scenario_id: str
    bindings: tuple[Binding, ...]
    status: InstanceStatus = "pending"
    outcome: Outcome = ""
    grade: GradeValue = "waiting"
    run_id: str = ""  # the normal kcert run in the run store
    patient: dict[str, str] = field(default_factory=dict)  # this instance's own synthetic person
    claimed_by: str = ""
    started: str = ""
    finished: str = ""
    reason: str = ""  # why it errored or did not run

    def system_for(self, role: str) -> str:
        for binding in self.bindings:
            if binding.role == role:
                return binding.system_id
        raise KeyError(role)


@dataclass(frozen=True)
class Endpoint:
    """A proxied endpoint: a port of the proxy in front of one system's role."""

    endpoint_id: str  # f"{system_id}:{role}" (or f"{SIMULATED}:{role}")
    session_id: str
    system_id: str
    role: str
    listen_url: str  # where others send to (the proxy)
    target_url: str  # where the proxy forwards to


@dataclass
class RecordedExchange:
    exchange_id: str
    session_id: str
    endpoint_id: str
    source: str  # system id, SIMULATED, or "" when not known
    target: str  # system id or SIMULATED
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int | None
    response_headers: dict[str, str]
    response_body: bytes
    started: str  # ISO, milliseconds
    elapsed_ms: float
    error: str = ""  # refused, timed out, too large, ...
    instance_id: str = ""
    step_id: str = ""
    match: Literal["header", "address-time", "unmatched", ""] = ""
    kind: str = ""  # detected payload kind (fhir-message, cda, oioxml, ...)
    # {rule, severity, message, location}
    findings: list[dict[str, Any]] = field(default_factory=list)
    validated: bool = False


@dataclass(frozen=True)
class Grade:
    """A grading act: kept forever (the audit trail); the newest decides the instance's grade."""

    instance_id: str
    grade: GradeValue
    kind: GradeKind
    by: str  # username, or "kcert" for auto
    at: str  # ISO, seconds
    comment: str = ""
    attachments: tuple[str, ...] = ()  # attachment ids


@dataclass(frozen=True)
class Account:
    username: str
    role: AccountRole
    password_hash: str  # argon2 (argon2-cffi)
    vendor: str = ""  # for role vendor: the vendor whose systems it may see


@dataclass(frozen=True)
class MatrixCell:
    """One system × scenario × role cell of the results matrix."""

    system_id: str
    scenario_id: str
    role: str
    verified: int = 0
    waiting: int = 0
    partial: int = 0
    failed: int = 0
    partners_used: tuple[str, ...] = ()  # partner system ids with a verified instance
    partners_needed: int = 1  # partners the scenario asks for
    partners_available: int = 0  # registered systems that could partner


@dataclass(frozen=True)
class ScenarioRole:
    """A role as pairing needs it (the scenario lane's full model carries more)."""

    name: str  # lps, municipality, document-repository, viewer, plsp, ...
    simulated: bool  # kcert may play it when no registered system does
    systems_may_play: bool = True  # a registered system may play it


@dataclass(frozen=True)
class ScenarioInfo:
    """What pairing, the matrix and the export need of a scenario."""

    scenario_id: str
    title_da: str
    title_en: str
    roles: tuple[ScenarioRole, ...]
    catches: tuple[str, ...] = ()  # reference-LPS defects this scenario must fail on
