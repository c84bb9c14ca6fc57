"""Run history: what changed between two runs, and the approved-systems summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.store.runstore import RunRow, RunStore

FAILING = ("fail", "error")


@dataclass(frozen=True)
class CaseChange:
    protocol_id: str
    case_id: str
    before: str  # outcome in run A ("" when the case was not in A)
    after: str
    findings_before: tuple[str, ...] = ()
    findings_after: tuple[str, ...] = ()


@dataclass
class RunDiff:
    a: RunRow
    b: RunRow
    new_failures: list[CaseChange] = field(default_factory=list)
    fixed: list[CaseChange] = field(default_factory=list)
    changed_findings: list[CaseChange] = field(default_factory=list)
    other_changes: list[CaseChange] = field(default_factory=list)  # e.g. pending -> pass
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    suite: tuple[str, str] | None = None
    packs: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    scope: tuple[str, str] | None = None  # the declared scope or selection, A → B

    @property
    def identical(self) -> bool:
        return not (
            self.new_failures
            or self.fixed
            or self.changed_findings
            or self.other_changes
            or self.added
            or self.removed
            or self.suite
            or self.packs
            or self.protocols
            or self.scope
        )


def _finding_keys(case: dict[str, Any]) -> tuple[str, ...]:
    # The message is left out: it may carry run-specific ids; rule, severity, step and place
    # say whether the same fault was found.
    return tuple(
        sorted(
            {
                f"{f['rule_id']} [{f['severity']}] step {f['step']} {f['path']}".rstrip()
                for f in case["findings"]
                if f["severity"] != "OK"
            }
        )
    )


def diff_runs(store: RunStore, run_a: str, run_b: str) -> RunDiff:
    a, b = store.run(run_a), store.run(run_b)
    result = RunDiff(a, b)
    cases_a = {(c["protocol_id"], c["case_id"]): c for c in store.case_summaries(run_a)}
    cases_b = {(c["protocol_id"], c["case_id"]): c for c in store.case_summaries(run_b)}
    for key, cb in cases_b.items():
        ca = cases_a.get(key)
        if ca is None:
            result.added.append(key[1])
            if cb["outcome"] in FAILING:
                result.new_failures.append(
                    CaseChange(*key, "", cb["outcome"], (), _finding_keys(cb))
                )
            continue
        change = CaseChange(
            *key, ca["outcome"], cb["outcome"], _finding_keys(ca), _finding_keys(cb)
        )
        fail_a, fail_b = ca["outcome"] in FAILING, cb["outcome"] in FAILING
        if fail_b and not fail_a:
            result.new_failures.append(change)
        elif fail_a and not fail_b:
            result.fixed.append(change)
        elif change.findings_before != change.findings_after:
            result.changed_findings.append(change)
        elif ca["outcome"] != cb["outcome"]:
            result.other_changes.append(change)
    result.removed = [key[1] for key in cases_a if key not in cases_b]
    if a.suite_version != b.suite_version:
        result.suite = (a.suite_version, b.suite_version)
    scope_a, scope_b = _scope_key(a), _scope_key(b)
    if scope_a != scope_b:
        result.scope = (scope_a, scope_b)
    packs_a = {p["id"]: f"{p['version']} sha256:{p['sha256'][:12]}" for p in a.packs}
    packs_b = {p["id"]: f"{p['version']} sha256:{p['sha256'][:12]}" for p in b.packs}
    for pid in sorted(set(packs_a) | set(packs_b)):
        if packs_a.get(pid) != packs_b.get(pid):
            result.packs.append(f"{pid}: {packs_a.get(pid, '—')} → {packs_b.get(pid, '—')}")
    prot_a = {p["id"]: f"{p['version']} ({p['sha256'][:12]})" for p in a.protocols}
    prot_b = {p["id"]: f"{p['version']} ({p['sha256'][:12]})" for p in b.protocols}
    for pid in sorted(set(prot_a) | set(prot_b)):
        if prot_a.get(pid) != prot_b.get(pid):
            result.protocols.append(f"{pid}: {prot_a.get(pid, '—')} → {prot_b.get(pid, '—')}")
    return result


def _scope_key(row: RunRow) -> str:
    """A run's scope as one comparable line (English): what was declared and selected."""
    scope = row.sut.get("scope") or {}
    caps = scope.get("capabilities")
    if caps is None:
        text = "whole suite"
    else:
        text = "; ".join(
            f"{c['standard']} {c.get('version', '')} ({', '.join(c.get('directions', []))})"
            for c in caps.get("standards", [])
        )
        if caps.get("operations") is not None:
            text += " ops: " + ",".join(caps["operations"])
    selection = scope.get("selection") or []
    return text + (" selected: " + " ".join(selection) if selection else "")


# -- approved systems ------------------------------------------------------------------------

STATUS_TEXT = {
    "godkendt": {"da": "Godkendt", "en": "Approved"},
    "ikke-godkendt": {"da": "Ikke godkendt", "en": "Not approved"},
    "tester": {"da": "Tester", "en": "Testing"},
    "ikke-omfattet": {"da": "Ikke omfattet", "en": "Not in scope"},
}
DIRECTION_TEXT = {
    "receive": {"da": "Modtag", "en": "Receive"},
    "send": {"da": "Send", "en": "Send"},
    "": {"da": "—", "en": "—"},
}


@dataclass(frozen=True)
class SystemStatus:
    system: str  # vendor and name
    version: str
    protocol: str
    protocol_version: str
    standard: str
    direction: str  # receive | send | ""
    status: str  # godkendt | ikke-godkendt | tester | ikke-omfattet
    run_id: str
    date: str
    standard_version: str = ""  # the version the SUT declared for the standard
    not_in_scope: int = 0  # cases of the protocol outside the run's declared scope


def status_text(s: SystemStatus, lang: str) -> str:
    """The status, with how many of the protocol's cases were outside the declared scope."""
    text = STATUS_TEXT[s.status][lang]
    if s.not_in_scope and s.status != "ikke-omfattet":
        text += f" ({s.not_in_scope} {STATUS_TEXT['ikke-omfattet'][lang].lower()})"
    return text


def standard_text(s: SystemStatus) -> str:
    return f"{s.standard} {s.standard_version}".strip()


def direction_of(capability: str) -> str:
    for direction in ("receive", "send"):
        if capability.endswith(direction):
            return direction
    return ""


def protocol_status(test_type: str, run_status: str, cases: list[dict[str, Any]]) -> str:
    """Only a finished final certification approves or rejects; anything else is testing.

    Cases not in scope do not count; a protocol none of whose cases was in scope is
    "ikke-omfattet": the run says nothing about it.
    """
    if cases and all(c["outcome"] == "not-in-scope" for c in cases):
        return "ikke-omfattet"
    cases = [c for c in cases if c["outcome"] != "not-in-scope"]
    if test_type != "endelig" or run_status != "finished" or not cases:
        return "tester"
    if any(c["outcome"] == "error" or c["blocking"] for c in cases):
        return "ikke-godkendt"
    if any(c["outcome"] == "pending" for c in cases):
        return "tester"
    return "godkendt"


def _claimed_version(row: RunRow, standard: str) -> str:
    caps = ((row.sut.get("scope") or {}).get("capabilities")) or {}
    for claim in caps.get("standards") or ():
        if str(claim.get("standard", "")).casefold() == standard.casefold():
            return str(claim.get("version") or "")
    return ""


def approved_systems(store: RunStore) -> list[SystemStatus]:
    """Per system version and protocol version (one standard in one direction): the latest
    final certification decides; without one, the system is listed as testing (its latest
    self-test); a protocol outside every run's declared scope is listed as not in scope."""
    best: dict[tuple[str, str, str, str], tuple[int, str, SystemStatus]] = {}
    for row in store.runs():
        if row.relation == "rejudge":
            continue  # a re-judging is an analysis, not a test of the system
        cases = store.case_summaries(row.run_id)
        vendor = str(row.sut.get("vendor", ""))
        system = f"{row.sut_name} ({vendor})" if vendor else row.sut_name
        for p in row.protocols:
            mine = [c for c in cases if c["protocol_id"] == p["id"]]
            status = protocol_status(row.test_type, row.status, mine)
            standard = str(p.get("standard", ""))
            entry = SystemStatus(
                system,
                row.sut_version,
                p["id"],
                p["version"],
                standard,
                str(p.get("direction") or direction_of(str(p.get("capability", "")))),
                status,
                row.run_id,
                row.started[:10],
                _claimed_version(row, standard),
                sum(c["outcome"] == "not-in-scope" for c in mine),
            )
            key = (system, row.sut_version, p["id"], p["version"])
            # a decision outranks testing, testing outranks "this run did not cover it"
            rank = {"godkendt": 1, "ikke-godkendt": 1, "tester": 0}.get(status, -1)
            current = best.get(key)
            if current is None or (rank, row.started) > (current[0], current[1]):
                best[key] = (rank, row.started, entry)
    return sorted((v[2] for v in best.values()), key=lambda s: (s.system, s.version, s.protocol))
