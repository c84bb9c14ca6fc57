"""Fail vs error, exactly: a reachable SUT's faulty answer FAILS with its own words quoted,
one root cause gives one finding (what builds on it is "not evaluated"), and only kcert's own
faults and an unreachable SUT are errors (Fejl).

Every registered action and every registered check runs against a loopback stub SUT that
answers 404, 400 with a problem document, 500 with an OperationOutcome, or a malformed body.
The scenario tables are checked against the registries: a new action or check without a
scenario here fails `test_every_action_and_check_has_a_scenario`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from harness.checks import CHECKS
from harness.checks.diagnostics import quote_answer, sut_says
from harness.loader.protocols import load_protocol
from harness.model.exchange import Exchange
from harness.model.outcome import Outcome, Verdict
from harness.model.result import CaseResult, RunResult
from harness.runner import careplan_actions
from harness.runner.engine import ACTIONS, Runner, RunOptions
from harness.standards import STANDARDS
from harness.sut.config import SutConfig
from harness.tests.stubsut import StubHandler, serve
from harness.transport.http import HttpTransport

pytest_plugins = ["pytester"]

AGENT = "/kcert-agent/v1"
OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "exception",
            "diagnostics": "stub-outcome-marker: the database is down",
            "details": {"text": "try again later"},
        }
    ],
}
PROBLEM = {
    "type": "about:blank",
    "title": "Bad request",
    "status": 400,
    "detail": "stub-problem-marker: receiver not allowed",
}
# mode -> (status, content type, body, the text the finding must quote)
MODES: dict[str, tuple[int, str, bytes, str]] = {
    "404": (404, "text/plain", b"no such route here: stub-404-marker", "stub-404-marker"),
    "400-problem": (
        400,
        "application/problem+json",
        json.dumps(PROBLEM).encode(),
        "stub-problem-marker",
    ),
    "500-outcome": (
        500,
        "application/fhir+json",
        json.dumps(OUTCOME).encode(),
        "stub-outcome-marker",
    ),
    "malformed": (
        200,
        "application/json",
        b'{"members": [{"cpr": "stub-malformed-marker", "profiles": [{"id": ',
        "stub-malformed-marker",
    ),
    # valid JSON, every field of the contracts in the wrong shape (a missing or mistyped field)
    "wrong-shape": (
        200,
        "application/json",
        json.dumps(
            {
                "id": "stub-shape-marker",
                "resourceType": "Bundle",
                "type": "message",
                "entry": "not-a-list",
                "members": {"cpr": 1},
                "profiles": [1, "x", None],
                "messages": [1, None],
                "status": ["x"],
                "patientCpr": {"a": 1},
                "stratification": [],
                "measurements": 5,
                "cpr": ["x"],
            }
        ).encode(),
        "stub-shape-marker",
    ),
}
AS_OF = "2027-03-01"
POPULATION = {"generate": {"seed": 2027, "size": 400}, "as_of": AS_OF}
ROWS = {
    "members": [
        {"cpr": "0101019901", "planLink": "patients/0101019901/plan?asOf=2027-03-01"},
        {"cpr": "0202029902", "planLink": "patients/0202029902/plan?asOf=2027-03-01"},
    ]
}


class Stub(StubHandler):
    """A SUT that is reachable (its health check answers) and answers everything else
    with the fault of `mode`, except paths given a good answer for the scenario's set-up."""

    mode = "404"
    good: ClassVar[dict[tuple[str, str], tuple[int, str, bytes]]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length:
            self.rfile.read(min(length, 5_000_000))
        path = self.path.split("?", 1)[0]
        if path == f"{AGENT}/health":
            status, ct, body = 200, "application/json", b'{"status": "ok"}'
        elif (self.command, path.rsplit("/", 1)[-1]) in type(self).good:
            status, ct, body = type(self).good[(self.command, path.rsplit("/", 1)[-1])]
        else:
            status, ct, body, _ = MODES[type(self).mode]
        self.send(status, ct, body)

    do_GET = _answer
    do_POST = _answer


def ok(body: Any) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(body).encode()


LOADED = {("POST", "population"): ok({"status": "loaded"})}


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, type[Stub]]]:
    # A share request the stub "accepts" waits for a delivery that never comes: keep it short.
    monkeypatch.setattr(careplan_actions, "WAIT_FOR_SUBMISSION_S", 0.2)
    handler = type("S", (Stub,), {"good": {}})
    with serve(handler) as base:
        yield base, handler


def config(base: str) -> SutConfig:
    return SutConfig(
        name="stub",
        vendor="x",
        version="1",
        endpoints={"fhir": f"{base}/fhir", "agent": f"{base}{AGENT}"},
        sor="999991000016008",
        gln="5790000999996",
        read_timeout=5.0,
        connect_timeout=1.0,
        total_timeout=20.0,
    )


@dataclass
class Scenario:
    """Steps of one test case; `under_test` is the step meeting the fault first, the steps
    after it build on it. `good`: set-up paths the stub answers well; `passes`: modes in
    which the answer is a right one for what is judged (asserted to pass instead)."""

    steps: list[tuple[str, dict[str, Any], list[dict[str, Any]]]]
    under_test: str
    good: dict[tuple[str, str], tuple[int, str, bytes]] = field(default_factory=dict)
    passes: dict[str, str] = field(default_factory=dict)  # mode -> why it is right


CC = {"template": "messages/carecommunication.json.j2"}
SEND = ("send-message", CC)
SEND_CC = ("trigger-send", {"kind": "carecommunication", "answer": "ok", "wait_s": 0.2})
LOAD = ("load-population", POPULATION)
SHARE = ("share-plan", {"patient_in": "kol-inkluderet", "pick": "richest", "as_of": AS_OF})
QRD = (
    "send-qrd",
    {
        "questionnaire": "startback",
        "patient_in": "lrs-stratificering-groen",
        "as_of": AS_OF,
        "date": "2027-02-27",
        "answers": {f"SB{n}": "1" for n in range(1, 9)} | {"SB9": "5"},
    },
)
NO_BODY_CONTRACT = "a 2xx answer's body is not part of the contract for this operation"

# Realistic steps for each action: the action under test meets the fault with the checks the
# protocols give it, and a later step builds on it (that one must be "not evaluated").
ACTION_SCENARIOS: dict[str, Scenario] = {
    "reset": Scenario(
        [("reset", {}, []), (*SEND, [{"ack": {"code": "ok"}}])],
        "0",
        passes={"malformed": NO_BODY_CONTRACT, "wrong-shape": NO_BODY_CONTRACT},
    ),
    "send-message": Scenario(
        [
            (
                *SEND,
                [
                    {"ack": {"code": "ok"}},
                    {"fhir-content-type": {}},
                    {"fhirpath": {"expr": "type = 'message'"}},
                    {"fhirpath": {"expr": "entry.count() >= 1"}},
                ],
            ),
            ("resend", {"step": 1}, [{"ack": {"code": "ok"}}, {"same-ack": {"as": 1}}]),
            ("read-received", {"of": 1}, [{"received": {"count": 1}}]),
        ],
        "1",
    ),
    "resend": Scenario(
        [(*SEND, []), ("resend", {"step": 1}, [{"ack": {"code": "ok"}}, {"same-ack": {"as": 1}}])],
        "2",
    ),
    "send-raw": Scenario(
        [
            (
                "send-raw",
                {"body": "not FHIR <<<", "content_type": "text/plain"},
                [{"status": {"class": "4xx"}}, {"operation-outcome": {}}, {"no-server-error": {}}],
            )
        ],
        "1",
    ),
    "read-received": Scenario(
        [
            (*SEND, []),
            ("read-received", {"of": 1}, [{"status": {"equals": 200}}, {"received": {"count": 1}}]),
        ],
        "2",
    ),
    "load-population": Scenario(
        [
            (*LOAD, [{"status": {"equals": 200}}]),
            ("read-members", {"profile": "kol-inkluderet", "as_of": AS_OF}, []),
        ],
        "1",
        passes={"malformed": NO_BODY_CONTRACT, "wrong-shape": NO_BODY_CONTRACT},
    ),
    "read-profiles": Scenario([("read-profiles", {}, [{"profiles-offered": {}}])], "1"),
    "read-members": Scenario(
        [
            (*LOAD, []),
            (
                "read-members",
                {"profile": "kol-inkluderet", "as_of": AS_OF},
                [{"members-match-oracle": {}}],
            ),
            ("follow-links", {"of": 2}, [{"links-resolve": {}}]),
        ],
        "2",
        good=LOADED,
    ),
    "follow-links": Scenario(
        [
            (*LOAD, []),
            ("read-members", {"profile": "kol-inkluderet", "as_of": AS_OF}, []),
            ("follow-links", {"of": 2}, [{"links-resolve": {}}]),
        ],
        "3",
        good=LOADED | {("GET", "members"): ok(ROWS)},
    ),
    "read-plans": Scenario(
        [
            (*LOAD, []),
            (
                "read-plans",
                {"patients_in": "kol-inkluderet", "as_of": AS_OF, "max": 3},
                [{"plans-match-oracle": {}}],
            ),
        ],
        "2",
        good=LOADED,
    ),
    "agent-get": Scenario(
        [
            (
                "agent-get",
                {"path": "patients/0000000000/plan?asOf=2027-03-01"},
                [{"problem-document": {"status": 404}}, {"no-server-error": {}}],
            )
        ],
        "1",
    ),
    "agent-post": Scenario(
        [
            (
                "agent-post",
                {"path": "outbox/send", "body": "{}", "content_type": "application/json"},
                [{"problem-document": {"status": 400}}, {"no-server-error": {}}],
            )
        ],
        "1",
        passes={"400-problem": "a 400 problem document is the refusal asked for"},
    ),
    "share-plan": Scenario(
        [
            (*LOAD, []),
            (
                *SHARE,
                [
                    {"plan-shared": {}},
                    {"cpd-rules": {}},
                    {"cpd-schema": {}},
                    {"cpd-schematron": {}},
                    {"cpd-metadata": {}},
                    {"cpd-matches-oracle": {}},
                ],
            ),
            (
                "share-plan",
                {"same_patient_as": 2, "as_of": "2027-06-01"},
                [{"plan-shared": {}}, {"cpd-replaces": {"of": 2}}],
            ),
        ],
        "2",
        good=LOADED,
    ),
    "send-qrd": Scenario([(*LOAD, []), (*QRD, [{"document-attached": {}}])], "2", good=LOADED),
    "read-plan": Scenario(
        [
            (*LOAD, []),
            (*SHARE, []),
            ("read-plan", {"of": 2, "as_of": AS_OF}, [{"plans-match-oracle": {}}]),
        ],
        "3",
        good=LOADED,
    ),
    "trigger-send": Scenario(
        [
            (*SEND_CC, [{"message-sent": {"count": 1}}, {"sent-carecommunication": {}}]),
            ("read-outbox", {"of": 1}, [{"outbox-status": {"status": "acknowledged"}}]),
            (
                "trigger-retry",
                {"of": 1, "answer": "ok", "wait_s": 0.2},
                [{"resent": {"expected": True}}],
            ),
        ],
        "1",
    ),
    "trigger-retry": Scenario(
        [
            (*SEND_CC, []),
            (
                "trigger-retry",
                {"of": 1, "answer": "ok", "wait_s": 0.2},
                [{"resent": {"expected": True}}],
            ),
        ],
        "2",
    ),
    "read-outbox": Scenario(
        [
            (*SEND_CC, []),
            ("read-outbox", {"of": 1}, [{"outbox-status": {"status": "acknowledged"}}]),
        ],
        "2",
    ),
    "contract-fuzz": Scenario(
        [
            (
                "contract-fuzz",
                {"operations": ["GET /kcert-agent/v1/profiles"], "max_examples": 3},
                [{"contract-conforms": {}}],
            )
        ],
        "1",
    ),
}


def _alone(
    check: str,
    params: dict[str, Any],
    action: tuple[str, dict[str, Any]],
    before: list[tuple[str, dict[str, Any]]] | None = None,
    good: dict[tuple[str, str], tuple[int, str, bytes]] | None = None,
    passes: dict[str, str] | None = None,
) -> Scenario:
    """`check` as the only expectation of the step that meets the fault."""
    steps = [(kind, p, []) for kind, p in before or []]
    steps.append((*action, [{check: params}]))
    return Scenario(steps, str(len(steps)), good or {}, passes or {})


RIGHT_OUTCOME = "an OperationOutcome with an error issue is what this check asks for"
FHIR_JSON_LABEL = "the answer is labelled JSON, as this check asks"
# Each check as the first to meet each fault: its finding quotes the SUT, and it is one.
CHECK_SCENARIOS: dict[str, Scenario] = {
    "status": _alone(
        "status",
        {"equals": 200},
        ("agent-get", {"path": "profiles"}),
        passes={m: "the status is the one asked for" for m in ("malformed", "wrong-shape")},
    ),
    "no-server-error": _alone(
        "no-server-error",
        {},
        ("agent-get", {"path": "profiles"}),
        passes={
            m: "not a server error" for m in ("404", "400-problem", "malformed", "wrong-shape")
        },
    ),
    "fhir-content-type": _alone(
        "fhir-content-type",
        {"format": "json"},
        SEND,
        passes={m: FHIR_JSON_LABEL for m in ("500-outcome", "malformed", "wrong-shape")},
    ),
    "fhir-resource": _alone(
        "fhir-resource", {}, SEND, passes={"500-outcome": "an OperationOutcome is FHIR"}
    ),
    "fhirpath": _alone("fhirpath", {"expr": "type = 'message'"}, SEND),
    "operation-outcome": _alone(
        "operation-outcome",
        {},
        ("send-raw", {"body": "x", "content_type": "text/plain"}),
        passes={"500-outcome": RIGHT_OUTCOME},
    ),
    "received": _alone("received", {"count": 1}, ("read-received", {"of": 1}), [SEND]),
    "problem-document": _alone(
        "problem-document",
        {"status": 400},
        ("agent-get", {"path": "patients/x/plan"}),
        passes={"400-problem": "a 400 problem document is the refusal asked for"},
    ),
    "profiles-offered": _alone("profiles-offered", {}, ("read-profiles", {})),
    "members-match-oracle": _alone(
        "members-match-oracle",
        {},
        ("read-members", {"profile": "kol-inkluderet", "as_of": AS_OF}),
        [LOAD],
        LOADED,
    ),
    "links-resolve": _alone(
        "links-resolve",
        {},
        ("follow-links", {"of": 2}),
        [LOAD, ("read-members", {"profile": "kol-inkluderet", "as_of": AS_OF})],
        LOADED | {("GET", "members"): ok(ROWS)},
    ),
    "plans-match-oracle": _alone(
        "plans-match-oracle",
        {},
        ("read-plans", {"patients_in": "kol-inkluderet", "as_of": AS_OF, "max": 2}),
        [LOAD],
        LOADED,
    ),
    "contract-conforms": _alone(
        "contract-conforms",
        {},
        ("contract-fuzz", {"operations": ["GET /kcert-agent/v1/profiles"], "max_examples": 2}),
    ),
    "plan-shared": _alone("plan-shared", {}, SHARE, [LOAD], LOADED),
    "cpd-rules": _alone("cpd-rules", {}, SHARE, [LOAD], LOADED),
    "cpd-schema": _alone("cpd-schema", {}, SHARE, [LOAD], LOADED),
    "cpd-schematron": _alone("cpd-schematron", {}, SHARE, [LOAD], LOADED),
    "cpd-metadata": _alone("cpd-metadata", {}, SHARE, [LOAD], LOADED),
    "cpd-matches-oracle": _alone("cpd-matches-oracle", {}, SHARE, [LOAD], LOADED),
    "cpd-replaces": _alone(
        "cpd-replaces",
        {"of": 2},
        ("share-plan", {"same_patient_as": 2, "as_of": "2027-06-01"}),
        [LOAD, SHARE],
        LOADED,
    ),
    "document-attached": _alone("document-attached", {}, QRD, [LOAD], LOADED),
    "message-sent": _alone("message-sent", {"count": 1}, SEND_CC),
    "outbox-status": _alone(
        "outbox-status", {"status": "acknowledged"}, ("read-outbox", {"of": 1}), [SEND_CC]
    ),
    "resent": _alone(
        "resent",
        {"expected": True},
        ("trigger-retry", {"of": 1, "answer": "ok", "wait_s": 0.2}),
        [SEND_CC],
    ),
}


def _standards_faults() -> list[Any]:
    """The standards' own scenario modules (`<standard's package>.faults`, optional)."""
    found = []
    for standard in STANDARDS:
        if importlib.util.find_spec(standard.package + ".faults") is not None:
            found.append(importlib.import_module(standard.package + ".faults"))
    return found


for _faults in _standards_faults():
    for _name, _raw in _faults.CHECKS.items():
        assert _name not in CHECK_SCENARIOS, f"{_name}: a scenario in two places"
        CHECK_SCENARIOS[_name] = _alone(
            _name,
            _raw["params"],
            _raw["action"],
            _raw.get("before"),
            _raw.get("good"),
            _raw.get("passes"),
        )


def step_ids(scenario: Scenario) -> list[str]:
    """1, 2, … (an explicit reset first is step 0, as the loader numbers its own reset)."""
    first = 0 if scenario.steps[0][0] == "reset" else 1
    return [str(first + index) for index in range(len(scenario.steps))]


def protocol_file(tmp_path: Path, scenario: Scenario) -> Path:
    steps = [
        {
            "step": int(step_id),
            "handling": {"da": "x", "en": "x"},
            "expected": {"da": "x", "en": "x"},
            "do": {kind: params},
            "expect": expect,
        }
        for step_id, (kind, params, expect) in zip(step_ids(scenario), scenario.steps, strict=True)
    ]
    document = {
        "kcert-protocol": 1,
        "id": "faults",
        "version": "1.0.0",
        "standard": "test",
        "title": {"da": "fejl", "en": "faults"},
        "cases": [
            {
                "id": "F-1",
                "title": {"da": "fejl", "en": "faults"},
                "requirements": ["MVP1-KC-01"],
                "severity": "F2",
                "reset": False,
                "steps": steps,
            }
        ],
    }
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def run_scenario(
    tmp_path: Path, stub: tuple[str, type[Stub]], scenario: Scenario, mode: str
) -> tuple[RunResult, CaseResult]:
    base, handler = stub
    handler.mode = mode
    handler.good = dict(scenario.good)
    protocol = load_protocol(protocol_file(tmp_path, scenario))
    sut = config(base)
    transport = HttpTransport(sut)
    try:
        run = Runner(transport, sut).run([protocol], RunOptions())
    finally:
        transport.close()
    return run, run.cases[0]


def describe(case: CaseResult) -> str:
    return "\n".join(
        f"step {s.step.id} {s.outcome.value}: "
        + "; ".join(f"{f.rule_id} {f.severity.value} {f.message[:300]}" for f in s.findings)
        + (f" [{s.message[:200]}]" if s.message else "")
        for s in case.steps
    ) + (f"\nerror: {case.error}" if case.error else "")


def assert_one_quoted_root(case: CaseResult, scenario: Scenario, mode: str) -> None:
    """FAIL (never ERROR); one problem finding, in the step under test, quoting the SUT;
    every later step not evaluated, naming that root."""
    text = describe(case)
    assert case.outcome is Outcome.FAIL, text
    problems = [f for f in case.findings if f.is_problem]
    assert len(problems) == 1, f"one root cause must give one finding:\n{text}"
    root = problems[0]
    assert root.step_id == scenario.under_test, text
    assert MODES[mode][3] in root.message, f"the finding must quote the SUT:\n{text}"
    later = [s for s in case.steps if _after(s.step.id, scenario.under_test)]
    for step in later:
        assert step.outcome is Outcome.SKIP, text
        assert step.findings and step.findings[0].rule_id == "NOT-EVALUATED", text
        assert root.rule_id in step.message, text


def assert_failed_at_its_root(case: CaseResult, scenario: Scenario) -> None:
    """A wrong-shaped answer: FAIL (never ERROR), every finding in the step under test (a
    resource in the wrong shape may break several of its own elements), dependents not
    evaluated."""
    text = describe(case)
    assert case.outcome is Outcome.FAIL, text
    problems = [f for f in case.findings if f.is_problem]
    assert problems and {f.step_id for f in problems} == {scenario.under_test}, text
    for step in case.steps:
        if _after(step.step.id, scenario.under_test):
            assert step.outcome is Outcome.SKIP, text


def _after(step_id: str, under_test: str) -> bool:
    return int(step_id) > int(under_test)


# A TestScript's actions and checks run only inside a TestScript (they read its state): the
# same ladder holds them in test_testscript.py (a refused or silent SUT fails once, quoted:
# test_a_sut_that_does_not_send_fails_with_its_own_words; kcert's and the script's own
# faults are errors naming the action).
TESTSCRIPT_KINDS = {"testscript-operation", "testscript-assert"}
# Actions between kcert's own parties never meet the SUT (a connectathon viewer fetching from
# kcert's repository); what they build on met it first. Held in test_connectathon_execute.py.
KCERT_ONLY_ACTIONS = {"fetch-shared"}


def test_every_action_and_check_has_a_scenario() -> None:
    actions = [n for n in ACTIONS.names() if n not in TESTSCRIPT_KINDS | KCERT_ONLY_ACTIONS]
    checks = [n for n in CHECKS.names() if n not in TESTSCRIPT_KINDS]
    assert sorted(ACTION_SCENARIOS) == actions, "an action without a fault scenario"
    assert sorted(CHECK_SCENARIOS) == checks, "a check without a fault scenario"
    assert set(ACTIONS.names()) & set(CHECKS.names()) >= TESTSCRIPT_KINDS
    for name, scenario in CHECK_SCENARIOS.items():
        assert scenario.steps[-1][2] == [{name: scenario.steps[-1][2][0][name]}]
    for name, scenario in ACTION_SCENARIOS.items():
        kinds = dict(zip(step_ids(scenario), (kind for kind, _, _ in scenario.steps), strict=True))
        assert kinds[scenario.under_test] == name


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("action", sorted(ACTION_SCENARIOS))
def test_each_action_meeting_a_sut_fault_fails_once_with_the_sut_quoted(
    tmp_path: Path, stub: tuple[str, type[Stub]], action: str, mode: str
) -> None:
    scenario = ACTION_SCENARIOS[action]
    run, case = run_scenario(tmp_path, stub, scenario, mode)
    if mode in scenario.passes:  # the answer is right for what is judged here
        step = next(s for s in case.steps if s.step.id == scenario.under_test)
        assert step.outcome is Outcome.PASS and case.outcome is not Outcome.ERROR, describe(case)
        return
    if mode == "wrong-shape":
        assert_failed_at_its_root(case, scenario)
    else:
        assert_one_quoted_root(case, scenario, mode)
    assert run.verdict is Verdict.IKKE_GODKENDT


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("check", sorted(CHECK_SCENARIOS))
def test_each_check_meeting_a_sut_fault_fails_once_with_the_sut_quoted(
    tmp_path: Path, stub: tuple[str, type[Stub]], check: str, mode: str
) -> None:
    scenario = CHECK_SCENARIOS[check]
    run, case = run_scenario(tmp_path, stub, scenario, mode)
    if mode in scenario.passes:  # the answer is right for what is judged here
        step = next(s for s in case.steps if s.step.id == scenario.under_test)
        assert step.outcome is Outcome.PASS and case.outcome is not Outcome.ERROR, describe(case)
        return
    if mode == "wrong-shape":
        assert_failed_at_its_root(case, scenario)
    else:
        assert_one_quoted_root(case, scenario, mode)
    assert run.verdict is Verdict.IKKE_GODKENDT


def test_an_unreachable_sut_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sut = config(f"http://127.0.0.1:{port}")
    protocol = load_protocol(protocol_file(tmp_path, ACTION_SCENARIOS["send-message"]))
    transport = HttpTransport(sut)
    try:
        run = Runner(transport, sut).run([protocol], RunOptions())
    finally:
        transport.close()
    assert run.cases[0].outcome is Outcome.ERROR
    assert "SUT unreachable" in run.cases[0].error
    assert run.verdict is Verdict.FEJL


def test_a_sut_that_stops_answering_mid_case_is_an_error(
    tmp_path: Path, stub: tuple[str, type[Stub]]
) -> None:
    """Reachable at the start, gone at step 1: a TransportError is an error, not a fail."""
    base, handler = stub

    def hang_up(self: Stub) -> None:
        if self.path.endswith("/health"):
            Stub._answer(self)
            return
        self.connection.shutdown(socket.SHUT_RDWR)  # no answer at all

    handler.do_POST = hang_up  # type: ignore[assignment]
    protocol = load_protocol(protocol_file(tmp_path, ACTION_SCENARIOS["send-message"]))
    sut = config(base)
    transport = HttpTransport(sut)
    try:
        run = Runner(transport, sut).run([protocol], RunOptions())
    finally:
        transport.close()
    assert run.cases[0].outcome is Outcome.ERROR, describe(run.cases[0])
    assert run.verdict is Verdict.FEJL


def test_a_fault_inside_kcert_is_still_an_error(
    tmp_path: Path, stub: tuple[str, type[Stub]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.registry import Entry

    def broken(ctx: Any, **params: Any) -> Iterator[Any]:
        raise RuntimeError("a bug in kcert")
        yield  # pragma: no cover

    entry = CHECKS.get("ack")
    monkeypatch.setitem(CHECKS._entries, "ack", Entry("ack", broken, entry.params_schema, ""))
    scenario = _alone("ack", {"code": "ok"}, SEND)
    run, case = run_scenario(tmp_path, stub, scenario, "500-outcome")
    assert case.outcome is Outcome.ERROR
    assert "failed inside kcert: RuntimeError: a bug in kcert" in case.error
    assert run.verdict is Verdict.FEJL


def test_members_without_links_are_the_suts_fault_when_no_check_saw_it(
    tmp_path: Path, stub: tuple[str, type[Stub]]
) -> None:
    """The vendor trial's "gave no member rows with links: 'members'": a FAIL now."""
    scenario = ACTION_SCENARIOS["follow-links"]
    broken = Scenario(
        scenario.steps,
        "2",
        LOADED | {("GET", "members"): (200, "application/json", b'{"rows": "stub-rows"}')},
    )
    _, case = run_scenario(tmp_path, stub, broken, "404")
    problems = [f for f in case.findings if f.is_problem]
    assert case.outcome is Outcome.FAIL, describe(case)
    assert [(f.rule_id, f.step_id) for f in problems] == [("COCKPIT-FORMAT", "3")]
    assert "stub-rows" in problems[0].message


# -- the one way of quoting -----------------------------------------------------------------------


def _exchange(status: int, ct: str, body: bytes) -> Exchange:
    return Exchange(
        "GET",
        "http://127.0.0.1/x",
        {},
        b"",
        status=status,
        response_headers={"Content-Type": ct},
        response_body=body,
    )


def test_quote_names_outcome_issues_problem_details_or_the_start_of_the_body() -> None:
    said = sut_says(_exchange(500, "application/fhir+json", MODES["500-outcome"][2]))
    assert said == (
        'OperationOutcome error/exception "stub-outcome-marker: the database is down" — '
        '"try again later"'
    )
    said = sut_says(_exchange(400, "application/problem+json", MODES["400-problem"][2]))
    assert said == 'problem title "Bad request"; detail "stub-problem-marker: receiver not allowed"'
    assert sut_says(_exchange(404, "text/plain", b"Not\nFound\x00")) == '"Not Found"'
    assert sut_says(_exchange(204, "", b"")) == ""


def test_quote_finds_the_outcome_inside_an_acknowledgement() -> None:
    ack = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [{"resource": {"resourceType": "MessageHeader"}}, {"resource": OUTCOME}],
    }
    said = quote_answer("application/fhir+json", json.dumps(ack).encode())
    assert said.startswith('OperationOutcome error/exception "stub-outcome-marker')


def test_quote_is_bounded_and_redacted() -> None:
    body = b"Authorization: Bearer abcdefghijklmnop password=hunter2 " + b"x" * 5000
    said = quote_answer("text/plain", body)
    assert "abcdefghijklmnop" not in said and "hunter2" not in said
    assert said.endswith('…"') and len(said) <= 310
    many = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "x", "diagnostics": "d" * 1000}] * 10,
    }
    said = quote_answer("application/fhir+json", json.dumps(many).encode())
    assert said.startswith('OperationOutcome error/x "ddd') and len(said) <= 600


# -- the pytest front door follows the outcome --------------------------------------------------


def _sut_file(path: Path, base: str) -> Path:
    target = path / "sut.yaml"
    target.write_text(
        "name: stub\nvendor: x\nversion: '1'\ntransport: http\n"
        f"endpoints: {{fhir: '{base}/fhir', agent: '{base}{AGENT}'}}\n"
        "identity: {name: stub, sor: '999991000016008', gln: '5790000999996'}\n"
        "timeouts: {connect: 1, read: 5}\n",
        encoding="utf-8",
    )
    return target


def test_pytest_reports_a_sut_fault_as_a_failure_not_an_error(
    pytester: pytest.Pytester, stub: tuple[str, type[Stub]]
) -> None:
    base, handler = stub
    handler.mode = "404"
    handler.good = {}
    protocol_file(pytester.path, ACTION_SCENARIOS["read-profiles"])
    result = pytester.runpytest(
        "--sut-config", str(_sut_file(pytester.path, base)), "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SUT-OPERATION-MISSING*stub-404-marker*"])
    assert "not a fault of the SUT" not in result.stdout.str()
    assert "ERROR (" not in result.stdout.str()


def test_pytest_reports_an_unreachable_sut_as_an_error(pytester: pytest.Pytester) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    protocol_file(pytester.path, ACTION_SCENARIOS["read-profiles"])
    sut = _sut_file(pytester.path, f"http://127.0.0.1:{port}")
    result = pytester.runpytest("--sut-config", str(sut), "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ERROR (kcert could not judge the SUT; not a finding)*unreachable*"]
    )


# -- the vendor trial's cases -----------------------------------------------------------------


def test_a_negative_acknowledgement_quotes_its_operation_outcome(
    tmp_path: Path, stub: tuple[str, type[Stub]]
) -> None:
    """ "response.code is 'fatal-error'" now says why, in the SUT's own words."""
    ack = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "fullUrl": "MessageHeader/h",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": "h",
                    "eventCoding": {"code": "acknowledgement-message"},
                    "source": {"endpoint": "http://x"},
                    "response": {
                        "identifier": "x",
                        "code": "fatal-error",
                        "details": {"reference": "OperationOutcome/o"},
                    },
                },
            },
            {"fullUrl": "OperationOutcome/o", "resource": {**OUTCOME, "id": "o"}},
        ],
    }
    scenario = _alone("ack", {"code": "ok"}, SEND)
    scenario.good = {
        ("POST", "$process-message"): (200, "application/fhir+json", json.dumps(ack).encode())
    }
    _, case = run_scenario(tmp_path, stub, scenario, "404")
    code = next(f for f in case.findings if f.rule_id == "ACK-CODE")
    assert "'fatal-error'" in code.message and "stub-outcome-marker" in code.message


def test_the_whole_suite_against_a_sut_that_answers_404_fails_and_never_errors(
    tmp_path: Path, stub: tuple[str, type[Stub]], protocols: list[Any]
) -> None:
    """A reachable SUT without the operations the protocols need: Ikke godkendt with the
    missing operations as findings, one per root cause; never Fejl."""
    base, handler = stub
    handler.mode = "404"
    handler.good = {("POST", "reset"): ok({"status": "reset"})}
    sut = config(base)
    transport = HttpTransport(sut)
    try:
        run = Runner(transport, sut).run(protocols, RunOptions())
    finally:
        transport.close()
    errors = [(c.case.id, c.error) for c in run.cases if c.outcome is Outcome.ERROR]
    assert not errors
    assert run.verdict is Verdict.IKKE_GODKENDT
    for case in run.cases:
        problems = [f for f in case.findings if f.is_problem]
        assert problems or case.outcome is Outcome.PENDING, describe(case)
        # each finding is the root of its own step; whatever built on it was not evaluated
        assert len({f.step_id for f in problems}) == len(problems), describe(case)
        assert all("stub-404-marker" in f.message for f in problems), describe(case)


# -- what the SUT delivers to kcert's peers, in hostile shapes ----------------------------------

HOSTILE_DELIVERIES = [
    b"",
    b"garbage \x00\xff",
    b"[]",
    b'{"resourceType": "Bundle", "type": "message", "entry": [1, "x", {"resource": 5}], '
    b'"meta": "x"}',
    b'{"resourceType": "Bundle", "type": "message", "meta": {"profile": "p"}, "entry": ['
    b'{"resource": {"resourceType": "MessageHeader", "id": 5, "sender": "x", '
    b'"destination": "y", "meta": {"profile": 7}}}, '
    b'{"resource": {"resourceType": "Patient", "identifier": "x"}}]}',
    b"<x/>",
    b"<Emessage xmlns='http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/'>"
    b"<HospitalReferral><Sender><EANIdentifier>\xc2\xb2</EANIdentifier></Sender>"
    b"</HospitalReferral></Emessage>",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
    json.dumps({"metadata": {"uniqueId": 5}, "document": "PHg+"}).encode(),
    json.dumps({"metadata": [], "document": 7}).encode(),
]
DELIVERY_CHECKS = {
    "resent": {"expected": True},
    "plan-shared": {},
    "cpd-rules": {},
    "cpd-schema": {},
    "cpd-schematron": {},
    "cpd-metadata": {},
    "cpd-matches-oracle": {},
    "cpd-replaces": {"of": "1"},
}
for _faults in _standards_faults():
    DELIVERY_CHECKS.update(getattr(_faults, "DELIVERY", {}))


def test_every_check_of_a_delivery_is_listed_here() -> None:
    from harness.checks.registry import DELIVERY, reads

    # plan-shared reads the share answer first, then the delivery
    assert {c for c in CHECKS.names() if DELIVERY in reads(c)} | {"plan-shared"} == set(
        DELIVERY_CHECKS
    )


@pytest.mark.parametrize("body", HOSTILE_DELIVERIES, ids=range(len(HOSTILE_DELIVERIES)))
@pytest.mark.parametrize("check", sorted(DELIVERY_CHECKS))
def test_a_hostile_delivery_is_a_finding_never_a_crash(check: str, body: bytes) -> None:
    from harness.checks.cpd_facts import SUBMISSION_NOTE
    from harness.checks.registry import CheckContext, NotEvaluated, StepRecord
    from harness.model.outcome import Severity

    answer = Exchange("POST", "http://127.0.0.1:1/a", {}, b"", status=200)
    arrived = Exchange(
        "POST",
        "http://127.0.0.1:2/in",
        {"Content-Type": "application/fhir+json"},
        body,
        status=200,
        inbound=True,
    )
    notes = {SUBMISSION_NOTE: body, "cpr": "0101019901", "as_of": AS_OF, "message_id": "m"}
    ctx = CheckContext(
        step_id="2",
        exchange=answer,
        severity=Severity.F2,
        sent=None,
        earlier={"1": StepRecord(answer, None, notes=dict(notes))},
        sut_identity={"sor": "1", "gln": "5790000999996"},
        peer_identity={"sor": "2", "gln": "5790000000005"},
        person={"cpr": "0101019901"},
        exchanges=[answer, arrived],
        notes={**notes, "kind": "carecommunication"},
    )
    try:
        found = list(CHECKS.get(check).func(ctx, **DELIVERY_CHECKS[check]))
    except NotEvaluated:
        return  # it says why it did not judge; no crash
    assert any(f.is_problem for f in found), found
