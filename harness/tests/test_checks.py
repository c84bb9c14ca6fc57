"""Every expectation rule: one case that makes it fire, and the clean case that keeps it quiet."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from harness.checks import CHECKS, CheckContext
from harness.checks.registry import Sent, StepRecord
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.model.exchange import Exchange
from harness.model.outcome import Severity
from harness.reflps.app import create_app
from harness.reflps.identity import REFERENCE_CLINIC

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"
STANDARDS_DIR = CHECKS_DIR.parent / "standards"  # each standard's checks, in its folder
PEER = load_peers()["kommune"]
PERSON = load_persons()["kol-karen"]
SUT = {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln}
JSON_CT = {"content-type": "application/fhir+json"}


def _message(include_patient: bool = True) -> Sent:
    rendered = TemplateRenderer().render(
        "messages/carecommunication.json.j2",
        {
            "patient": PERSON,
            "peer": PEER,
            "sut": {**SUT, "name": "x"},
            "vars": {"include_patient": include_patient},
        },
    )
    body = json.dumps(rendered.resource).encode()
    return Sent(rendered.resource, rendered.ids, "json", body, "application/fhir+json")


@pytest.fixture(scope="module")
def acks() -> dict[str, Any]:
    """A real ok and fatal-error acknowledgement from the reference LPS, to mutate."""
    client = TestClient(create_app())
    ok_sent, bad_sent = _message(), _message(include_patient=False)
    ok = client.post("/fhir/$process-message", content=ok_sent.body, headers=JSON_CT).json()
    bad = client.post("/fhir/$process-message", content=bad_sent.body, headers=JSON_CT).json()
    return {"ok": (ok_sent, ok), "fatal": (bad_sent, bad)}


def ctx_for(
    sent: Sent | None,
    body: Any,
    status: int = 200,
    ct: str = "application/fhir+json",
    earlier: dict[str, StepRecord] | None = None,
    truncated: bool = False,
) -> CheckContext:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    exchange = Exchange(
        "POST",
        "http://x/fhir/$process-message",
        {},
        b"",
        status,
        {"Content-Type": ct},
        raw,
        truncated=truncated,
    )
    exchange.evidence["R"] = "CareCommunication_R_T.1_A.json"
    return CheckContext(
        "1",
        exchange,
        Severity.F2,
        sent,
        earlier or {},
        SUT,
        {"sor": PEER["sor"], "gln": PEER["gln"]},
        PERSON,
    )


def run_check(ctx: CheckContext, kind: str, params: dict[str, Any]) -> list[str]:
    """The rule ids of the problems a check finds (its informational notes, such as a named
    not-run, are left out)."""
    return [f.rule_id for f in CHECKS.get(kind).func(ctx, **params) if f.is_problem]


Mutation = Callable[[dict[str, Any]], None]


def header(b: dict[str, Any]) -> dict[str, Any]:
    return b["entry"][0]["resource"]  # type: ignore[no-any-return]


def org_ref(b: dict[str, Any], sor: str) -> str:
    for e in b["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Organization" and any(i["value"] == sor for i in r["identifier"]):
            return f"Organization/{r['id']}"
    raise AssertionError(sor)


def drop_outcome(b: dict[str, Any]) -> None:
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "OperationOutcome"]


def set_outcome_severity(b: dict[str, Any]) -> None:
    for e in b["entry"]:
        if e["resource"]["resourceType"] == "OperationOutcome":
            for issue in e["resource"]["issue"]:
                issue["severity"] = "warning"


ACK_CASES: list[tuple[str, str, dict[str, Any], Mutation, str]] = [
    ("ok", "ack", {"code": "ok"}, lambda b: b.update(type="collection"), "ACK-TYPE"),
    ("ok", "ack", {"code": "ok"}, lambda b: b["entry"].reverse(), "ACK-HEADER"),
    (
        "ok",
        "ack",
        {"code": "ok"},
        lambda b: header(b)["eventCoding"].update(code="care-communication-message"),
        "ACK-EVENT",
    ),
    (
        "ok",
        "ack",
        {"code": "ok"},
        lambda b: header(b)["response"].update(identifier="wrong"),
        "ACK-REF",
    ),
    ("ok", "ack", {"code": "fatal-error"}, lambda b: None, "ACK-CODE"),
    (
        "ok",
        "ack",
        {"code": "ok"},
        lambda b: header(b)["sender"].update(reference=org_ref(b, PEER["sor"])),
        "ACK-SENDER",
    ),
    (
        "ok",
        "ack",
        {"code": "ok"},
        lambda b: header(b)["destination"][0]["receiver"].update(reference=org_ref(b, SUT["sor"])),
        "ACK-RECEIVER",
    ),
    ("ok", "ack", {"code": "ok"}, lambda b: b["meta"].update(profile=[]), "ACK-PROFILE"),
    ("ok", "ack", {"code": "ok"}, lambda b: b.update(timestamp="yesterday"), "FHIR-STRUCTURE"),
    ("fatal", "ack", {"code": "fatal-error"}, drop_outcome, "ACK-OO"),
    (
        "fatal",
        "ack",
        {"code": "fatal-error"},
        lambda b: header(b)["response"].pop("details"),
        "ACK-OO-REF",
    ),
    ("fatal", "ack", {"code": "fatal-error"}, set_outcome_severity, "OO-SEVERITY"),
    (
        "fatal",
        "ack",
        {"code": "fatal-error", "mentions": ["Encounter"]},
        lambda b: None,
        "OO-MENTIONS",
    ),
    ("ok", "fhir-resource", {"type": "OperationOutcome"}, lambda b: None, "FHIR-TYPE"),
    ("ok", "operation-outcome", {}, lambda b: None, "OO-MISSING"),
    ("ok", "fhirpath", {"expr": "type = 'collection'"}, lambda b: None, "FHIRPATH"),
    (
        "ok",
        "fhirpath",
        {"expr": "entry[0].resource.response.identifier", "equals": "nope", "rule": "MY-RULE"},
        lambda b: None,
        "MY-RULE",
    ),
]


@pytest.mark.parametrize(
    ("which", "kind", "params", "mutate", "rule"),
    ACK_CASES,
    ids=[c[4] + "-" + c[1] for c in ACK_CASES],
)
def test_rule_fires(
    acks: dict[str, Any], which: str, kind: str, params: dict[str, Any], mutate: Mutation, rule: str
) -> None:
    sent, good = acks[which]
    body = copy.deepcopy(good)
    mutate(body)
    assert rule in run_check(ctx_for(sent, body), kind, params)


@pytest.mark.parametrize(
    ("which", "kind", "params"),
    [
        ("ok", "ack", {"code": "ok"}),
        ("fatal", "ack", {"code": "fatal-error", "mentions": ["Patient"]}),
        ("ok", "fhir-resource", {"type": "Bundle"}),
        ("ok", "fhirpath", {"expr": "entry[0].resource.response.identifier = %sentHeaderId"}),
        ("ok", "fhirpath", {"expr": "entry[0].resource.response.code", "equals": "ok"}),
        ("ok", "fhir-content-type", {"format": "json"}),
        ("ok", "status", {"equals": 200}),
        ("ok", "no-server-error", {}),
    ],
)
def test_clean_answer_keeps_rules_quiet(
    acks: dict[str, Any], which: str, kind: str, params: dict[str, Any]
) -> None:
    sent, good = acks[which]
    found = list(CHECKS.get(kind).func(ctx_for(sent, good), **params))
    assert [f.rule_id for f in found if f.is_problem] == []
    # without the packs the profile validation is a named not-run, never a silent pass
    notes = {f.rule_id for f in found if not f.is_problem}
    assert notes <= {"PACK-MISSING"}
    if kind in ("ack", "fhir-resource"):
        assert notes == {"PACK-MISSING"}


def test_ref_hint_names_the_bundle_id(acks: dict[str, Any]) -> None:
    sent, good = acks["ok"]
    body = copy.deepcopy(good)
    header(body)["response"]["identifier"] = sent.bundle_id
    found = list(CHECKS.get("ack").func(ctx_for(sent, body), code="ok"))
    assert any("that is the Bundle.id" in f.message for f in found)


def test_profile_slip_weighs_only_f4(acks: dict[str, Any]) -> None:
    sent, good = acks["ok"]
    body = copy.deepcopy(good)
    body["meta"]["profile"] = []
    found = list(CHECKS.get("ack").func(ctx_for(sent, body), code="ok"))
    assert [f.severity for f in found if f.is_problem] == [Severity.F4]


@pytest.mark.parametrize(
    ("body", "status", "ct", "kind", "params", "rule"),
    [
        (b"{}", 409, "application/json", "status", {"equals": 200}, "HTTP-STATUS"),
        (b"{}", 404, "application/json", "status", {"equals": 200}, "SUT-OPERATION-MISSING"),
        (b"{}", 404, "application/json", "status", {"equals": 400}, "HTTP-STATUS"),
        (b"{}", 200, "application/json", "status", {"class": "4xx"}, "HTTP-STATUS"),
        (b"{}", 503, "application/json", "status", {"in": [400, 422]}, "HTTP-STATUS"),
        (b"oops", 500, "text/html", "no-server-error", {}, "HTTP-5XX"),
        (b"{}", 200, "text/html", "fhir-content-type", {"format": "json"}, "HTTP-CONTENT-TYPE"),
        (b"garbage", 200, "text/plain", "ack", {"code": "ok"}, "FHIR-PARSE"),
        (b"", 204, "", "ack", {"code": "ok"}, "ACK-HTTP"),
        (
            b"<?xml version='1.0'?>\n<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
            200,
            "application/fhir+xml",
            "ack",
            {"code": "ok"},
            "FHIR-PARSE",
        ),
        (
            b'{"resourceType": "OperationOutcome", "issue": []}',
            400,
            "application/fhir+json",
            "operation-outcome",
            {},
            "OO-SEVERITY",
        ),
    ],
)
def test_http_level_rules_fire(
    body: bytes, status: int, ct: str, kind: str, params: dict[str, Any], rule: str
) -> None:
    assert rule in run_check(ctx_for(None, body, status, ct), kind, params)


def test_truncated_answer_is_a_finding() -> None:
    ctx = ctx_for(None, b"{}", 200, "application/fhir+json", truncated=True)
    assert "HTTP-TOO-LARGE" in run_check(ctx, "fhir-content-type", {"format": "json"})


def test_operation_outcome_quiet_and_mentions() -> None:
    oo = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "expected a Bundle"}],
    }
    ctx = ctx_for(None, oo, 400)
    assert run_check(ctx, "operation-outcome", {"mentions": ["Bundle"]}) == []
    assert run_check(ctx_for(None, oo, 400), "operation-outcome", {"mentions": ["Patient"]}) == [
        "OO-MENTIONS"
    ]


def test_same_ack(acks: dict[str, Any]) -> None:
    sent, good = acks["ok"]
    earlier = {"1": StepRecord(None, sent, copy.deepcopy(good))}
    assert run_check(ctx_for(sent, good, earlier=earlier), "same-ack", {"as": 1}) == []
    changed = copy.deepcopy(good)
    header(changed)["response"]["code"] = "transient-error"
    assert run_check(ctx_for(sent, changed, earlier=earlier), "same-ack", {"as": 1}) == ["ACK-DUP"]
    assert run_check(ctx_for(sent, good), "same-ack", {"as": 1}) == ["ACK-DUP"]


def _agent(messages: Any, status: int = 200) -> CheckContext:
    return ctx_for(None, {"total": 0, "messages": messages}, status, "application/json")


def test_received_rules() -> None:
    stored = {
        "messageHeaderId": "h",
        "event": "care-communication-message",
        "activity": "new-message",
        "patientCpr": PERSON["cpr"],
    }
    params = {"count": 1, "event": "care-communication-message", "patient": True}
    assert run_check(_agent([stored]), "received", params) == []
    assert run_check(_agent([stored, stored]), "received", params) == ["AGENT-COUNT"]
    wrong = {**stored, "patientCpr": "0101019999"}
    assert run_check(_agent([wrong]), "received", params) == ["AGENT-FIELD"]
    assert run_check(_agent([stored], 404), "received", params) == ["SUT-OPERATION-MISSING"]
    assert run_check(_agent([stored], 500), "received", params) == ["AGENT-HTTP"]
    bad = ctx_for(None, {"items": []}, 200, "application/json")
    assert run_check(bad, "received", params) == ["AGENT-FORMAT"]


def test_agent_field_never_prints_a_cpr() -> None:
    wrong = {"messageHeaderId": "h", "patientCpr": "0101019999"}
    found = list(CHECKS.get("received").func(_agent([wrong]), count=1, patient=True))
    assert all("0101019999" not in f.message for f in found)


def test_every_rule_in_the_checks_has_a_firing_case() -> None:
    """Guard: a new rule id in harness/checks or a standard's folder must have a firing test."""
    modules = [*CHECKS_DIR.glob("*.py"), *STANDARDS_DIR.glob("*/*.py")]
    source = "\n".join(p.read_text() for p in modules if p.name not in ("rules.py", "__init__.py"))
    rules = set(re.findall(r'finding\(\s*"([A-Z][A-Z0-9-]+)"', source))
    rules |= set(re.findall(r'\n\s+"([A-Z]+-[A-Z0-9-]+)",\n\s+f?"', source))
    rules |= set(re.findall(r'\b_?at\(\s*ctx,\s*(?:[^,()"]+,\s*)?"([A-Z][A-Z0-9-]+)"', source))
    # a rule counts as tested when some test module names it in an assertion or a case table
    tests = (
        "\n".join(
            p.read_text()
            for p in Path(__file__).parent.glob("test_*.py")
            if p.name != Path(__file__).name
        )
        + "\n".join(str(c) for c in ACK_CASES)
        + Path(__file__).read_text().split("def test_every_rule")[0]
    )
    tested = {r for r in rules if f'"{r}"' in tests or f"'{r}'" in tests}
    missing = rules - tested
    assert not missing, f"rules without a firing test: {sorted(missing)}"
    assert len(rules) >= 20
    from harness.checks.rules import RULES

    undocumented = {r for r in rules | {"FHIRPATH", "KCERT-ERROR"} if r not in RULES}
    assert not undocumented, f"rules missing from the catalogue: {sorted(undocumented)}"
    assert all(t.da and t.en for t in RULES.values())


def test_broken_fhirpath_is_kcerts_error_not_a_finding() -> None:
    from harness.fhir.fhirpath import FhirPathError

    ctx = ctx_for(None, {"resourceType": "Bundle", "type": "message"})
    with pytest.raises(FhirPathError, match="arity"):
        run_check(ctx, "fhirpath", {"expr": "entry.where("})


def _set(path: str, value: Any) -> Mutation:
    """Put a hostile value at a dotted path ('0.eventCoding' = entry 0's resource)."""

    def mutate(b: dict[str, Any]) -> None:
        index, *rest = path.split(".")
        target = b["entry"][int(index)]["resource"]
        for key in rest[:-1]:
            target = target[key]
        target[rest[-1]] = value

    return mutate


def _org_identifier(b: dict[str, Any]) -> None:
    for e in b["entry"]:
        if e["resource"]["resourceType"] == "Organization":
            e["resource"]["identifier"] = 5


def _oo(field: str, value: Any) -> Mutation:
    def mutate(b: dict[str, Any]) -> None:
        for e in b["entry"]:
            if e["resource"]["resourceType"] == "OperationOutcome":
                if field == "issue":
                    e["resource"]["issue"] = value
                else:
                    e["resource"]["issue"][0][field] = value

    return mutate


HOSTILE: list[tuple[str, Mutation]] = [
    ("ok", _set("0.eventCoding", "x")),
    ("ok", _set("0.response", ["x"])),
    ("ok", _set("0.destination", "x")),
    ("ok", lambda b: b.update(meta="x")),
    ("ok", _org_identifier),
    ("fatal", _oo("details", "x")),
    ("fatal", _oo("issue", 5)),
    ("ok", lambda b: b.update(entry="x")),
]


@pytest.mark.parametrize(("which", "mutate"), HOSTILE)
@pytest.mark.parametrize("kind", ["ack", "same-ack", "fhirpath", "operation-outcome"])
def test_hostile_shapes_are_findings_not_crashes(
    acks: dict[str, Any], which: str, mutate: Mutation, kind: str
) -> None:
    sent, good = acks[which]
    body = copy.deepcopy(good)
    mutate(body)
    earlier = {"1": StepRecord(None, sent, copy.deepcopy(good))}
    params: dict[str, Any] = {
        "ack": {"code": "ok"},
        "same-ack": {"as": 1},
        "fhirpath": {"expr": "entry[0].resource.response.code = 'ok'"},
        "operation-outcome": {},
    }[kind]
    rules = run_check(ctx_for(sent, body, earlier=earlier), kind, params)
    assert rules and set(rules) <= {"FHIR-STRUCTURE", "FHIR-PARSE", "OO-MISSING"}, rules


def _protocol_expectations(case_id: str) -> list[Any]:
    from harness.fixtures import REPO_ROOT
    from harness.loader.protocols import load_protocol

    protocol = load_protocol(REPO_ROOT / "testcases" / "carecommunication-receive.yaml")
    case = next(c for c in protocol.cases if c.id == case_id)
    return [e for s in case.steps for e in s.expectations]


def _drop_provenance(b: dict[str, Any]) -> None:
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "Provenance"]


@pytest.mark.parametrize(
    ("rule", "mutate"),
    [
        ("ACK-PROVENANCE", _drop_provenance),
        ("ACK-SENDER-SOR", lambda b: header(b)["sender"].update(reference=org_ref(b, PEER["sor"]))),
        ("ACK-RESPONSE-REF", lambda b: header(b)["response"].update(identifier="other")),
    ],
)
def test_cc_r_12_rules_fire_and_stay_quiet(
    acks: dict[str, Any], rule: str, mutate: Mutation
) -> None:
    """The protocol's own FHIRPath rules can fail: each fires on its fault, none on a clean ack."""
    sent, good = acks["ok"]
    expectations = [e for e in _protocol_expectations("CC-R-12") if e.kind == "fhirpath"]
    assert {e.params["rule"] for e in expectations} >= {rule}
    quiet = [r for e in expectations for r in run_check(ctx_for(sent, good), "fhirpath", e.params)]
    assert quiet == []
    body = copy.deepcopy(good)
    mutate(body)
    fired = [r for e in expectations for r in run_check(ctx_for(sent, body), "fhirpath", e.params)]
    assert rule in fired
