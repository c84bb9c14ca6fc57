"""Care-plan sharing (DK-CPD) and PRO documents (QRD): every rule fires on its fault and stays
quiet on the reference LPS's own document; the repository peer and the new endpoints refuse
hostile input; with the official packs the reference LPS's documents and kcert's QRDs pass."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from harness.checks import CHECKS, CheckContext
from harness.checks.cpd_facts import KCERT_CODES, SUBMISSION_NOTE, parse_ts
from harness.fixtures import REPO_ROOT, TemplateRenderer, load_peers, load_persons
from harness.loader.protocols import load_all
from harness.model.exchange import Exchange
from harness.model.outcome import Outcome, Severity, Verdict
from harness.packs.store import PackStore
from harness.reflps.app import create_app
from harness.runner.actions import ACTIONS, ActionContext, ActionResult
from harness.runner.careplan_actions import render_qrd, repository_answer, with_answers
from harness.runner.engine import Runner, RunOptions
from harness.safeparse import parse_xml
from harness.sut.reference import reference_config
from harness.transport.inprocess import InProcessTransport
from harness.transport.peer import shared_peer

AS_OF = "2027-03-01"
V3 = "{urn:hl7-org:v3}"
NS = {"v3": "urn:hl7-org:v3"}
PROTOCOLS = [REPO_ROOT / "testcases" / n for n in ("careplan-sharing.yaml", "pro-documents.yaml")]


# ---- one in-process reference LPS with the population loaded, and one shared plan ------------


@pytest.fixture(scope="module")
def world() -> Iterator[ActionContext]:
    config = reference_config("http://reference.invalid", (), "inprocess")
    transport = InProcessTransport(config, create_app())
    actx = ActionContext(
        transport, config, TemplateRenderer(), load_persons(), load_peers(), {}, {}
    )
    loaded = ACTIONS.get("load-population").func(
        actx, generate={"seed": 2027, "size": 400}, as_of=AS_OF
    )
    assert loaded.exchange.status == 200
    yield actx
    transport.close()


def share(world: ActionContext, **params: Any) -> ActionResult:
    params.setdefault("as_of", AS_OF)
    if "same_patient_as" not in params:
        params.setdefault("patient_in", "kol-inkluderet")
        params.setdefault("pick", "richest")
    return ACTIONS.get("share-plan").func(world, **params)


@pytest.fixture(scope="module")
def shared(world: ActionContext) -> ActionResult:
    done = share(world)
    assert done.exchange.status == 200, done.exchange.response_body
    assert SUBMISSION_NOTE in done.notes
    return done


def ctx(
    done: ActionResult,
    world: ActionContext,
    notes: dict[str, Any] | None = None,
    status: int | None = None,
    earlier: dict[str, Any] | None = None,
) -> CheckContext:
    exchange = copy.copy(done.exchange)
    if status is not None:
        exchange.status = status
    return CheckContext(
        "2",
        exchange,
        Severity.F2,
        None,
        earlier or {},
        {},
        {},
        exchanges=done.exchanges,
        notes=notes if notes is not None else dict(done.notes),
        state=world.state,
    )


def rules(kind: str, context: CheckContext, **params: Any) -> list[str]:
    return [f.rule_id for f in CHECKS.get(kind).func(context, **params) if f.is_problem]


def submission(done: ActionResult) -> dict[str, Any]:
    value = json.loads(done.notes[SUBMISSION_NOTE])
    assert isinstance(value, dict)
    return value


def with_submission(done: ActionResult, body: dict[str, Any] | bytes) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {**done.notes, SUBMISSION_NOTE: raw}


Edit = Callable[[etree._Element], None]


def edited(done: ActionResult, edit: Edit) -> dict[str, Any]:
    """The notes of `done` with the shared document changed by `edit`."""
    body = submission(done)
    root = parse_xml(base64.b64decode(body["document"]))
    edit(root)
    body["document"] = base64.b64encode(etree.tostring(root)).decode()
    return with_submission(done, body)


def first(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces=NS)
    assert isinstance(found, list) and found, xpath
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def drop(xpath: str) -> Edit:
    def edit(root: etree._Element) -> None:
        for element in list(root.xpath(xpath, namespaces=NS)):  # type: ignore[union-attr]
            element.getparent().remove(element)

    return edit


def set_attr(xpath: str, name: str, value: str) -> Edit:
    def edit(root: etree._Element) -> None:
        first(root, xpath).set(name, value)

    return edit


SECTION = "v3:component/v3:structuredBody/v3:component/v3:section"
OUTCOME = f"{SECTION}[v3:templateId/@root='1.2.208.184.15.1.10.20.4']//v3:observation"
RULE_EDITS: list[tuple[str, Edit]] = [
    ("CPD-TEMPLATE", set_attr("v3:templateId", "root", "1.2.3")),
    ("CPD-CODE", set_attr("v3:code", "code", "34133-9")),
    ("CPD-PATIENT-ID", set_attr("v3:recordTarget/v3:patientRole/v3:id", "root", "1.2.208.176.1.1")),
    ("CPD-AUTHOR-SOR", drop("v3:author/v3:assignedAuthor//v3:id")),
    ("CPD-SECTION", drop(f"{SECTION}[v3:templateId/@root='1.2.208.184.15.1.10.20.3']/..")),
    ("CPD-GOALS", drop(f"{SECTION}[v3:templateId/@root='1.2.208.184.15.1.10.20.2']/..")),
    ("CPD-GOALS", drop("//v3:observation[@moodCode='GOL']/..")),
    ("CPD-EFFECTIVE-TIME", set_attr("v3:effectiveTime", "value", "yesterday")),
    ("CPD-VERSION", drop("v3:setId")),
]


@pytest.mark.parametrize(("rule", "edit"), RULE_EDITS, ids=[r for r, _ in RULE_EDITS])
def test_cpd_rule_fires(world: ActionContext, shared: ActionResult, rule: str, edit: Edit) -> None:
    assert rule in rules("cpd-rules", ctx(shared, world, edited(shared, edit)))


def test_reference_document_keeps_every_rule_quiet(
    world: ActionContext, shared: ActionResult
) -> None:
    for kind in ("plan-shared", "cpd-rules", "cpd-metadata", "cpd-matches-oracle"):
        assert rules(kind, ctx(shared, world)) == [], kind


META_EDITS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("META-PATIENT", lambda m: m["patientId"].update(id="0101019999")),
    ("META-PATIENT", lambda m: m["patientId"].update(root="1.2.208.176.1.1")),
    ("META-AUTHOR", lambda m: m["authorInstitution"].update(id="123456789012345")),
    ("META-FORMAT", lambda m: m["formatCode"].update(code="urn:ad:dk:medcom:phmr:full")),
    ("META-CLASS", lambda m: m["classCode"].update(code="002")),
    ("META-TYPE", lambda m: m["typeCode"].update(code="74465-6")),
    ("META-TIME", lambda m: m.update(creationTime="19990101000000")),
    ("META-CONFIDENTIALITY", lambda m: m["confidentialityCode"].update(code="R")),
    ("META-UNIQUEID", lambda m: m.update(uniqueId="not-the-id")),
]


@pytest.mark.parametrize(("rule", "change"), META_EDITS, ids=[r for r, _ in META_EDITS])
def test_metadata_rule_fires(
    world: ActionContext,
    shared: ActionResult,
    rule: str,
    change: Callable[[dict[str, Any]], None],
) -> None:
    body = submission(shared)
    change(body["metadata"])
    assert rules("cpd-metadata", ctx(shared, world, with_submission(shared, body))) == [rule]


def test_metadata_cpr_mismatch_names_both_numbers(
    world: ActionContext, shared: ActionResult
) -> None:
    body = submission(shared)
    body["metadata"]["patientId"]["id"] = "0101019999"
    found = list(CHECKS.get("cpd-metadata").func(ctx(shared, world, with_submission(shared, body))))
    assert "0101019999" in found[0].message and shared.notes["cpr"] in found[0].message


def test_submission_rules_fire(world: ActionContext, shared: ActionResult) -> None:
    assert rules("plan-shared", ctx(shared, world, status=404)) == ["SUT-OPERATION-MISSING"]
    assert rules("plan-shared", ctx(shared, world, status=500)) == ["SHARE-HTTP"]
    nothing = {k: v for k, v in shared.notes.items() if k != SUBMISSION_NOTE}
    assert rules("plan-shared", ctx(shared, world, nothing)) == ["REPO-NONE"]
    for bad in (b"not json", b'{"metadata": {}}', json.dumps({"metadata": {}, "document": "x"})):
        raw = bad if isinstance(bad, bytes) else bad.encode()
        notes = with_submission(shared, raw)
        assert rules("plan-shared", ctx(shared, world, notes)) == ["REPO-FORMAT"]
    body = submission(shared)
    body["document"] = "!!!"
    assert rules("plan-shared", ctx(shared, world, with_submission(shared, body))) == [
        "REPO-FORMAT"
    ]
    for document in (b"<not-xml", XXE, b"<html xmlns='http://www.w3.org/1999/xhtml'/>"):
        body["document"] = base64.b64encode(document).decode()
        notes = with_submission(shared, body)
        assert rules("plan-shared", ctx(shared, world, notes)) == ["CPD-PARSE"]
        # alone, another check names the same root cause; after plan-shared in one step it
        # is not evaluated (test_faults.py)
        assert rules("cpd-rules", ctx(shared, world, notes)) == ["CPD-PARSE"]


def test_content_rules_fire(world: ActionContext, shared: ActionResult) -> None:
    other = ctx(shared, world, {**shared.notes, "cpr": "0101019999"})
    assert rules("cpd-matches-oracle", other) == ["CPD-WRONG-PATIENT"]

    def colour(root: etree._Element) -> None:
        value = first(root, f"{OUTCOME}[v3:code/@codeSystem='{KCERT_CODES}']/v3:value")
        value.set("code", "red" if value.get("code") != "red" else "green")

    assert "CPD-COLOUR" in rules("cpd-matches-oracle", ctx(shared, world, edited(shared, colour)))
    measurement = f"{OUTCOME}[v3:code/@codeSystem!='{KCERT_CODES}']"
    changed = edited(shared, set_attr(f"{measurement}/v3:value", "value", "999"))
    assert rules("cpd-matches-oracle", ctx(shared, world, changed)) == ["CPD-MEASUREMENT"]
    old = edited(shared, set_attr(f"{measurement}/v3:effectiveTime", "value", "20200101"))
    assert {"CPD-STALE", "CPD-MEASUREMENT"} <= set(
        rules("cpd-matches-oracle", ctx(shared, world, old))
    )


def test_replacement_rules(world: ActionContext) -> None:
    from harness.checks.registry import StepRecord

    v1 = share(world)
    world.earlier["2"] = StepRecord(v1.exchange, None, notes=v1.notes)
    try:
        v2 = share(world, same_patient_as="2")
        earlier = {"2": world.earlier["2"]}
        assert rules("cpd-replaces", ctx(v2, world, earlier=earlier), of="2") == []
        # the first version does not replace itself: every versioning rule fires
        found = rules("cpd-replaces", ctx(v1, world, earlier=earlier), of="2")
        assert set(found) == {"CPD-REPLACE", "META-PARENT"}
    finally:
        world.earlier.pop("2")


def test_pack_missing_is_a_visible_gap(
    world: ActionContext, shared: ActionResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCERT_PACKS", str(tmp_path / "empty"))
    for kind, pack in (("cpd-schema", "cda-schema"), ("cpd-schematron", "schematron")):
        found = list(CHECKS.get(kind).func(ctx(shared, world)))
        assert [f.rule_id for f in found] == ["PACK-MISSING"]
        assert found[0].severity is Severity.OK and not found[0].is_problem
        assert f"not run: pack missing ({pack})" in found[0].message


# ---- PRO ---------------------------------------------------------------------------------


def receipt(status: int, body: Any) -> ActionResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    exchange = Exchange("POST", "http://x/documents", {}, b"", status, {}, raw)
    return ActionResult(exchange, notes={"cpr": "0503559912"})


def test_document_attached_rules(world: ActionContext) -> None:
    good = {"status": "attached", "documentId": "d", "patientCpr": "0503559912"}
    cases = [
        (receipt(200, good), []),
        (receipt(200, {**good, "status": "already-attached"}), []),
        (receipt(404, {"title": "unknown patient"}), ["SUT-OPERATION-MISSING"]),
        (receipt(409, {"title": "unknown patient"}), ["PRO-HTTP"]),
        (receipt(200, b"[1, 2"), ["PRO-FORMAT"]),
        (receipt(200, [1]), ["PRO-FORMAT"]),
        (receipt(200, {**good, "status": "filed"}), ["PRO-FORMAT"]),
        (receipt(200, {**good, "patientCpr": "1208489931"}), ["PRO-PATIENT"]),
    ]
    for done, expected in cases:
        assert rules("document-attached", ctx(done, world)) == expected


def test_oracle_takes_the_new_answers_in(world: ActionContext) -> None:
    population = world.state["population"]
    patient = population.patients[0]
    answers = {f"SB{n}": "1" for n in range(1, 9)} | {"SB9": "4"}
    changed = with_answers(population, patient.cpr, "startback", parse_day("2027-02-27"), answers)
    assert changed.patients[0].startbacks[-1].answers == (True,) * 9
    assert population.patients[0].startbacks is not changed.patients[0].startbacks
    cat = {f"CAT{n}": "5" for n in range(1, 9)} | {"MRC": "2"}
    changed = with_answers(population, patient.cpr, "kol-cat-mrc", parse_day("2027-02-27"), cat)
    numbers = {k[1]: v[-1].number for k, v in changed.patients[0].measurements.items()}
    assert numbers["MCS88137"] == 40.0 and numbers["MCS88021"] == 2.0


def parse_day(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)


# ---- the repository peer -----------------------------------------------------------------

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b']><ClinicalDocument xmlns="urn:hl7-org:v3">&j;</ClinicalDocument>'
)
DEEP = b"<a>" * 5000 + b"</a>" * 5000


def test_repository_answers_like_a_registry(shared: ActionResult) -> None:
    good = shared.notes[SUBMISSION_NOTE]
    answer = repository_answer("POST", "/", {}, good)
    assert answer.status == 200 and json.loads(answer.body)["status"] == "Success"
    body = json.loads(good)
    for bad in (b"", b"{", b"[]", json.dumps({"document": "eA=="}).encode()):
        refused = repository_answer("POST", "/", {}, bad)
        assert refused.status == 400 and json.loads(refused.body)["status"] == "Failure"
    for hostile in (XXE, LAUGHS, DEEP):
        body["document"] = base64.b64encode(hostile).decode()
        refused = repository_answer("POST", "/", {}, json.dumps(body).encode())
        assert refused.status == 400, hostile[:40]
    assert repository_answer("GET", "/", {}, b"").status == 405


def test_repository_peer_over_http_never_crashes() -> None:
    peer = shared_peer()
    mark = peer.expect(repository_answer)
    url = f"{peer.base_url}/kcert-repository/v1/documents"
    session = requests.Session()
    session.trust_env = False
    statuses = [
        session.post(url, data=body, timeout=10).status_code
        for body in (b"\xff\xfe garbage", b'{"metadata": 1, "document": 2}', b"{" * 10000)
    ]
    assert statuses == [400, 400, 400]
    arrived = peer.wait(mark, 3, 5.0)
    assert [e.status for e in arrived] == [400, 400, 400]


def test_share_refuses_repositories_off_loopback(
    world: ActionContext, shared: ActionResult
) -> None:
    cpr = shared.notes["cpr"]
    for url in ("http://example.org/repo", "file:///etc/passwd", "ftp://127.0.0.1/"):
        body = json.dumps({"repositoryUrl": url, "asOf": AS_OF}).encode()
        answer = world.transport.request(
            "agent",
            "POST",
            f"patients/{cpr}/plan/share",
            body,
            {"Content-Type": "application/json"},
        )
        assert answer.status == 400, url
    for body in (b"{", b"[]", json.dumps({"repositoryUrl": 1, "asOf": AS_OF}).encode(), b"[" * 500):
        answer = world.transport.request(
            "agent",
            "POST",
            f"patients/{cpr}/plan/share",
            body,
            {"Content-Type": "application/json"},
        )
        assert answer.status == 400
    closed = json.dumps({"repositoryUrl": "http://127.0.0.1:9/x", "asOf": AS_OF}).encode()
    answer = world.transport.request(
        "agent", "POST", f"patients/{cpr}/plan/share", closed, {"Content-Type": "application/json"}
    )
    assert answer.status == 502


@pytest.mark.parametrize(
    "body",
    [XXE, LAUGHS, DEEP, b"<a>" + b"x" * (3 * 1024 * 1024) + b"</a>", b"not xml", b""],
    ids=["xxe", "billion-laughs", "deep", "too-large", "garbage", "empty"],
)
def test_documents_endpoint_refuses_hostile_xml(world: ActionContext, body: bytes) -> None:
    answer = world.transport.request(
        "agent", "POST", "documents", body, {"Content-Type": "application/xml"}
    )
    assert answer.status in (400, 413)
    assert answer.response_content_type.startswith("application/problem+json")
    assert b"root:" not in answer.response_body


def test_documents_endpoint_statuses(world: ActionContext) -> None:
    population = world.state["population"]
    stranger = copy.copy(population.patients[0])
    stranger.cpr = "0101019999"
    peer = load_peers()["kommune"]
    answers = {f"SB{n}": "0" for n in range(1, 10)} | {"SB9": "1"}
    unknown, _ = render_qrd("startback", stranger, parse_day(AS_OF), answers, peer)
    post = world.transport.request
    xml = {"Content-Type": "application/xml"}
    assert post("agent", "POST", "documents", unknown, xml).status == 404
    assert post("agent", "POST", "documents", unknown, {"Content-Type": "text/plain"}).status == 415
    known, _ = render_qrd("startback", population.patients[0], parse_day(AS_OF), answers, peer)
    first_time = post("agent", "POST", "documents", known, xml)
    again = post("agent", "POST", "documents", known, xml)
    assert json.loads(first_time.response_body)["status"] == "attached"
    assert json.loads(again.response_body)["status"] == "already-attached"


def test_hl7_times() -> None:
    assert parse_ts("20270301120000+0100") is not None
    assert parse_ts("20270301") is not None
    for bad in ("", "2027", "yesterday", "20271301", "20270301120000+01"):
        assert parse_ts(bad) is None, bad


# ---- whole protocols: clean, with and without packs --------------------------------------


def run_protocols(defects: tuple[str, ...] = ()) -> Any:
    protocols, errors = load_all(PROTOCOLS)
    assert not errors
    config = reference_config("http://reference.invalid", defects, "inprocess")
    transport = InProcessTransport(config, create_app(defects))
    try:
        return Runner(transport, config).run(protocols, RunOptions(run_id="careplan"))
    finally:
        transport.close()


def test_clean_reference_without_packs_shows_what_did_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCERT_PACKS", str(tmp_path / "empty"))
    run = run_protocols()
    assert run.verdict is Verdict.GODKENDT
    assert all(c.outcome is Outcome.PASS for c in run.cases)
    gaps = [f.message for c in run.cases for f in c.findings if f.rule_id == "PACK-MISSING"]
    assert any("(cda-schema)" in m for m in gaps) and any("(schematron)" in m for m in gaps)


@pytest.fixture
def packs(tmp_path: Path, corpus: Path) -> Path:
    root = tmp_path / "packs"
    store = PackStore(root)
    cda = corpus / "cda"
    store.install(cda / "schema", "hl7-cda-r2", "2005-sdtc", "cda-schema")
    store.install(cda / "schematron" / "dk", "medcom-dk-schematron", "corpus", "schematron")
    store.install(
        cda / "schematron" / "art-decor", "medcom-art-decor-schematron", "corpus", "schematron"
    )
    return root


def test_with_packs_reference_documents_and_kcerts_qrds_pass(
    packs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCERT_PACKS", str(packs))
    run = run_protocols()
    assert run.verdict is Verdict.GODKENDT
    assert [f.rule_id for c in run.cases for f in c.findings] == []  # nothing skipped either
    # a broken document is caught by schema and schematron
    world_run = run_protocols(("cpd-missing-goal-section",))
    cp01 = next(c for c in world_run.cases if c.case.id == "CP-01")
    assert {"CPD-GOALS", "CPD-SCHEMATRON"} <= {f.rule_id for f in cp01.findings}
    # kcert's QRD documents pass the DK QRD schematron and the CDA schema
    from harness.validators.schematron import SchematronValidator
    from harness.validators.xsd import XsdValidator

    store = PackStore(packs)
    xsd = XsdValidator(store.of_kind("cda-schema")[-1])
    validators = [SchematronValidator.from_pack(p) for p in store.of_kind("schematron")]
    population = run_population()
    peer = load_peers()["kommune"]
    for kind, answers in (
        ("startback", {f"SB{n}": "1" for n in range(1, 9)} | {"SB9": "5"}),
        ("kol-cat-mrc", {f"CAT{n}": "2" for n in range(1, 9)} | {"MRC": "3"}),
    ):
        body, _ = render_qrd(kind, population.patients[0], parse_day(AS_OF), answers, peer)
        root = parse_xml(body)
        assert any(v.schematrons_for(root) for v in validators)
        found = list(xsd.iter_findings(root, kind))
        for validator in validators:
            found += validator.validate(root, kind)
        assert [f.message for f in found if f.is_problem] == [], kind


def test_xsd_finding_is_restated_under_kcerts_rule(
    packs: Path, monkeypatch: pytest.MonkeyPatch, world: ActionContext, shared: ActionResult
) -> None:
    monkeypatch.setenv("KCERT_PACKS", str(packs))
    assert rules("cpd-schema", ctx(shared, world)) == []

    def stray(root: etree._Element) -> None:
        root.insert(3, etree.Element(f"{V3}stray"))

    assert set(rules("cpd-schema", ctx(shared, world, edited(shared, stray)))) == {"CPD-XSD"}


def run_population() -> Any:
    from harness.runner.cockpit_actions import _population

    return _population((2027, 400, AS_OF, "999991000016008", "Lægehuset Reference (kcert)"))[2]
