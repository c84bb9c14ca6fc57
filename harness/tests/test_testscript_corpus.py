"""MedCom's CareCommunication 5.0.0 and Acknowledgement 2.0.0 TestScripts against the reference
LPS (skipped without ../shared/corpus): exactly which tests run and pass, which fail (and on which
assert), which are unsupported."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from harness.model.outcome import Outcome, Severity, Verdict
from harness.reflps.app import create_app
from harness.reflps.identity import REFERENCE_CLINIC
from harness.runner.engine import Runner, RunOptions
from harness.session import SutChoice, runpath
from harness.sut.reference import reference_config
from harness.testscript.corpusmap import build
from harness.testscript.fixtures import FixtureMap
from harness.testscript.profiles import ProfileSource
from harness.testscript.run import ScriptSuite, TestScriptRun, run_on
from harness.testscript.script import discover, load_script
from harness.transport.inprocess import InProcessTransport

ACK_RECEIVE = {  # script id: its read tests (the SUT receives an acknowledgement)
    "acknowledgement-receive-ok": ["message-read-ok-01"],
    "acknowledgement-receive-ok-duplicate": ["message-read-ok-01", "message-read-ok2-02"],
    "acknowledgement-receive-fatal-error": ["message-read-fatal-error-01"],
    "acknowledgement-receive-fatal-error-duplicate": [
        "message-read-fatal-error-01",
        "message-read-fatal-error2-02",
    ],
    "acknowledgement-receive-transient-error": ["message-read-transient-error-01"],
    "acknowledgement-receive-transient-error-duplicate": [
        "message-read-transient-error-01",
        "message-read-transient-error2-02",
    ],
    "acknowledgement-receive-transient-error-ok": [
        "message-read-transient-error-01",
        "message-read-ok-02",
    ],
}
ACK_SEND = (  # setup needs HospitalNotification fixtures the corpus does not have
    "acknowledgement-send-ok-hospitalnotification",
    "acknowledgement-send-ok-duplicate-hospitalnotification",
    "acknowledgement-send-fatal-error-hospitalnotification",
    "acknowledgement-send-fatal-error-duplicate-hospitalnotification",
    "acknowledgement-send-transient-error-hospitalnotification",
    "acknowledgement-send-transient-error-duplicate-hospitalnotificat",
)
CC_RECEIVE_THEN_SEND = tuple(  # setup + the SUT reads a message, then the SUT would answer it
    f"carecommunication-send-{n}"
    for n in (
        "forward-add-attachment",
        "forward-attachment",
        "forward-changecategory",
        "forward-changetopic",
        "forward-message",
        "forward-partialthread",
        "reply-add-attachment",
        "reply-attachment",
        "reply-changecategory",
        "reply-changetopic",
        "reply-message",
        "tec-01",
        "tec-06",
    )
)
CC_SEND_ONLY = tuple(
    f"carecommunication-send-{n}"
    for n in (
        "new-attachment-bmp",
        "new-attachment-gif",
        "new-attachment-jpeg",
        "new-attachment-link",
        "new-attachment-multiple",
        "new-attachment-pdf",
        "new-attachment-png",
        "new-attachment-structured",
        "new-attachment-tiff",
        "new-category-other",
        "new-message",
        "new-priority",
        "new-topic",
        "reply-forward",
        "reply-new",
        "tec-02",
        "tec-03",
        "tec-04",
        "tec-05",
    )
)
NEW_MESSAGE = "carecommunication-create-new-message-01"  # the SUT sends a new message
CC = "carecommunication-send-"
# Through test agent API 1.4 every CareCommunication test runs against the reference LPS and
# passes, but these: (script, case) -> (outcome, start of the error or failing assert text)
NOT_PASSING = {
    # the reply must have 4 payloads; the fixture (S-Tek-B, one segment) and the reply's own
    # text make 2; tec-06 expects 2 from the same fixture, so no fixture serves both
    ("carecommunication-send-tec-01", "carecommunication-create-reply-message-02"): (
        Outcome.FAIL,
        "",
    ),
    # the scripts name variables they do not define
    ("carecommunication-send-forward-changetopic", "carecommunication-create-forward-message-02"): (
        Outcome.ERROR,
        "variable ${hospitalSOR-new-message} is not defined in the TestScript",
    ),
    (
        "carecommunication-send-forward-partialthread",
        "carecommunication-create-forward-message-02",
    ): (Outcome.ERROR, "variable ${hospitalSOR-new-message} is not defined in the TestScript"),
    ("carecommunication-send-reply-forward", "carecommunication-create-reply-message-02"): (
        Outcome.ERROR,
        "variable ${messageHeaderid-new-message-01} is not defined in the TestScript",
    ),
}


def fixture_map(corpus: Path, tmp_path: Path) -> FixtureMap:
    """As `python -m harness.testscript.corpusmap` writes it for the reference LPS."""
    return FixtureMap(build(corpus, tmp_path, REFERENCE_CLINIC.sor, REFERENCE_CLINIC.gln))


def corpus_profiles(corpus: Path) -> ProfileSource:
    return ProfileSource.from_files(sorted((corpus / "fhir" / "packages").glob("*.tgz")))


def run_corpus(
    corpus: Path, fixtures: FixtureMap, profiles: ProfileSource | None = None
) -> TestScriptRun:
    root = corpus / "fhir" / "testscripts"
    scripts = [load_script(path, base) for path, base in discover([root])]
    config = reference_config("http://reference.invalid", (), "inprocess")
    transport = InProcessTransport(config, create_app())
    try:
        run = Runner(transport, config).new_run(RunOptions(run_id="corpus"))
        return run_on(transport, config, run, scripts, fixtures, profiles or ProfileSource.none())
    finally:
        transport.close()


def expected_outcome(script: str, case: str) -> tuple[Outcome, str]:
    """(outcome, start of the error text) each corpus test must end with."""
    if script in ACK_SEND:
        return Outcome.SKIP, ""
    return NOT_PASSING.get((script, case), (Outcome.PASS, ""))


def test_corpus_scripts_run_or_name_what_is_unsupported(corpus: Path, tmp_path: Path) -> None:
    done = run_corpus(corpus, fixture_map(corpus, tmp_path), corpus_profiles(corpus))
    ids = {p.protocol.id for p in done.run.protocols}
    assert ids == set(ACK_RECEIVE) | set(ACK_SEND) | set(CC_RECEIVE_THEN_SEND) | set(CC_SEND_ONLY)
    wrong = []
    for case in done.run.cases:
        outcome, text = expected_outcome(case.protocol_id, case.case.id)
        if case.outcome is not outcome or not case.error.startswith(text):
            wrong.append((case.protocol_id, case.case.id, case.outcome, case.error[:120]))
    assert wrong == []
    counts = {o: sum(c.outcome is o for c in done.run.cases) for o in Outcome}
    assert (counts[Outcome.PASS], counts[Outcome.FAIL], counts[Outcome.ERROR]) == (74, 1, 3)
    assert counts[Outcome.SKIP] == 24  # the acknowledgement send scripts: outside the LPS role
    assert not [c for c in done.run.cases if c.error.startswith("unsupported")]
    for case in done.run.cases:
        if case.protocol_id in ACK_SEND:
            assert case.steps[0].message.startswith(
                "not in the LPS role: the script has the SUT receive hospital-notification-message"
            )
    assert done.run.verdict is Verdict.FEJL  # the three script defects
    assert len(done.reports) == 45
    # the reads really reach the reference LPS, and what it answered is noted beside them
    reads = {
        (c.protocol_id, c.case.id): c.steps[0]
        for c in done.run.cases
        if c.case.id.startswith("message-read-") and c.outcome is Outcome.PASS
    }
    assert len(reads) == 24
    for (script, _), step in reads.items():
        assert step.exchanges[0].url == "http://reference.invalid/fhir/$process-message"
        notes = [f.message for f in step.findings if f.severity is Severity.OK]
        # CareCommunication addressed to it is taken; acknowledgements it does not receive
        expected = "ok" if script.startswith("carecommunication") else "fatal-error"
        assert notes == [f"the SUT answered the delivered message with acknowledgement {expected}"]


def test_corpus_replies_and_forwards_name_the_message_received(
    corpus: Path, tmp_path: Path
) -> None:
    """Each reply and forward after a read names the message the SUT received; replies stay
    in its thread, forwards start their own, and attachments arrive as asked."""
    done = run_corpus(corpus, fixture_map(corpus, tmp_path), corpus_profiles(corpus))
    by_script: dict[str, list[Any]] = {}
    for case in done.run.cases:
        by_script.setdefault(case.protocol_id, []).append(case)
    for script in CC_RECEIVE_THEN_SEND:
        read, answer = by_script[script][1:3]
        delivered = read.steps[0].exchanges[0].request_body  # as XML, as the script asks
        agent = next(e for e in answer.steps[0].exchanges if e.url.endswith("/outbox/send"))
        request = json.loads(agent.request_body)
        key = "forward" if "forward" in script else "replyTo"
        header = request[key]["messageHeaderId"]
        assert f'<id value="{header}"/>'.encode() in delivered, script
    add = json.loads(
        next(
            e.request_body
            for e in by_script["carecommunication-send-reply-add-attachment"][2].steps[0].exchanges
            if e.url.endswith("/outbox/send")
        )
    )
    assert [a["contentType"] for a in add["attachments"]] == ["application/pdf", "image/png"]
    partial = by_script["carecommunication-send-forward-partialthread"][2].steps[0]
    assert "only its text segments go along" in partial.message


def test_corpus_new_messages_are_sent_by_the_sut_and_judged(corpus: Path, tmp_path: Path) -> None:
    """Every new-message test asks the reference LPS through its agent for what the asserts
    want (attachments, category, priority, an Encounter, sender and recipient); its message
    reaches kcert's peer, is valid against the MedCom profile and passes every assert."""
    done = run_corpus(corpus, fixture_map(corpus, tmp_path), corpus_profiles(corpus))
    sends = [c for c in done.run.cases if c.case.id == NEW_MESSAGE]
    assert len(sends) == 18
    for case in sends:
        agent, inbound = case.steps[0].exchanges
        assert agent.url == "http://reference.invalid/kcert-agent/v1/outbox/send"
        assert agent.status == 202 and not agent.inbound
        assert inbound.inbound and inbound.url.endswith("/fhir/$process-message")
        assert inbound.status == 200 and b'"acknowledgement-message"' in inbound.response_body
        assert case.steps[1].outcome is Outcome.PASS, case.steps[1].message  # profile valid
        failing = tuple(i for i, s in enumerate(case.steps) if s.outcome is not Outcome.PASS)
        assert failing == (), (case.protocol_id, [s.message for s in case.steps])
        report = done.reports[f"{case.protocol_id}.json"]
        test = next(t for t in report["test"] if t["name"].startswith("Create a CareCommunication"))
        assert test["action"][0]["operation"]["result"] == "pass"
    asked = {c.protocol_id: json.loads(c.steps[0].exchanges[0].request_body) for c in sends}
    kinds = [
        a.get("contentType", "link") for a in asked[f"{CC}new-attachment-multiple"]["attachments"]
    ]
    assert kinds == ["application/pdf", "image/png"]
    assert asked[f"{CC}new-attachment-link"]["attachments"][0]["url"].startswith("https://")
    assert asked[f"{CC}new-priority"]["priority"] == "asap"
    assert "encounter" in asked[f"{CC}tec-05"]
    assert {"specificSender", "specificRecipient"} <= set(asked[f"{CC}tec-02"])
    assert set(asked[f"{CC}tec-04"]["patient"]) == {"xEcpr", "given", "family"}


def test_corpus_without_fixtures_map_names_the_missing_fixture(corpus: Path) -> None:
    done = run_corpus(corpus, FixtureMap())
    setup = next(c for c in done.run.cases if c.protocol_id == "acknowledgement-receive-ok")
    assert setup.outcome is Outcome.ERROR
    assert "Acknowledgement-fixture-ok.xml" in setup.error and "--fixtures-map" in setup.error


def test_validate_profile_with_corpus_packages(corpus: Path, tmp_path: Path) -> None:
    packages = corpus / "fhir" / "packages"
    profiles = ProfileSource.from_files(sorted(packages.glob("*.tgz")))
    with tarfile.open(packages / "carecommunication-5.0.2.tgz") as tar:
        name = next(m for m in tar.getnames() if m.startswith("package/example/Bundle-"))
        handle = tar.extractfile(name)
        assert handle is not None
        (tmp_path / "good.json").write_bytes(handle.read())
    (tmp_path / "broken.json").write_text(
        json.dumps({"resourceType": "Bundle", "id": "b", "type": "message"})
    )
    # as MedCom's CareCommunication scripts name it
    profile = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message|5.0.1"
    data = {
        "resourceType": "TestScript",
        "id": "profiles",
        "name": "profiles",
        "status": "active",
        "url": "http://kcert.example/TestScript/profiles",
        "profile": [{"id": "cc", "reference": profile}],
        "fixture": [{"id": n, "resource": {"reference": f"{n}.json"}} for n in ("good", "broken")],
        "test": [
            {
                "id": n,
                "action": [
                    {"assert": {"sourceId": n, "validateProfileId": "cc", "warningOnly": False}}
                ],
            }
            for n in ("good", "broken")
        ],
    }
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps(data))
    config = reference_config("http://reference.invalid", (), "inprocess")
    transport = InProcessTransport(config, create_app())
    try:
        run = Runner(transport, config).new_run(RunOptions(run_id="profiles"))
        done = run_on(transport, config, run, [load_script(path)], FixtureMap(), profiles)
    finally:
        transport.close()
    good, broken = done.run.cases
    assert good.outcome is Outcome.PASS, good.steps[0].message
    assert broken.outcome is Outcome.FAIL and "profile error(s)" in broken.steps[0].message
    assert "carecommunication-5.0.1" in [p["id"] for p in done.run.packs]


@pytest.mark.slow
def test_corpus_script_over_http_through_the_session(corpus: Path, tmp_path: Path) -> None:
    script = (
        corpus
        / "fhir"
        / "testscripts"
        / "acknowledgementtestscript-2.0.0"
        / "TestScript-acknowledgement-receive-ok.json"
    )
    suite = ScriptSuite.of(
        [load_script(script)], fixture_map(corpus, tmp_path), ProfileSource.none()
    )
    store = runpath.open_store(None, tmp_path / "reports")
    try:
        plan = runpath.RunPlan(
            SutChoice(reference=True), suite.protocols, RunOptions(run_id="http"), scripts=suite
        )
        done = runpath.run_and_report(store, plan, runpath.Reporting(tmp_path / "reports"))
    finally:
        store.close()
    assert [c.outcome for c in done.run.cases] == [Outcome.PASS, Outcome.PASS]
    assert done.run.verdict is Verdict.GODKENDT
    assert done.run.cases[1].steps[0].exchanges[0].url.startswith("http://127.0.0.1:")
    assert (done.run_dir / "testreports" / "acknowledgement-receive-ok.json").is_file()


def test_the_corpus_fixtures_map_command_writes_a_usable_map(corpus: Path, tmp_path: Path) -> None:
    from harness.testscript.corpusmap import main

    out = tmp_path / "map"
    assert main([str(corpus), str(out)]) == 0
    mapped = FixtureMap.load(out / "fixtures-map.yaml")
    for name in ("Acknowledgement-fixture-ok.xml", "CareCommunication-fixture-attachment.xml"):
        path = mapped.lookup(name)
        assert path is not None and path.is_absolute(), name
    message = json.loads(next(out.glob("to-sut-Bundle-R-A-new-*.json")).read_text())
    receivers = [
        i["value"]
        for e in message["entry"]
        if e["resource"]["resourceType"] == "Organization"
        for i in e["resource"].get("identifier", [])
    ]
    assert REFERENCE_CLINIC.sor in receivers and REFERENCE_CLINIC.gln in receivers
