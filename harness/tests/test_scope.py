"""Scope by capability, piece by piece: declarations, needs, the not-in-scope outcome in every
roll-up and writer, the store, selection by --case/--requirement."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from harness.loader.protocols import load_protocol
from harness.loader.select import SelectionError, select_cases, selection_text
from harness.model.i18n import Text
from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Protocol, Source, TestCase
from harness.model.result import CaseResult, ProtocolResult, RunResult, SutInfo
from harness.model.scope import Capabilities, Needs, Scope, StandardClaim
from harness.report.junit import write_junit
from harness.report.results_json import to_results
from harness.runner.actions import ACTIONS
from harness.runner.engine import _health_capabilities
from harness.runner.operations import ACTION_OPERATIONS, BY_PATH, action_operations
from harness.store.history import approved_systems
from harness.store.runstore import RunStore
from harness.sut.config import load_sut_config
from harness.sut.contract import operation_at, operation_names
from harness.yamlsource import SourceError

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "report" / "results.schema.json").read_text(encoding="utf-8")
)
CC = Capabilities(
    (StandardClaim("CareCommunication", "5.0.2", ("receive",)),),
    frozenset({"reset", "processMessage"}),
    "sut-config",
)


# -- the declaration against the needs --------------------------------------------------------


def test_undeclared_scope_takes_everything() -> None:
    assert Scope().why_not(Needs("Cockpit", "", (), ("listProfiles",))) == ""


@pytest.mark.parametrize(
    ("needs", "reason"),
    [
        (Needs("CareCommunication", "receive", (), ("reset", "processMessage")), ""),
        (Needs("carecommunication", "receive"), ""),  # names compare without case
        (Needs("Cockpit"), "does not declare the standard Cockpit"),
        (Needs("CareCommunication", "send"), "not the direction send"),
        (Needs("CareCommunication", "receive", ("5.0.*",)), ""),
        (Needs("CareCommunication", "receive", ("4.*",)), "the case tests 4.*"),
        (
            Needs("CareCommunication", "receive", (), ("reset", "listReceivedMessages")),
            "does not declare the operation(s) listReceivedMessages",
        ),
        (Needs("CareCommunication", "receive", (), ("health",)), ""),  # always offered
    ],
)
def test_declared_scope_names_what_is_missing(needs: Needs, reason: str) -> None:
    why = Scope(CC).why_not(needs)
    assert (reason in why) if reason else why == ""


def test_the_reason_in_danish() -> None:
    scope = Scope(CC)
    assert scope.why_not(Needs("Cockpit"), "da") == "SUT har ikke erklæret standarden Cockpit"
    assert scope.why_not(Needs("CareCommunication", "send"), "da") == (
        "SUT har erklæret CareCommunication (modtagelse), ikke retningen afsendelse"
    )


def test_operations_a_tester_does_by_hand_are_covered() -> None:
    caps = Capabilities((StandardClaim("Cockpit"),), frozenset({"reset"}))
    needs = Needs("Cockpit", "", (), ("reset", "loadPopulation"))
    assert "loadPopulation" in Scope(caps).why_not(needs)
    assert Scope(caps, frozenset({"loadPopulation"})).why_not(needs) == ""


def test_operations_left_out_claim_every_operation() -> None:
    caps = Capabilities((StandardClaim("Cockpit"),), None)
    assert Scope(caps).why_not(Needs("Cockpit", "", (), ("listProfileMembers",))) == ""


def test_scope_survives_the_store_as_a_dict() -> None:
    scope = Scope(CC, frozenset({"loadPopulation"}), ("--case CC-*",), "a note")
    again = Scope.from_dict(json.loads(json.dumps(scope.to_dict())))
    assert again == scope
    assert Scope.from_dict(None) == Scope()


def test_case_needs_refine_the_protocols() -> None:
    merged = Needs("CareCommunication", "receive", ("5.*",), ("reset",)).plus(
        Needs("", "send", (), ("sendMessage", "reset"))
    )
    assert merged == Needs("CareCommunication", "send", ("5.*",), ("reset", "sendMessage"))


# -- the contract's operations and the actions ------------------------------------------------


def test_every_action_names_its_operations() -> None:
    """A new action must say which contract operations it calls, or scope cannot judge it."""
    unnamed = [
        e.name
        for e in ACTIONS
        if e.name not in ACTION_OPERATIONS and e.name not in BY_PATH and e.name != "contract-fuzz"
    ]
    assert unnamed == []
    known = set(operation_names())
    assert {op for ops in ACTION_OPERATIONS.values() for op in ops} <= known


def test_operation_of_a_path() -> None:
    assert operation_at("GET", "profiles/kol/members?asOf=2027-03-01") == "listProfileMembers"
    assert operation_at("POST", "population") == "loadPopulation"
    assert operation_at("GET", "/kcert-agent/v1/patients/{cpr}/plan") == "readPlan"
    assert operation_at("POST", "/fhir/$process-message") == "processMessage"
    assert operation_at("DELETE", "population") == ""
    assert operation_at("GET", "no/such/thing") == ""


def test_loaded_cases_need_what_their_actions_call(protocols: list[Protocol]) -> None:
    by_id = {c.id: c for p in protocols for c in p.cases}
    assert by_id["CC-R-03"].needs.operations == ("reset", "processMessage", "listReceivedMessages")
    assert by_id["CC-R-03"].needs.direction == "receive"
    assert by_id["CC-S-02"].needs.direction == "send"
    assert "fireResendTimer" in by_id["CC-S-02"].needs.operations
    assert by_id["KC-ERR"].needs.standard == "Cockpit"
    assert "readPlan" in by_id["KC-ERR"].needs.operations  # from an agent-get path


def _protocol_file(tmp_path: Path, needs: str, case_needs: str = "") -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        f"""kcert-protocol: 1
id: scope-probe
version: 1.0.0
standard: CareCommunication
title: Probe
{needs}
cases:
  - id: SC-01
    title: Probe
    requirements: [MVP1-LPS-03]
    severity: F2
{case_needs}
    steps:
      - step: 1
        handling: Read
        expected: Read
        do:
          agent-get: {{path: "profiles"}}
""",
        encoding="utf-8",
    )
    return path


def test_protocol_and_case_needs_load(tmp_path: Path) -> None:
    protocol = load_protocol(
        _protocol_file(
            tmp_path,
            "needs: {direction: receive, versions: ['5.*']}",
            "    needs: {operations: [readPlan]}",
        )
    )
    assert protocol.needs == Needs("CareCommunication", "receive", ("5.*",), ())
    assert protocol.cases[0].needs == Needs(
        "CareCommunication", "receive", ("5.*",), ("readPlan", "reset", "listProfiles")
    )


def test_unknown_operation_in_needs_is_a_collection_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        load_protocol(_protocol_file(tmp_path, "needs: {operations: [sendPigeon]}"))
    assert "p.yaml:6" in str(err.value) and "sendPigeon" in str(err.value)


# -- the SUT's declaration: configuration and health answer -----------------------------------


def _sut(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "sut.yaml"
    path.write_text(
        """name: X
vendor: Y
version: "1"
endpoints: {fhir: "http://127.0.0.1:1/fhir", agent: "http://127.0.0.1:1/kcert-agent/v1"}
identity: {sor: "123456", gln: "5790000999996"}
"""
        + extra,
        encoding="utf-8",
    )
    return path


def test_configuration_declares_capabilities(tmp_path: Path) -> None:
    config = load_sut_config(
        _sut(
            tmp_path,
            "capabilities:\n  standards:\n    - {standard: CareCommunication, version: 5.0.2,"
            " directions: [receive]}\n  operations: [reset, processMessage]\n",
        )
    )
    assert config.capabilities == CC
    assert config.public_dict()["capabilities"]["operations"] == ["processMessage", "reset"]
    assert load_sut_config(_sut(tmp_path, "")).capabilities is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("capabilities:\n  operations: [teleport]\n", "teleport"),
        ("capabilities:\n  standards: [{standard: X, directions: [sideways]}]\n", "sideways"),
        ("capabilities:\n  standards: [{directions: [send]}]\n", "standard"),
        ("capabilities:\n  standard: [X]\n", "unknown field"),
    ],
)
def test_a_broken_declaration_names_file_and_line(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(SourceError) as err:
        load_sut_config(_sut(tmp_path, text))
    assert "sut.yaml:" in str(err.value) and said in str(err.value)


def test_health_answer_declares_or_is_ignored_with_a_note() -> None:
    body = {
        "status": "ok",
        "capabilities": {"standards": [{"standard": "Cockpit"}], "operations": ["listProfiles"]},
    }
    caps, note = _health_capabilities(json.dumps(body).encode())
    assert caps is not None and note == "" and caps.source == "agent-health"
    assert caps.standards[0].directions == ("send", "receive")
    assert _health_capabilities(b'{"status": "ok"}') == (None, "")
    assert _health_capabilities(b"not json") == (None, "")
    caps, note = _health_capabilities(b'{"capabilities": {"operations": ["teleport"]}}')
    assert caps is None and "not used" in note and "teleport" in note


# -- the outcome in roll-ups and writers ------------------------------------------------------


def _case(case_id: str, standard: str = "CareCommunication") -> TestCase:
    return TestCase(
        case_id,
        Text("t", "t"),
        ("MVP1-LPS-03",),
        Severity.F2,
        (),
        Source("p.yaml", 1),
        needs=Needs(standard),
    )


def _run(*results: CaseResult) -> RunResult:
    protocol = Protocol(
        "p", "1.0.0", Text("p", "p"), "CareCommunication", "", (), Source("p", 1), "0" * 64
    )
    run = RunResult("r1", SutInfo("s", "v", "1", "http", {}, {}), "egentest", "Ole", "2027")
    run.protocols.append(ProtocolResult(protocol, list(results)))
    run.scope = Scope(CC)
    return run


def test_not_in_scope_ranks_below_pass() -> None:
    assert Outcome.worst([Outcome.NOT_IN_SCOPE, Outcome.PASS]) is Outcome.PASS
    assert Outcome.worst([Outcome.NOT_IN_SCOPE]) is Outcome.NOT_IN_SCOPE
    assert Outcome.worst([Outcome.NOT_IN_SCOPE, Outcome.SKIP]) is Outcome.SKIP


def test_cases_not_in_scope_do_not_count_against_the_verdict() -> None:
    outside = CaseResult(_case("B", "Cockpit"), "p", not_in_scope="no Cockpit")
    ok = _run(_passing(), outside)
    assert ok.verdict is Verdict.GODKENDT
    assert outside.outcome is Outcome.NOT_IN_SCOPE and ok.protocols[0].outcome is Outcome.PASS
    # nothing in scope approves nothing
    assert _run(outside).verdict is Verdict.IKKE_GODKENDT


def _passing() -> CaseResult:
    from harness.model.protocol import Step
    from harness.model.result import StepResult

    step = Step("1", Text("h", "h"), "", Text("e", "e"), None, (), Source("p", 2))
    return CaseResult(_case("A"), "p", steps=[StepResult(step, Outcome.PASS)])


def test_results_json_and_junit_carry_the_state(tmp_path: Path) -> None:
    run = _run(_passing(), CaseResult(_case("B", "Cockpit"), "p", not_in_scope="no Cockpit"))
    data = to_results(run)
    jsonschema.validate(data, SCHEMA)
    case = data["protocols"][0]["cases"][1]
    assert (case["outcome"], case["not_in_scope"]) == ("not-in-scope", "no Cockpit")
    assert case["needs"]["standard"] == "Cockpit"
    assert data["summary"]["not-in-scope"] == 1 and data["verdict"] == "godkendt"
    assert data["requirements"]["MVP1-LPS-03"]["outcome"] == "pass"
    assert data["scope"]["text"].startswith("CareCommunication 5.0.2 (modtagelse)")
    junit = write_junit(run, tmp_path / "j.xml").read_text(encoding="utf-8")
    assert 'skipped="1"' in junit and "not in scope: no Cockpit" in junit


# -- the store -------------------------------------------------------------------------------


def test_store_keeps_the_state_and_the_systems_view_shows_the_scope(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 's.sqlite'}")
    run = _run(_passing(), CaseResult(_case("B", "Cockpit"), "p", not_in_scope="no Cockpit"))
    run.test_type = "endelig"
    run.finished = "2027-01-02"
    store.begin_run(run, {}, [{"id": "p", "version": "1.0.0", "standard": "CareCommunication"}])
    for seq, case in enumerate(run.cases):
        store.record_case("r1", seq, case, "1.0.0")
    store.finish_run(run, None)
    stored = {c.case_id: c for c in store.cases("r1")}
    assert stored["B"].not_in_scope == "no Cockpit" and stored["A"].not_in_scope == ""
    summaries = {c["case_id"]: c for c in store.case_summaries("r1")}
    assert summaries["B"]["outcome"] == "not-in-scope"
    [row] = approved_systems(store)
    assert (row.status, row.not_in_scope, row.standard_version) == ("godkendt", 1, "5.0.2")
    store.close()


def test_store_of_before_the_scope_column_is_extended(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    RunStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE case_results DROP COLUMN not_in_scope")
    RunStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(case_results)")]
    assert "not_in_scope" in columns


def test_a_protocol_wholly_outside_the_scope_is_not_approved(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 's.sqlite'}")
    run = _run(CaseResult(_case("B", "Cockpit"), "p", not_in_scope="no Cockpit"))
    run.test_type, run.finished = "endelig", "2027-01-02"
    store.begin_run(run, {}, [{"id": "p", "version": "1.0.0", "standard": "Cockpit"}])
    store.record_case("r1", 0, run.cases[0], "1.0.0")
    store.finish_run(run, None)
    [row] = approved_systems(store)
    assert row.status == "ikke-omfattet"
    store.close()


# -- selection --------------------------------------------------------------------------------


def test_select_by_id_pattern_and_requirement(protocols: list[Protocol]) -> None:
    def ids(chosen: list[Protocol]) -> list[str]:
        return [c.id for p in chosen for c in p.cases]

    assert ids(select_cases(protocols, ["CC-R-01"], [])) == ["CC-R-01"]
    assert ids(select_cases(protocols, ["cc-r-0[12]", "CC-S-01"], [])) == [
        "CC-R-01",
        "CC-R-02",
        "CC-S-01",
    ]
    assert ids(select_cases(protocols, ["CC-R-01,CC-R-02"], [])) == ["CC-R-01", "CC-R-02"]
    by_req = ids(select_cases(protocols, [], ["MVP1-LPS-02"]))
    assert by_req and all(i.startswith("REF-S") for i in by_req)
    both = ids(select_cases(protocols, ["CC-*"], ["MVP2-MC-01"]))
    assert "CC-S-01" in both and not any(i.startswith("CP") for i in both)
    assert select_cases(protocols, [], []) is protocols
    assert selection_text(["a,b"], ["r"]) == ("--case a", "--case b", "--requirement r")


@pytest.mark.parametrize(
    ("cases", "reqs", "said"),
    [
        (["CC-R-99"], [], "--case CC-R-99: no such case in the suite; did you mean"),
        (["ZZ-*"], [], "--case ZZ-*: the pattern matches no case"),
        ([], ["MVP9-XX-01"], "--requirement MVP9-XX-01: no such requirement"),
        (["KC-P01"], ["MVP1-LPS-02"], "no test case matches both"),
    ],
)
def test_selection_naming_nothing_is_an_error(
    protocols: list[Protocol], cases: list[str], reqs: list[str], said: str
) -> None:
    with pytest.raises(SelectionError) as err:
        select_cases(protocols, cases, reqs)
    assert said in str(err.value)


def test_action_operations_of_contract_fuzz() -> None:
    from harness.model.protocol import Action

    action = Action(
        "contract-fuzz",
        {"operations": ["GET /kcert-agent/v1/profiles", "GET /kcert-agent/v1/nothing"]},
        Source("p", 1),
    )
    assert action_operations(action) == ("listProfiles",)


def test_protocols_list_names_what_each_case_needs(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.main import main

    assert main(["protocols", "list", "--needs"]) == 0
    out = capsys.readouterr().out
    needs = "CareCommunication send reset,sendMessage,readOutbox,fireResendTimer"
    assert f"CC-S-02    F2 {needs}" in out
    assert "KC-00      F2 Cockpit — reset,listProfiles" in out


@pytest.mark.parametrize("only", ["all", "carecommunication"])
def test_reference_health_declaration_follows_the_contract(only: str) -> None:
    """What the reference LPS declares is valid by the contract and by kcert's reading of it."""
    import warnings

    import yaml
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    from harness.reflps.app import create_app
    from harness.sut.contract import CONTRACT

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    body = TestClient(create_app(only=only, declare=True)).get("/kcert-agent/v1/health").json()
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    registry = Registry().with_resource("urn:contract", DRAFT202012.create_resource(contract))
    schema = {"$ref": "urn:contract#/components/schemas/Health"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(body)
    caps, note = _health_capabilities(json.dumps(body).encode())
    assert note == "" and caps is not None
    if only == "carecommunication":
        assert [c.standard for c in caps.standards] == ["CareCommunication"]
        assert caps.operations is not None and "listProfiles" not in caps.operations
    else:
        assert caps.operations is None  # every operation claimed
    undeclared = TestClient(create_app(only=only)).get("/kcert-agent/v1/health").json()
    assert "capabilities" not in undeclared


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--case", "CC-R-99"], "--case CC-R-99: no such case in the suite; did you mean"),
        (["--requirement", "MVP1-XX-*"], "--requirement MVP1-XX-*: the pattern matches no"),
    ],
)
def test_certify_names_a_selection_that_names_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], said: str
) -> None:
    from harness.cli.main import main

    sut = ["--sut", "reference", "--transport", "inprocess"]
    code = main(["certify", *sut, "--reports", str(tmp_path), *args])
    out = capsys.readouterr()
    assert code == 2 and said in out.out + out.err
    assert "Traceback" not in out.out + out.err
    assert not list(tmp_path.glob("2*"))  # nothing ran


def test_diff_names_a_change_of_scope(tmp_path: Path) -> None:
    from harness.store.history import diff_runs

    store = RunStore(f"sqlite:///{tmp_path / 's.sqlite'}")
    for run_id, scope in (("a", Scope()), ("b", Scope(CC)), ("c", Scope(CC))):
        run = _run(_passing())
        run.run_id, run.scope, run.finished = run_id, scope, "2027-01-02"
        store.begin_run(run, {}, [{"id": "p", "version": "1.0.0", "sha256": "0" * 64}])
        store.record_case(run_id, 0, run.cases[0], "1.0.0")
        store.finish_run(run, None)
    changed = diff_runs(store, "a", "b")
    assert changed.scope is not None and changed.scope[0] == "whole suite"
    assert "CareCommunication 5.0.2 (receive)" in changed.scope[1] and not changed.identical
    assert diff_runs(store, "b", "c").scope is None
    store.close()
