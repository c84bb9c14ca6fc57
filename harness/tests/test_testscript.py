"""The TestScript runner on self-written scripts: operations, asserts, operators, variables,
fixtures, stopTestOnFail, unsupported actions, the TestReport and the CLI."""

from __future__ import annotations

import argparse
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.cli.errors import UsageProblem
from harness.cli.parsers import testscript as testscript_parser
from harness.fhir.resource import structure_issues, to_xml
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.model.outcome import Outcome, Severity, Verdict
from harness.reflps.app import create_app
from harness.runner.actions import sut_party
from harness.runner.engine import Runner, RunOptions
from harness.sut.reference import reference_config
from harness.testscript import sending
from harness.testscript.fixtures import FixtureMap
from harness.testscript.profiles import ProfileSource
from harness.testscript.run import TestScriptRun, run_on
from harness.testscript.script import load_script
from harness.transport.inprocess import InProcessTransport
from harness.transport.peer import PeerServer, PeerServers

CONFIG = reference_config("http://reference.invalid", (), "inprocess")
FHIR = "application/fhir+json"
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "Testesen"}],
    "gender": "female",
}

# -- a small FHIR server with planted behaviour, for the operations the reference LPS lacks --------


def fake_server() -> Starlette:
    store: dict[tuple[str, str], dict[str, Any]] = {
        ("Patient", "p1"): dict(PATIENT, meta={"versionId": "1"})
    }
    seq = iter(range(100, 10_000))

    def answer(resource: dict[str, Any], status: int = 200, **headers: str) -> Response:
        return JSONResponse(resource, status, headers=headers, media_type=FHIR)

    async def type_level(request: Request) -> Response:
        rtype = request.path_params["rtype"]
        if request.method == "POST":
            resource = json.loads(await request.body())
            rid = str(next(seq))
            resource.update(id=rid, meta={"versionId": "1"})
            store[(rtype, rid)] = resource
            return answer(resource, 201, Location=f"/fhir/{rtype}/{rid}/_history/1")
        family = request.query_params.get("family", "")
        hits = [
            r
            for (t, _), r in store.items()
            if t == rtype and (not family or r.get("name", [{}])[0].get("family") == family)
        ]
        links = [{"relation": r, "url": f"/fhir/{rtype}"} for r in ("self", "first", "last")]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(hits),
            "link": links,
            "entry": [{"resource": h} for h in hits],
        }
        return answer(bundle)

    async def instance(request: Request) -> Response:
        key = (request.path_params["rtype"], request.path_params["rid"])
        if request.method == "PUT":
            resource = json.loads(await request.body())
            version = int(store.get(key, {}).get("meta", {}).get("versionId", "0")) + 1
            resource["meta"] = {"versionId": str(version)}
            created = key not in store
            store[key] = resource
            return answer(resource, 201 if created else 200)
        if request.method == "DELETE":
            store.pop(key, None)
            return Response(status_code=204)
        if key not in store:
            return answer({"resourceType": "OperationOutcome", "issue": []}, 404)
        return answer(store[key], ETag=f'W/"{store[key]["meta"]["versionId"]}"')

    async def version(request: Request) -> Response:
        key = (request.path_params["rtype"], request.path_params["rid"])
        found = store.get(key)
        if found is None or found["meta"]["versionId"] != request.path_params["vid"]:
            return answer({"resourceType": "OperationOutcome", "issue": []}, 404)
        return answer(found)

    async def transaction(request: Request) -> Response:
        bundle = json.loads(await request.body())
        entries = [{"response": {"status": "201 Created"}} for _ in bundle.get("entry", [])]
        return answer({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/kcert-agent/v1/health", health),
            Route("/fhir", transaction, methods=["POST"]),
            Route("/fhir/{rtype}", type_level, methods=["GET", "POST"]),
            Route("/fhir/{rtype}/{rid}", instance, methods=["GET", "PUT", "DELETE"]),
            Route("/fhir/{rtype}/{rid}/_history/{vid}", version, methods=["GET"]),
        ]
    )


# -- helpers ----------------------------------------------------------------------------------


def op(code: str, **more: Any) -> dict[str, Any]:
    return {"operation": {"type": {"code": code}, **more}}


def check(**spec: Any) -> dict[str, Any]:
    return {
        "assert": {"description": spec.pop("description", "check"), "warningOnly": False, **spec}
    }


def script(sid: str, *tests: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "TestScript",
        "id": sid,
        "url": f"http://kcert.example/TestScript/{sid}",
        "name": sid,
        "status": "active",
        "test": [
            {"id": f"t{i + 1}", "name": f"test {i + 1}", "action": a} for i, a in enumerate(tests)
        ],
        **more,
    }


PATIENT_FIXTURE = {
    "contained": [PATIENT],
    "fixture": [
        {"id": "pat", "autocreate": False, "autodelete": False, "resource": {"reference": "#p1"}}
    ],
}


def run(
    tmp_path: Path,
    *scripts: dict[str, Any],
    app: Any = None,
    fixture_map: FixtureMap | None = None,
    profiles: ProfileSource | None = None,
    peer_servers: PeerServers | None = None,
) -> TestScriptRun:
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    loaded = []
    for data in scripts:
        path = folder / f"{data['id']}.json"
        path.write_text(json.dumps(data))
        loaded.append(load_script(path, tmp_path))
    transport = InProcessTransport(CONFIG, app if app is not None else fake_server())
    try:
        result = Runner(transport, CONFIG).new_run(RunOptions(run_id="ts-test"))
        return run_on(
            transport,
            CONFIG,
            result,
            loaded,
            fixture_map or FixtureMap(),
            profiles or ProfileSource.none(),
            peer_servers,
        )
    finally:
        transport.close()


def outcomes(done: TestScriptRun) -> dict[str, Outcome]:
    return {f"{c.protocol_id}/{c.case.id}": c.outcome for c in done.run.cases}


def only_case(done: TestScriptRun, case: str = "t1") -> Any:
    return next(c for c in done.run.cases if c.case.id == case)


def carecommunication(receiver: dict[str, str] | None = None) -> dict[str, Any]:
    """kcert's own CareCommunication message, addressed to the reference LPS."""
    renderer = TemplateRenderer()
    return renderer.render(
        "messages/carecommunication.json.j2",
        {
            "patient": load_persons()["kol-karen"],
            "peer": load_peers()["kommune"],
            "sut": receiver or sut_party(CONFIG),
            "vars": {},
        },
    ).resource


# -- operations (kcert as client, the SUT as FHIR server) ----------------------------------------


def test_every_client_operation_against_a_fhir_server(tmp_path: Path) -> None:
    created = [
        op("create", resource="Patient", sourceId="pat", responseId="made"),
        check(response="created"),
        check(responseCode="201"),
        check(contentType="json"),
        check(headerField="Location", operator="contains", value="/Patient/"),
        check(resource="Patient"),
        check(minimumId="pat"),
        check(expression="Patient.name.family", value="Testesen"),
        check(path="$.name[0].family", value="Testesen"),
        check(requestMethod="post"),
        op("read", resource="Patient", targetId="made"),
        check(response="okay"),
        check(expression="Patient.id", value="${new-id}"),
        op("vread", resource="Patient", params="/${new-id}/_history/1"),
        check(responseCode="200"),
        op("update", resource="Patient", sourceId="pat", params="/${new-id}"),
        check(expression="Patient.meta.versionId", value="2"),
        op("search", resource="Patient", params="?family=Testesen"),
        check(navigationLinks=True),
        check(expression="Bundle.total", operator="greaterThan", value="1"),
        check(requestURL="family=Testesen"),
        op("delete", resource="Patient", targetId="made"),
        check(response="noContent"),
        op("read", resource="Patient", params="/${new-id}"),
        check(response="notFound"),
        op("transaction", sourceId="tx"),
        check(expression="Bundle.type", value="transaction-response"),
        op("history", resource="Patient", params="/p1/_history/1"),
        check(responseCode="200"),
    ]
    tx = {
        "resourceType": "Bundle",
        "id": "tx",
        "type": "transaction",
        "entry": [{"resource": PATIENT, "request": {"method": "POST", "url": "Patient"}}],
    }
    data = script(
        "ops",
        created,
        contained=[PATIENT, tx],
        fixture=[
            {"id": "pat", "resource": {"reference": "#p1"}},
            {"id": "tx", "resource": {"reference": "#tx"}},
        ],
        variable=[
            {"name": "new-id", "headerField": "Location", "sourceId": "made"},
            {"name": "unused", "expression": "Patient.id", "sourceId": "nowhere"},
        ],
    )
    # The Location variable is the whole header: take the id with a path variable instead.
    data["variable"][0] = {"name": "new-id", "expression": "Patient.id", "sourceId": "made"}
    done = run(tmp_path, data)
    case = only_case(done)
    assert case.outcome is Outcome.PASS, [
        s.message for s in case.steps if s.outcome is not Outcome.PASS
    ]
    assert len([s for s in case.steps if s.exchanges]) == 9
    assert done.run.verdict is Verdict.GODKENDT


def test_header_field_variable_and_default(tmp_path: Path) -> None:
    data = script(
        "vars",
        [
            op("create", resource="Patient", sourceId="pat", responseId="made"),
            check(expression="'${where}'.contains('/Patient/')"),
            check(expression="'${fallback}' = 'x'"),
            check(path="$.name[0].family", value="${family}"),
        ],
        **PATIENT_FIXTURE,
        variable=[
            {"name": "where", "headerField": "Location", "sourceId": "made"},
            {
                "name": "fallback",
                "expression": "Patient.nothing",
                "defaultValue": "x",
                "sourceId": "pat",
            },
            {"name": "family", "path": "$.name[0].family", "sourceId": "pat"},
        ],
    )
    assert only_case(run(tmp_path, data)).outcome is Outcome.PASS


def test_undefined_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    data = script("undef", [op("read", resource="Patient", params="/${nope}")])
    case = only_case(run(tmp_path, data))
    assert case.outcome is Outcome.ERROR
    assert "${nope} is not defined" in case.error and "undef.json:test[0].action[0]" in case.error


# -- asserts and operators: each fires and stays quiet -------------------------------------------

READ_P1 = op("read", resource="Patient", params="/p1")
ASSERTS = {
    # kind: (quiet assert, firing assert)
    "response": ({"response": "okay"}, {"response": "notFound"}),
    "responseCode": ({"responseCode": "200"}, {"responseCode": "201"}),
    "contentType": ({"contentType": "json"}, {"contentType": "xml"}),
    "resource": ({"resource": "Patient"}, {"resource": "Bundle"}),
    "headerField": (
        {"headerField": "ETag", "value": 'W/"1"'},
        {"headerField": "ETag", "value": "x"},
    ),
    "expression": (
        {"expression": "Patient.gender = 'female'"},
        {"expression": "Patient.gender = 'male'"},
    ),
    "path-json": (
        {"path": "$.name[0].family", "value": "Testesen"},
        {"path": "$.name[0].family", "value": "X"},
    ),
    "path-xpath": (
        {"path": "/fhir:Patient/fhir:name/fhir:family/@value", "value": "Testesen"},
        {"path": "/fhir:Patient/fhir:gender/@value", "value": "male"},
    ),
    "minimumId": ({"minimumId": "pat"}, {"minimumId": "other"}),
    "navigationLinks": ({"navigationLinks": False}, {"navigationLinks": True}),
    "compareToSourceExpression": (
        {
            "compareToSourceId": "pat",
            "compareToSourceExpression": "Patient.gender",
            "expression": "Patient.gender",
        },
        {
            "compareToSourceId": "other",
            "compareToSourceExpression": "Patient.gender",
            "expression": "Patient.gender",
        },
    ),
    "compareToSourcePath": (
        {"compareToSourceId": "pat", "compareToSourcePath": "$.gender", "path": "$.gender"},
        {"compareToSourceId": "other", "compareToSourcePath": "$.gender", "path": "$.gender"},
    ),
    "requestMethod": ({"requestMethod": "get"}, {"requestMethod": "delete"}),
    "requestURL": ({"requestURL": "Patient/p1"}, {"requestURL": "Observation"}),
}
OTHER = {"resourceType": "Patient", "id": "p2", "gender": "male", "name": [{"family": "Andersen"}]}


@pytest.mark.parametrize("kind", sorted(ASSERTS))
def test_each_assert_kind_fires_and_stays_quiet(tmp_path: Path, kind: str) -> None:
    quiet, firing = ASSERTS[kind]
    data = script(
        f"assert-{kind}",
        [READ_P1, check(**quiet)],
        [READ_P1, check(**firing)],
        contained=[PATIENT, OTHER],
        fixture=[
            {"id": "pat", "resource": {"reference": "#p1"}},
            {"id": "other", "resource": {"reference": "#p2"}},
        ],
    )
    done = run(tmp_path, data)
    assert only_case(done, "t1").outcome is Outcome.PASS, only_case(done, "t1").steps[-1].message
    failed = only_case(done, "t2")
    assert failed.outcome is Outcome.FAIL, failed.steps[-1].message
    assert [f.severity for f in failed.findings] == [Severity.F2]


OPERATORS = {
    # operator: (value, expression) quiet, then firing; evaluated on the Patient fixture
    "equals": (("female", "Patient.gender"), ("male", "Patient.gender")),
    "notEquals": (("male", "Patient.gender"), ("female", "Patient.gender")),
    "in": (("male,female", "Patient.gender"), ("male,other", "Patient.gender")),
    "notIn": (("male,other", "Patient.gender"), ("male,female", "Patient.gender")),
    "greaterThan": (("0", "Patient.name.count()"), ("1", "Patient.name.count() - 1")),
    "lessThan": (("2", "Patient.name.count()"), ("1", "Patient.name.count()")),
    "empty": (("", "Patient.birthDate"), ("", "Patient.gender")),
    "notEmpty": (("", "Patient.gender"), ("", "Patient.birthDate")),
    "contains": (("sen", "Patient.name.family"), ("xyz", "Patient.name.family")),
    "notContains": (("xyz", "Patient.name.family"), ("sen", "Patient.name.family")),
    "eval": (("", "Patient.gender = 'female'"), ("", "Patient.gender = 'male'")),
}


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_each_operator_fires_and_stays_quiet(tmp_path: Path, operator: str) -> None:
    tests = []
    for value, expression in OPERATORS[operator]:
        spec: dict[str, Any] = {"sourceId": "pat", "expression": expression, "operator": operator}
        if value:
            spec["value"] = value
        tests.append([check(**spec)])
    done = run(tmp_path, script(f"op-{operator}", *tests, **PATIENT_FIXTURE))
    assert only_case(done, "t1").outcome is Outcome.PASS, only_case(done, "t1").steps[0].message
    assert only_case(done, "t2").outcome is Outcome.FAIL, only_case(done, "t2").steps[0].message


def test_stop_test_on_fail_skips_the_rest_and_warning_only_is_f4(tmp_path: Path) -> None:
    fail = {"sourceId": "pat", "expression": "Patient.gender = 'male'"}
    data = script(
        "stop",
        [check(**fail, stopTestOnFail=True), check(**fail)],
        [check(**fail), check(**fail)],
        [check(**fail, warningOnly=True)],
        **PATIENT_FIXTURE,
    )
    done = run(tmp_path, data)
    stopped, going, warned = (only_case(done, t) for t in ("t1", "t2", "t3"))
    assert [s.outcome for s in stopped.steps] == [Outcome.FAIL, Outcome.SKIP]
    assert [s.outcome for s in going.steps] == [Outcome.FAIL, Outcome.FAIL]
    assert [f.severity for f in warned.findings] == [Severity.F4]
    report = done.reports["stop.json"]
    assert report["test"][2]["action"][0]["assert"]["result"] == "warning"
    assert report["test"][0]["action"][1]["assert"]["result"] == "skip"


def test_warning_only_failures_still_approve(tmp_path: Path) -> None:
    data = script(
        "warn",
        [check(sourceId="pat", expression="Patient.active", warningOnly=True)],
        **PATIENT_FIXTURE,
    )
    assert run(tmp_path, data).run.verdict is Verdict.GODKENDT


# -- unsupported and broken actions ----------------------------------------------------------------


def test_unsupported_operation_is_an_error_verdict_and_the_run_goes_on(tmp_path: Path) -> None:
    data = script(
        "unsup",
        [op("patch", resource="Patient", params="/p1"), check(response="okay")],
        [READ_P1, check(response="okay")],
    )
    done = run(tmp_path, data)
    first = only_case(done, "t1")
    assert first.outcome is Outcome.ERROR
    assert first.error == "unsupported: operation patch (unsup.json:test[0].action[0])"
    assert first.steps[1].outcome is Outcome.SKIP
    assert only_case(done, "t2").outcome is Outcome.PASS
    assert done.run.verdict is Verdict.FEJL
    assert done.reports["unsup.json"]["test"][0]["action"][0]["operation"]["result"] == "error"


def test_unsupported_assert_and_unknown_operator(tmp_path: Path) -> None:
    data = script(
        "odd",
        [check(sourceId="pat", expression="Patient.id", operator="between", value="1")],
        [READ_P1, check(description="x")],
        **PATIENT_FIXTURE,
    )
    done = run(tmp_path, data)
    assert only_case(done, "t1").error.startswith("unsupported: assert operator between (odd.json:")
    assert only_case(done, "t2").error.startswith("unsupported: assert with nothing to check")


def test_bad_fhirpath_is_an_error_not_a_fail(tmp_path: Path) -> None:
    data = script(
        "badpath", [check(sourceId="pat", expression="Patient.name.foo()")], **PATIENT_FIXTURE
    )
    case = only_case(run(tmp_path, data))
    assert case.outcome is Outcome.ERROR and "Not implemented: foo" in case.error


def test_validate_profile_without_packs_is_not_run(tmp_path: Path) -> None:
    data = script(
        "prof",
        [check(sourceId="pat", validateProfileId="p")],
        **PATIENT_FIXTURE,
        profile=[{"id": "p", "reference": "http://example.org/StructureDefinition/x"}],
    )
    case = only_case(run(tmp_path, data))
    assert case.outcome is Outcome.ERROR and "not run: pack missing" in case.error


def test_setup_failure_leaves_the_tests_not_run_and_teardown_runs(tmp_path: Path) -> None:
    data = script("setupfail", [READ_P1], **PATIENT_FIXTURE)
    data["setup"] = {"action": [READ_P1, check(response="created")]}
    data["teardown"] = {"action": [op("delete", resource="Patient", params="/p1")]}
    done = run(tmp_path, data)
    assert outcomes(done) == {
        "setupfail/setup": Outcome.FAIL,
        "setupfail/t1": Outcome.ERROR,
        "setupfail/teardown": Outcome.PASS,
    }
    assert "setup of setupfail.json failed" in only_case(done).error


# -- fixtures ------------------------------------------------------------------------------------


def test_fixtures_from_map_relative_path_tree_search_and_tgz(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (tmp_path / "scripts").mkdir()
    (tmp_path / "Fixtures").mkdir()
    data_dir.mkdir()
    body = json.dumps(PATIENT).encode()
    (data_dir / "mapped.json").write_bytes(body)
    (tmp_path / "Fixtures" / "relative.xml").write_bytes(to_xml(PATIENT))
    (tmp_path / "Fixtures" / "searched.json").write_bytes(body)
    with tarfile.open(data_dir / "pack.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("package/p.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    (tmp_path / "map.yaml").write_text(
        "fixtures:\n"
        "  /Sandbox/x/Mapped.xml: data/mapped.json\n"
        "  packed.json: data/pack.tgz#package/p.json\n"
    )
    refs = {
        "a": "/Sandbox/x/Mapped.xml",
        "b": "../Fixtures/relative.xml",
        "c": "/FHIRSandbox/MedCom/Fixtures/searched.json",
        "d": "/T/packed.json",
        "e": "../Fixtures/absent.xml",
        "f": "../../../../etc/passwd",
    }
    tests = [[check(sourceId=k, expression="Patient.name.family = 'Testesen'")] for k in refs]
    data = script(
        "fix", *tests, fixture=[{"id": k, "resource": {"reference": v}} for k, v in refs.items()]
    )
    done = run(tmp_path, data, fixture_map=FixtureMap.load(tmp_path / "map.yaml"))
    assert [c.outcome for c in done.run.cases] == [Outcome.PASS] * 4 + [Outcome.ERROR] * 2
    assert "--fixtures-map" in only_case(done, "t5").error
    assert "not found" in only_case(done, "t6").error


# -- the reference LPS: $process-message, the agent API, kcert as the SUT's server ------------


def test_process_message_and_agent_api_against_the_reference_lps(tmp_path: Path) -> None:
    (tmp_path / "cc.json").write_text(json.dumps(carecommunication()))
    data = script(
        "refmsg",
        [
            op("process-message", sourceId="cc", responseId="ack"),
            check(responseCode="200"),
            check(resource="Bundle"),
            check(expression="Bundle.entry[0].resource.response.code", value="ok"),
            check(expression="Bundle.entry[0].resource.response.identifier", value="${header-id}"),
            op("search", url="${kcert-agent-base}/messages?messageHeaderId=${header-id}"),
            check(path="$.total", value="1"),
            check(path="$.messages[0].event", value="care-communication-message"),
        ],
        [
            op("process-message", sourceId="cc", contentType="xml", accept="xml"),
            check(contentType="xml"),
            check(path="//fhir:MessageHeader/fhir:response/fhir:code/@value", value="ok"),
        ],
        [op("read", url="https://elsewhere.example/fhir/Patient/1")],
        fixture=[{"id": "cc", "resource": {"reference": "../cc.json"}}],
        variable=[
            {"name": "header-id", "expression": "Bundle.entry[0].resource.id", "sourceId": "cc"}
        ],
    )
    done = run(tmp_path, data, app=create_app())
    assert only_case(done, "t1").outcome is Outcome.PASS, [
        s.message for s in only_case(done, "t1").steps
    ]
    assert only_case(done, "t2").outcome is Outcome.PASS, [
        s.message for s in only_case(done, "t2").steps
    ]
    assert only_case(done, "t3").error.startswith(
        "unsupported: operation url https://elsewhere.example/fhir/Patient/1 outside the SUT's"
    )


def test_kcert_as_the_server_delivers_what_the_sut_reads(tmp_path: Path) -> None:
    """TouchStone style: origin 1 is the SUT; it reads a message (delivered to it), returns its
    acknowledgement (judged), and sends a new message of its own (through its test agent)."""
    message = carecommunication()
    ack_template = {
        "resourceType": "Bundle",
        "id": "ack",
        "type": "message",
        "entry": [
            {
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": "h",
                    "eventCoding": {"code": "acknowledgement-message"},
                }
            }
        ],
    }
    (tmp_path / "cc.json").write_text(json.dumps(message))
    (tmp_path / "ack.json").write_text(json.dumps(ack_template))
    sut_op = {"origin": 1, "destination": 1}
    data = script(
        "mailbox",
        [
            op("read", resource="Bundle", params="/${bundle-id}", accept="xml", **sut_op),
            check(responseCode="200,201", operator="in"),
            op("create", resource="Bundle", sourceId="ack", **sut_op),
            check(direction="request", expression="Bundle.entry[0].resource.response.code = 'ok'"),
            check(
                direction="request",
                expression="Bundle.entry[0].resource.response.identifier",
                value="${header-id}",
            ),
        ],
        [
            op("create", resource="Bundle", sourceId="cc", **sut_op),
            check(direction="request", resource="Bundle"),
        ],
        [op("read", resource="Bundle", params="/unknown", **sut_op)],
        fixture=[
            {"id": "cc", "resource": {"reference": "../cc.json"}},
            {"id": "ack", "resource": {"reference": "../ack.json"}},
        ],
        variable=[
            {"name": "bundle-id", "expression": "Bundle.id", "sourceId": "cc"},
            {"name": "header-id", "expression": "Bundle.entry[0].resource.id", "sourceId": "cc"},
            {
                "name": "endpoint",
                "expression": "Bundle.entry[0].resource.destination.endpoint",
                "sourceId": "cc",
            },
        ],
        setup={
            "action": [
                op(
                    "delete",
                    resource="Bundle",
                    destination=1,
                    params="?message.destination-uri=${endpoint}",
                ),
                op(
                    "updateCreate",
                    resource="Bundle",
                    destination=1,
                    sourceId="cc",
                    params="/${bundle-id}",
                ),
                check(responseCode="200,201", operator="in"),
            ]
        },
    )
    done = run(tmp_path, data, app=create_app())
    first = only_case(done, "t1")
    assert first.outcome is Outcome.PASS, [s.message for s in first.steps]
    assert "acknowledgement ok" in first.steps[0].message
    assert first.steps[0].exchanges[0].url.endswith("/fhir/$process-message")
    second = only_case(done, "t2")  # a new message of its own: asked for through the agent
    assert second.outcome is Outcome.PASS, [s.message for s in second.steps]
    assert [e.inbound for e in second.steps[0].exchanges] == [False, True]
    assert "placed no such resource" in only_case(done, "t3").error
    assert outcomes(done)["mailbox/setup"] is Outcome.PASS


# -- the SUT sends on its own initiative (through its test agent, to kcert's peer) ----------------

SUT_OP = {"origin": 1, "destination": 1}
NEW_ASSERTS = [
    check(
        direction="request",
        expression="Bundle.entry.resource.ofType(MessageHeader).event.as(Coding).code"
        " = 'care-communication-message'",
    ),
    check(
        direction="request",
        expression="Bundle.entry.resource.ofType(Provenance)"
        ".where(activity.coding.code = 'new-message').exists()",
    ),
]


def with_patient(message: dict[str, Any], cpr: str, given: str, family: str) -> dict[str, Any]:
    for entry in message["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["identifier"][0]["value"] = cpr
            entry["resource"]["name"] = [{"family": family, "given": [given]}]
    return message


def agent_request(step: Any) -> dict[str, Any]:
    agent = next(e for e in step.exchanges if e.url.endswith("/outbox/send"))
    found: dict[str, Any] = json.loads(agent.request_body)
    return found


def test_sut_sends_a_new_message_to_kcerts_peer(tmp_path: Path) -> None:
    """The SUT is asked through its agent, sends to kcert's peer, gets an ok acknowledgement;
    the asserts judge what it sent (request) and kcert's answer (response)."""
    mads = load_persons()["lrs-mads"]
    template = with_patient(carecommunication(), mads["cpr"], mads["given"], mads["family"])
    (tmp_path / "msg.json").write_text(json.dumps(template))
    real = with_patient(carecommunication(), "0101011234", "Rigtig", "Person")
    (tmp_path / "real.json").write_text(json.dumps(real))
    data = script(
        "sends",
        [
            op("create", resource="Bundle", sourceId="msg", responseId="ack", **SUT_OP),
            check(direction="request", resource="Bundle"),
            check(direction="response", responseCode="200,201", operator="in"),
            *NEW_ASSERTS,
            check(
                direction="request",
                expression="Bundle.entry.resource.ofType(Patient).identifier.value",
                value=mads["cpr"],
            ),
            check(
                direction="response",
                expression="Bundle.entry[0].resource.response.code",
                value="ok",
            ),
            check(
                sourceId="ack",
                expression="Bundle.entry[0].resource.response.identifier",
                value="${sent-header}",
            ),
        ],
        [
            op("create", resource="Bundle", sourceId="real", **SUT_OP),
            *NEW_ASSERTS,
            check(
                direction="request",
                expression="Bundle.entry.resource.ofType(Patient).telecom.exists()",
            ),
        ],
        fixture=[
            {"id": "msg", "resource": {"reference": "../msg.json"}},
            {"id": "real", "resource": {"reference": "../real.json"}},
        ],
        # the template fixture stands for what the SUT sent once it has sent it
        variable=[
            {"name": "sent-header", "expression": "Bundle.entry[0].resource.id", "sourceId": "msg"}
        ],
    )
    done = run(tmp_path, data, app=create_app())
    first = only_case(done, "t1")
    assert first.outcome is Outcome.PASS, [s.message for s in first.steps]
    agent, inbound = first.steps[0].exchanges
    assert not agent.inbound and agent.status == 202
    assert inbound.inbound
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/fhir/\$process-message", inbound.url)
    sent = json.loads(inbound.request_body)
    assert sent["entry"][0]["resource"]["id"] != template["entry"][0]["resource"]["id"]
    request = agent_request(first.steps[0])
    assert request["kind"] == "carecommunication" and request["patient"]["cpr"] == mads["cpr"]
    assert request["receiver"]["endpoint"] == inbound.url
    assert request["receiver"]["gln"] == load_peers()["kommune"]["gln"]
    assert "MessageHeader.id " + sent["entry"][0]["resource"]["id"] in first.steps[0].message
    # what the SUT cannot be asked for (the patient's telecom) is judged on what it sent: an
    # honest fail, not an error
    second = only_case(done, "t2")
    assert second.outcome is Outcome.FAIL and not second.error
    assert [s.outcome for s in second.steps] == [Outcome.PASS] * 3 + [Outcome.FAIL]
    assert second.steps[3].findings[0].severity is Severity.F2
    assert agent_request(second.steps[0])["patient"]["cpr"] == load_persons()["kol-karen"]["cpr"]
    assert "is not used (CPR 010101-xxxx is outside kcert's synthetic range" in (
        second.steps[0].message
    )
    report = done.reports["sends.json"]
    operation = report["test"][0]["action"][0]["operation"]
    assert operation["result"] == "pass" and operation["detail"] == inbound.url
    assert report["test"][1]["action"][3]["assert"]["result"] == "fail"


def sending_script(tmp_path: Path) -> dict[str, Any]:
    """One SUT-initiated operation: the SUT sends a CareCommunication to kcert's peer."""
    mads = load_persons()["lrs-mads"]
    template = with_patient(carecommunication(), mads["cpr"], mads["given"], mads["family"])
    (tmp_path / "msg.json").write_text(json.dumps(template))
    return script(
        "sends",
        [
            op("create", resource="Bundle", sourceId="msg", **SUT_OP),
            check(direction="request", resource="Bundle"),
        ],
        fixture=[{"id": "msg", "resource": {"reference": "../msg.json"}}],
    )


def test_a_sut_initiated_script_sends_to_the_peers_it_is_given(tmp_path: Path) -> None:
    """A session's peers reach the TestScript actions (ActionContext.peer_servers ->
    ScriptState): the SUT sends to that session's server, which the run leaves running."""
    peers = PeerServers()
    try:
        done = run(tmp_path, sending_script(tmp_path), app=create_app(), peer_servers=peers)
        case = only_case(done)
        assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
        [server] = peers.running
        inbound = case.steps[0].exchanges[1]
        assert inbound.inbound and inbound.url == f"{server.base_url}/fhir/$process-message"
        assert [e.url for e in server.received] == [inbound.url]
        assert peers.server() is server  # not closed by the run: the session closes it
    finally:
        peers.close()


def test_a_script_run_without_peers_closes_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run_on` without a session's peers: its runner starts its own and stops them."""
    closed: list[str] = []
    original = PeerServer.close

    def close(self: PeerServer) -> None:
        closed.append(self.base_url)
        original(self)

    monkeypatch.setattr(PeerServer, "close", close)
    done = run(tmp_path, sending_script(tmp_path), app=create_app())
    case = only_case(done)
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    assert closed == [case.steps[0].exchanges[1].url.removesuffix("/fhir/$process-message")]


def test_what_the_test_agent_cannot_ask_for_is_unsupported_or_named(tmp_path: Path) -> None:
    ack = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "resource": {
                    "resourceType": "MessageHeader",
                    "eventCoding": {"code": "acknowledgement-message"},
                }
            }
        ],
    }
    (tmp_path / "ack.json").write_text(json.dumps(ack))
    revision = check(
        direction="request",
        expression="Bundle.entry.resource.ofType(Provenance).entity.where(role = 'revision')"
        ".exists()",
    )
    data = script(
        "cannot",
        [
            op("create", resource="Bundle", sourceId="create-reply-02", **SUT_OP),
            *NEW_ASSERTS[:1],
            revision,
        ],
        [
            op("create", resource="Bundle", sourceId="nowhere", **SUT_OP),
            check(direction="request", resource="Bundle"),
        ],
        [op("create", resource="Bundle", sourceId="ack", **SUT_OP)],
        [
            op("create", resource="Bundle", **SUT_OP),
            *NEW_ASSERTS[:1],
            check(
                direction="request",
                expression="Bundle.entry.resource.ofType(Provenance)"
                ".where(activity.coding.code = 'forward-message').exists()",
            ),
        ],
        fixture=[{"id": "ack", "resource": {"reference": "../ack.json"}}],
    )
    done = run(tmp_path, data)  # never reaches the SUT
    errors = {c.case.id: c.error for c in done.run.cases}
    assert all(c.outcome is Outcome.ERROR for c in done.run.cases)
    # a reply or forward with nothing to refer to: kcert delivers its own message first, which
    # this SUT does not acknowledge
    assert errors["t1"].startswith(
        "the script names no message for the SUT's reply-message, and the CareCommunication "
        "kcert delivered for it first was not taken (HTTP 201, acknowledgement none)"
    )
    assert errors["t2"].startswith(
        "unsupported: SUT-initiated create of Bundle: kcert cannot tell which message the SUT "
        "is to send (its template fixture 'nowhere' is not available"
    )
    assert errors["t3"].startswith(
        "unsupported: SUT-initiated create of acknowledgement-message (fixture ack): the test "
        "agent API (POST /outbox/send) can make the SUT send only a care-communication-message"
    )
    assert "the SUT's forward-message, and the CareCommunication kcert delivered" in errors["t4"]
    assert not errors["t1"].startswith("unsupported") and not errors["t4"].startswith("unsup")
    assert all(not s.exchanges for c in done.run.cases[1:3] for s in c.steps)


def agent_app(status: int) -> Starlette:
    """A SUT whose test agent answers `status` to outbox/send and never sends anything."""

    async def send(request: Request) -> Response:
        problem = {"title": "bad send request", "detail": "receiver not allowed"}
        if status == 202:
            return JSONResponse({"total": 1, "messages": []}, 202)
        return JSONResponse(problem, status, media_type="application/problem+json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/kcert-agent/v1/health", health),
            Route("/kcert-agent/v1/outbox/send", send, methods=["POST"]),
        ]
    )


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (
            fake_server(),  # no outbox operation at all: 404
            "unsupported by the SUT: its test agent has no outbox operation (POST "
            "http://reference.invalid/kcert-agent/v1/outbox/send answered HTTP 404; the SUT says: "
            '"Not Found")',
        ),
        (
            agent_app(400),
            "the SUT's test agent did not send care-communication-message: POST "
            "http://reference.invalid/kcert-agent/v1/outbox/send answered HTTP 400; the SUT says: "
            'problem title "bad send request"; detail "receiver not allowed"',
        ),
        (
            agent_app(202),
            "the SUT sent nothing to kcert's peer within 0.2 s after its test agent accepted "
            "POST outbox/send (HTTP 202)",
        ),
    ],
)
def test_a_sut_that_does_not_send_fails_with_its_own_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: Any, expected: str
) -> None:
    monkeypatch.setattr(sending, "WAIT_S", 0.2)
    data = script(
        "silent",
        [op("create", resource="Bundle", sourceId="new-message", **SUT_OP), *NEW_ASSERTS],
    )
    done = run(tmp_path, data, app=app)
    case = only_case(done)
    # a reachable SUT that refuses or sends nothing fails; the asserts on what it should have
    # sent are not evaluated (one root cause, one finding)
    assert case.outcome is Outcome.FAIL and not case.error
    problems = [f for s in case.steps for f in s.findings if f.severity is not Severity.OK]
    assert len(problems) == 1 and problems[0].rule_id == "TESTSCRIPT-SUT", problems
    assert problems[0].message.startswith(expected), problems[0].message
    assert "silent.json:test[0].action[0]" in problems[0].message
    assert [s.outcome for s in case.steps] == [Outcome.FAIL, Outcome.SKIP, Outcome.SKIP]
    assert case.steps[0].exchanges[0].url.endswith("/kcert-agent/v1/outbox/send")


# -- files, TestReport, report folder and the command line ---------------------------------------


def test_xml_testscript_runs(tmp_path: Path) -> None:
    data = script(
        "xmlscript",
        [check(sourceId="pat", expression="Patient.gender = 'female'")],
        **PATIENT_FIXTURE,
    )
    path = tmp_path / "s.xml"
    path.write_bytes(to_xml(data))
    loaded = load_script(path)
    assert loaded.id == "xmlscript" and loaded.tests()[0]["action"][0]["assert"]["expression"]


def cli(argv: list[str]) -> tuple[int, str]:
    """The command as `kcert` runs it (main.py turns UsageProblem into exit 2)."""
    parser = argparse.ArgumentParser(prog="kcert")
    testscript_parser.add_parser(parser.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    console = Console(file=out, width=400, highlight=False)
    args = parser.parse_args(argv)
    try:
        code = args.func(args, console)
    except UsageProblem as exc:
        console.print(f"kcert: error: {exc}", markup=False)
        code = 2
    return code, out.getvalue()


def test_cli_writes_testreports_inside_the_signed_report(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    (scripts / "Fixtures").mkdir(parents=True)
    (scripts / "Fixtures" / "cc.json").write_text(json.dumps(carecommunication()))
    good = script(
        "good",
        [op("process-message", sourceId="cc"), check(responseCode="200")],
        fixture=[{"id": "cc", "resource": {"reference": "Fixtures/cc.json"}}],
    )
    (scripts / "good.json").write_text(json.dumps(good))
    reports = tmp_path / "reports"
    base = [
        "testscript",
        "run",
        str(scripts),
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--reports",
        str(reports),
        "--lang",
        "en",
    ]
    code, out = cli(base)
    assert code == 0, out
    run_dir = next(p for p in reports.iterdir() if p.is_dir() and p.name != "latest")
    report = json.loads((run_dir / "testreports" / "good.json").read_text())
    assert report["resourceType"] == "TestReport" and report["result"] == "pass"
    assert structure_issues(report) == []
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "testreports/good.json" in manifest["files"]
    assert (run_dir / "index.html").is_file() and (run_dir / "results.json").is_file()
    results = json.loads((run_dir / "results.json").read_text())
    assert [p["id"] for p in results["protocols"]] == ["good"]

    bad = script(
        "bad",
        [op("process-message", sourceId="cc"), check(responseCode="201")],
        fixture=[{"id": "cc", "resource": {"reference": "Fixtures/cc.json"}}],
    )
    (scripts / "bad.json").write_text(json.dumps(bad))
    code, out = cli(base)
    assert code == 1, out
    (scripts / "odd.json").write_text(json.dumps(script("odd", [op("patch", resource="Patient")])))
    code, out = cli(base)
    assert code == 2 and "unsupported: operation patch" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"resourceType": "TestScript", "test": [', "not a readable FHIR resource"),
        ('{"resourceType": "Patient", "id": "x", "x": "TestScript"}', "not a TestScript"),
        (
            '{"resourceType": "TestScript", "test": [{"action": [{"nothing": 1}]}]}',
            "neither operation",
        ),
    ],
)
def test_broken_testscript_file_is_exit_2_with_the_file_name(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    code, out = cli(
        [
            "testscript",
            "run",
            str(path),
            "--sut",
            "reference",
            "--transport",
            "inprocess",
            "--reports",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "broken.json" in out and expected in out and "Traceback" not in out


def test_cli_refuses_without_a_sut_and_with_a_missing_path(tmp_path: Path) -> None:
    code, out = cli(["testscript", "run", str(tmp_path)])
    assert code == 2 and "name a SUT" in out
    code, out = cli(["testscript", "run", str(tmp_path / "nothing"), "--sut", "reference"])
    assert code == 2 and "no such file or folder" in out
