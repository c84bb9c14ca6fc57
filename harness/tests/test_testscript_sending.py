"""Test agent API 1.4 through the TestScript runner: the SUT replying, forwarding, sending
attachments, category, topic, priority, an Encounter and a specific sender/recipient, asked
for from the asserts; kcert's check of the attachments that arrive; scripts outside the LPS
role; the reference LPS's named send-side defects caught."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from harness.fixtures import load_peers
from harness.model.outcome import Outcome, Severity
from harness.packs.store import PackStore
from harness.reflps.app import create_app
from harness.reflps.identity import REFERENCE_CLINIC
from harness.reflps.outgoing import Attachment, Compose, Party, Patient, care_communication
from harness.tests.test_testscript import (
    NEW_ASSERTS,
    SUT_OP,
    agent_request,
    carecommunication,
    check,
    only_case,
    op,
    run,
    script,
)
from harness.testscript import samples
from harness.testscript.fixtures import FixtureMap
from harness.testscript.needs import missing_fixtures
from harness.testscript.script import Script, load_script
from harness.validators.documents import DocumentValidator

IDENTIFIER = "Bundle.entry.resource.ofType(Communication).identifier.value"
PROVENANCES = "Bundle.entry.resource.ofType(Provenance).count()"
PAYLOADS = "Bundle.entry.resource.ofType(Communication).payload.count()"
EVENT = NEW_ASSERTS[0]  # the message event: care-communication-message


def received_then(tmp_path: Path, sid: str, *answer: dict[str, Any]) -> dict[str, Any]:
    """A script in MedCom's pattern: kcert's CareCommunication is placed on the server kcert
    plays, the SUT reads (receives) it in test 1, and answers it in test 2."""
    (tmp_path / "cc.json").write_text(json.dumps(carecommunication()))
    return script(
        sid,
        [
            op("read", resource="Bundle", params="/${bundle-id}", **SUT_OP),
            check(responseCode="200,201", operator="in"),
        ],
        list(answer),
        fixture=[
            {"id": "create-new-message-01", "resource": {"reference": "../cc.json"}},
            {"id": "create-reply-message-02", "resource": {"reference": "../empty.json"}},
        ],
        variable=[
            {"name": "bundle-id", "expression": "Bundle.id", "sourceId": "create-new-message-01"},
            {
                "name": "messageHeaderid-new-message-01",
                "expression": "Bundle.entry[0].resource.id",
                "sourceId": "create-new-message-01",
            },
            {
                "name": "identifier-new-message-01",
                "expression": IDENTIFIER,
                "sourceId": "create-new-message-01",
            },
            {
                "name": "category-new-message-01",
                "expression": "Bundle.entry.resource.ofType(Communication).category.coding.code",
                "sourceId": "create-new-message-01",
            },
        ],
        setup={
            "action": [
                op(
                    "updateCreate",
                    resource="Bundle",
                    destination=1,
                    sourceId="create-new-message-01",
                    params="/${bundle-id}",
                ),
            ]
        },
    )


def reply_asserts(same_thread: bool = True) -> list[dict[str, Any]]:
    return [
        op("create", resource="Bundle", sourceId="create-reply-message-02", **SUT_OP),
        EVENT,
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Provenance).where(entity.what.reference"
            ".contains('${messageHeaderid-new-message-01}')).exists()",
        ),
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Provenance).entity"
            ".where(role = 'revision').exists()",
        ),
        check(direction="request", expression=PROVENANCES, operator="equals", value="2"),
        check(direction="request", expression=f"{PAYLOADS} = '2'"),
        check(
            direction="request",
            expression=f"{IDENTIFIER} {'=' if same_thread else '!='} "
            "'${identifier-new-message-01}'",
        ),
    ]


CONTRACT = Path(__file__).resolve().parent.parent / "contract" / "lps-test-agent-api.yaml"


def conforming(step: Any) -> dict[str, Any]:
    """The step's agent request, checked against the contract's SendRequest schema."""
    request = agent_request(step)
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/SendRequest", "components": contract["components"]}
    jsonschema.Draft202012Validator(schema).validate(request)
    return request


def sent(step: Any) -> dict[str, Any]:
    inbound = next(e for e in step.exchanges if e.inbound)
    found: dict[str, Any] = json.loads(inbound.request_body)
    return found


def communication(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Communication"
    )


# -- replies and forwards -------------------------------------------------------------------------


def test_the_sut_replies_in_the_thread_of_the_message_it_received(tmp_path: Path) -> None:
    done = run(tmp_path, received_then(tmp_path, "reply", *reply_asserts()), app=create_app())
    reply = only_case(done, "t2")
    assert reply.outcome is Outcome.PASS, [s.message for s in reply.steps]
    request = conforming(reply.steps[0])
    original = carecommunication()  # same template: the header id differs per rendering
    assert set(request["replyTo"]) == {"messageHeaderId"}
    assert request["replyTo"]["messageHeaderId"] != original["entry"][0]["resource"]["id"]
    message = sent(reply.steps[0])
    assert request["replyTo"]["messageHeaderId"] != message["entry"][0]["resource"]["id"]
    assert "reply-message to MessageHeader.id" in reply.steps[0].message
    assert "(variable ${messageHeaderid-new-message-01})" in reply.steps[0].message
    # the count compared with a string is read as numbers, and the message says so
    assert "compared as numbers, as TouchStone does" in reply.steps[5].message


def test_a_reply_with_a_new_thread_identifier_is_caught(tmp_path: Path) -> None:
    """Named defect reply-new-thread: the reply's Communication.identifier is new."""
    done = run(
        tmp_path,
        received_then(tmp_path, "reply", *reply_asserts()),
        app=create_app(["reply-new-thread"]),
    )
    reply = only_case(done, "t2")
    assert reply.outcome is Outcome.FAIL
    assert [s.outcome for s in reply.steps].count(Outcome.FAIL) == 1
    assert "identifier.value = " in reply.steps[6].message


def test_the_sut_forwards_with_the_original_attached(tmp_path: Path) -> None:
    forward = reply_asserts(same_thread=False)
    forward[0] = op("create", resource="Bundle", sourceId="create-forward-message-02", **SUT_OP)
    forward.append(
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Communication).category.coding.code"
            " != '${category-new-message-01}'",
        )
    )
    data = received_then(tmp_path, "forward-changecategory", *forward)
    data["fixture"].append(
        {"id": "create-forward-message-02", "resource": {"reference": "../empty.json"}}
    )
    done = run(tmp_path, data, app=create_app())
    case = only_case(done, "t2")
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    request = conforming(case.steps[0])
    assert request["forward"]["include"] == "all"
    assert request["category"] != "other"  # kcert's template has category other
    message = sent(case.steps[0])
    activities = [
        e["resource"]["activity"]["coding"][0]["code"]
        for e in message["entry"]
        if e["resource"]["resourceType"] == "Provenance"
    ]
    assert activities == ["new-message", "forward-message"]


def test_a_forward_of_part_of_a_thread_asks_for_the_text_only(tmp_path: Path) -> None:
    """The asserts count fewer payloads than all of the original and a new segment make."""
    original = carecommunication()
    text = communication(original)["payload"][0]
    attachment = json.loads(json.dumps(text))
    attachment.pop("contentString")
    attachment["contentAttachment"] = {"title": "x", "url": samples.LINK}
    communication(original)["payload"].append(attachment)
    forward = [
        op("create", resource="Bundle", sourceId="create-forward-message-02", **SUT_OP),
        EVENT,
        check(direction="request", expression=f"{PAYLOADS} = '2'"),
    ]
    data = received_then(tmp_path, "forward-partialthread", *forward)
    (tmp_path / "cc.json").write_text(json.dumps(original))
    done = run(tmp_path, data, app=create_app())
    case = only_case(done, "t2")
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    assert conforming(case.steps[0])["forward"]["include"] == "text"
    assert "only its text segments go along" in case.steps[0].message


def test_without_an_earlier_message_kcert_delivers_one_first(tmp_path: Path) -> None:
    data = script(
        "reply-forward",
        [
            op("create", resource="Bundle", sourceId="create-forward-message-01", **SUT_OP),
            EVENT,
            check(
                direction="request",
                expression="Bundle.entry.resource.ofType(Provenance)"
                ".where(activity.coding.code = 'forward-message').exists()",
            ),
        ],
    )
    done = run(tmp_path, data, app=create_app())
    case = only_case(done, "t1")
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    delivery, agent, inbound = case.steps[0].exchanges
    assert delivery.url.endswith("/fhir/$process-message") and not delivery.inbound
    assert agent.url.endswith("/outbox/send") and inbound.inbound
    assert "kcert first delivered its own CareCommunication" in case.steps[0].message


def test_without_any_message_to_answer_the_reply_is_an_error_naming_why(tmp_path: Path) -> None:
    """A SUT that refuses kcert's message leaves nothing to reply to: an error, not a fail."""
    data = script(
        "reply",
        [
            op("create", resource="Bundle", sourceId="create-reply-message-02", **SUT_OP),
            EVENT,
            check(
                direction="request",
                expression="Bundle.entry.resource.ofType(Provenance)"
                ".where(activity.coding.code = 'reply-message').exists()",
            ),
        ],
    )
    app = create_app(identity=_other_clinic())
    done = run(tmp_path, data, app=app)
    case = only_case(done, "t1")
    assert case.outcome is Outcome.ERROR
    assert "the CareCommunication kcert delivered for it first was not taken" in case.error


def _other_clinic() -> Any:
    from harness.reflps.identity import ClinicIdentity

    return ClinicIdentity("123456789012", "5790000000005", "Anden klinik")


# -- attachments, category, priority, encounter, sender and recipient ----------------------------


def new_message(*asserts: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        op("create", resource="Bundle", sourceId="create-new-message-01", **SUT_OP),
        EVENT,
        *asserts,
    ]


CONTENT = "Bundle.entry.resource.ofType(Communication).payload.content"
ATTACHMENT_ASSERTS = (
    check(
        direction="request", expression=f"{CONTENT}.where(contentType = 'image/png').data.exists()"
    ),
    check(direction="request", expression=f"{CONTENT}.url.exists()"),
)


def test_attachments_are_asked_for_sent_and_checked(tmp_path: Path) -> None:
    done = run(
        tmp_path, script("new-attachment", new_message(*ATTACHMENT_ASSERTS)), app=create_app()
    )
    case = only_case(done, "t1")
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    items = conforming(case.steps[0])["attachments"]
    assert [i.get("contentType", "link") for i in items] == ["link", "image/png"]
    png = base64.b64decode(items[1]["data"])
    arrived = [p["contentAttachment"] for p in communication(sent(case.steps[0]))["payload"][1:]]
    assert arrived[1]["size"] == len(png)
    assert arrived[1]["hash"] == base64.b64encode(hashlib.sha1(png).digest()).decode()
    assert "content, size and SHA-1 hash as asked" in case.steps[0].message


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ("attachment-wrong-size", "Attachment.size is "),
        ("attachment-sha256-hash", "Attachment.hash is the SHA-256 of the data"),
    ],
)
def test_an_attachment_stated_wrongly_fails_the_operation(
    tmp_path: Path, defect: str, expected: str
) -> None:
    done = run(
        tmp_path,
        script("new-attachment", new_message(*ATTACHMENT_ASSERTS)),
        app=create_app([defect]),
    )
    step = only_case(done, "t1").steps[0]
    assert step.outcome is Outcome.FAIL
    [finding] = [f for f in step.findings if f.severity is Severity.F2]
    assert finding.rule_id == "TESTSCRIPT-SENT" and expected in finding.message


def test_priority_category_encounter_sender_and_recipient(tmp_path: Path) -> None:
    asserts = (
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Communication)"
            ".category.coding.code = 'regarding-referral'",
        ),
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Communication).priority.exists()",
        ),
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Encounter)"
            ".episodeOfCare.identifier.value.matches('^[0-9a-f]{8}-[0-9a-f]{4}-4')",
        ),
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Communication)"
            ".extension.where(url = 'http://medcomfhir.dk/ig/core/StructureDefinition/"
            "medcom-core-sender-extension').exists()",
        ),
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Communication).recipient.exists()",
        ),
    )
    done = run(tmp_path, script("tec", new_message(*asserts)), app=create_app())
    case = only_case(done, "t1")
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    request = conforming(case.steps[0])
    assert request["priority"] == "asap" and request["category"] == "regarding-referral"
    assert set(request) >= {"encounter", "specificSender", "specificRecipient"}


# -- kcert's attachment check on its own -----------------------------------------------------------


def message_with(*contents: dict[str, Any]) -> dict[str, Any]:
    payload = [{"contentAttachment": c} for c in contents]
    return {"entry": [{"resource": {"resourceType": "Communication", "payload": payload}}]}


def as_sent(asked: samples.Asked, **changes: Any) -> dict[str, Any]:
    assert asked.data is not None
    content = {
        "title": asked.title,
        "contentType": asked.content_type,
        "data": base64.b64encode(asked.data).decode(),
        "size": len(asked.data),
        "hash": base64.b64encode(hashlib.sha1(asked.data).digest()).decode(),
    }
    content.update(changes)
    return content


@pytest.mark.parametrize("content_type", sorted(samples.FORMATS))
def test_each_sample_is_a_file_of_its_type(content_type: str) -> None:
    data = samples.sample(content_type, "x").data
    assert data is not None
    magic = {
        "application/pdf": b"%PDF",
        "image/png": b"\x89PNG",
        "image/gif": b"GIF8",
        "image/jpeg": b"\xff\xd8",
        "image/bmp": b"BM",
        "image/tiff": b"II*\x00",
    }
    assert data.startswith(magic[content_type])


@pytest.mark.parametrize("content_type", sorted(samples.FORMATS))
def test_a_sample_has_the_same_bytes_at_any_time(
    content_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a rejudge asks again for what the recorded run asked for: a sample's content must not
    # depend on the clock (Pillow stamps a PDF with the time it is written unless told)
    first = samples.sample(content_type, "x").data
    later = time.gmtime(2_000_000_000)
    monkeypatch.setattr(time, "gmtime", lambda *_: later)
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    assert samples.sample(content_type, "x").data == first


def test_the_attachment_check_is_quiet_on_what_was_asked_for() -> None:
    png, url = samples.sample("image/png", "p"), samples.link("l")
    problems, notes = samples.check(
        [png, url], message_with(as_sent(png), {"title": "l", "url": url.url})
    )
    assert problems == [] and len(notes) == 2


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"contentType": "image/gif"}, "contentType is 'image/gif', asked for 'image/png'"),
        ({"data": base64.b64encode(b"other").decode()}, "the content differs from what was asked"),
        ({"data": "***"}, "data is not base64"),
        ({"size": 1}, "Attachment.size is 1, the data has"),
        ({"hash": "AAAA"}, "Attachment.hash 'AAAA' is not the base64 SHA-1 of the data"),
        ({"title": "renamed"}, "was asked for and is not in the message sent"),
    ],
)
def test_the_attachment_check_fires(changes: dict[str, Any], expected: str) -> None:
    png = samples.sample("image/png", "p")
    problems, _ = samples.check([png], message_with(as_sent(png, **changes)))
    assert problems and expected in problems[0]
    if "data" not in changes:
        assert len(problems) == 1


def test_a_link_that_arrives_different_is_named() -> None:
    url = samples.link("l")
    problems, _ = samples.check([url], message_with({"title": "l", "url": "https://x.invalid"}))
    assert problems == ["attachment 'l': url is 'https://x.invalid', asked for " + repr(url.url)]


# -- role --------------------------------------------------------------------------------------


def test_a_script_outside_the_lps_role_is_skipped_naming_why(tmp_path: Path) -> None:
    data = script(
        "ack-send",
        [op("read", resource="Bundle", params="/x", **SUT_OP), check(responseCode="200")],
        fixture=[
            {
                "id": "create-STIN-01",
                "resource": {
                    "reference": "/Sandbox/Fixtures/HospitalNotification-fixture-STIN.xml"
                },
            }
        ],
    )
    done = run(tmp_path, data, app=create_app())
    case = only_case(done, "t1")
    assert case.outcome is Outcome.SKIP and not case.error
    assert case.steps[0].message.startswith(
        "not in the LPS role: the script has the SUT receive hospital-notification-message"
    )
    assert not case.steps[0].exchanges


# -- the reference LPS's refusals ----------------------------------------------------------------


def send_body(**more: Any) -> dict[str, Any]:
    peer = load_peers()["kommune"]
    return {
        "kind": "carecommunication",
        "patient": {"cpr": "2512489996", "given": "Karen", "family": "Test"},
        "receiver": {
            # refused before anything is sent: no peer needs to listen there
            "endpoint": "http://127.0.0.1:9/fhir/$process-message",
            "sor": str(peer["sor"]),
            "gln": str(peer["gln"]),
            "name": str(peer["name"]),
        },
        **more,
    }


@pytest.mark.parametrize(
    ("more", "status", "detail"),
    [
        ({"replyTo": {"messageHeaderId": "unknown"}}, 404, "replyTo: no CareCommunication"),
        ({"forward": {}}, 400, "forward: messageHeaderId or communicationIdentifier"),
        (
            {"replyTo": {"messageHeaderId": "a"}, "forward": {"messageHeaderId": "a"}},
            400,
            "give one",
        ),
        ({"priority": "asap"}, 400, "only with category regarding-referral"),
        ({"attachments": [{"title": "t", "contentType": "image/png"}]}, 400, "exactly one of data"),
        (
            {"attachments": [{"title": "t", "contentType": "image/png", "data": "@@"}]},
            400,
            "base64",
        ),
        ({"attachments": [{"title": "t", "data": "AAAA"}]}, 400, "contentType: required"),
        ({"kind": "referral", "topic": "x"}, 400, "topic: only for a carecommunication"),
        (
            {"patient": {"cpr": "2512489996", "xEcpr": "0101907KC1", "given": "A", "family": "B"}},
            400,
            "patient: give one of cpr and xEcpr",
        ),
        ({"patient": {"given": "A", "family": "B"}}, 400, "patient: give one of cpr and xEcpr"),
        (
            {"kind": "referral", "patient": {"xEcpr": "0101907KC1", "given": "A", "family": "B"}},
            400,
            "a referral needs a CPR number",
        ),
    ],
)
def test_the_reference_lps_refuses_what_it_cannot_send(
    more: dict[str, Any], status: int, detail: str
) -> None:
    client = TestClient(create_app())
    answer = client.post("/kcert-agent/v1/outbox/send", json=send_body(**more))
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]


# -- what the reference LPS sends validates against MedCom's profiles ----------------------------


def _shapes() -> dict[str, tuple[Patient, Compose]]:
    earlier = carecommunication()
    karen = Patient("2512489996", "Karen", "Test")
    pictures = tuple(
        Attachment(kind, f"Bilag {kind}", samples.sample(kind, "x").data)
        for kind in sorted(samples.FORMATS)
    )
    return {
        "reply": (karen, Compose("Svar", "reply-message", earlier)),
        "reply-episode": (
            karen,
            Compose("Svar", "reply-message", with_episode(carecommunication())),
        ),
        "forward-text": (karen, Compose("Videre", "forward-message", earlier, include="text")),
        "attachments": (
            karen,
            Compose("Bilag", attachments=(*pictures, Attachment("", "Link", None, samples.LINK))),
        ),
        "priority-encounter-teams": (
            Patient("", "Xenia", "Erstatning", "0101907KC1"),
            Compose(
                "Henvisning",
                category="regarding-referral",
                topic="Henvisning",
                priority="asap",
                episode_of_care=("", "7b5d0c2e-6a35-4c8e-9d54-3c1a2b3d4e5f"),
                sender_team="Lægerne",
                recipient_team="Hjemmeplejen",
            ),
        ),
    }


@pytest.fixture(scope="module")
def fhir_store(tmp_path_factory: pytest.TempPathFactory, r4_core: Path) -> PackStore:
    """The corpus FHIR packages and the R4 base in a store of the test's own."""
    corpus = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip(f"../shared/corpus is absent ({corpus}): official packages not available")
    store = PackStore(tmp_path_factory.mktemp("packs"))
    for package in sorted((corpus / "fhir" / "packages").glob("*.tgz")):
        store.install(package)
    store.install(r4_core)
    return store


@pytest.mark.slow
@pytest.mark.parametrize(
    "shape", ["attachments", "forward-text", "priority-encounter-teams", "reply", "reply-episode"]
)
def test_what_the_reference_lps_sends_validates(
    shape: str, tmp_path: Path, fhir_store: PackStore
) -> None:
    """Each new 1.4.0 message shape: 0 profile errors in the CareCommunication context."""
    patient, compose = _shapes()[shape]
    peer = load_peers()["kommune"]
    to = Party(str(peer["name"]), str(peer["sor"]), str(peer["gln"]))
    _, body = care_communication(REFERENCE_CLINIC, to, patient, compose.text, frozenset(), compose)
    path = tmp_path / f"{shape}.json"
    path.write_bytes(body)
    outcome = DocumentValidator(fhir_store).report(path, "fhir")
    errors = [f"{f.location}: {f.message}" for f in outcome.findings if f.blocking]
    assert errors == []
    assert outcome.context.startswith("medcom.fhir.dk.carecommunication")


@pytest.mark.slow
def test_the_profile_check_above_can_fail(tmp_path: Path, fhir_store: PackStore) -> None:
    """Category other without a topic (defect send-missing-topic) breaks
    medcom-careCommunication-6: the same validation reports it."""
    peer = load_peers()["kommune"]
    to = Party(str(peer["name"]), str(peer["sor"]), str(peer["gln"]))
    karen = Patient("2512489996", "Karen", "Test")
    _, body = care_communication(
        REFERENCE_CLINIC, to, karen, "x", frozenset({"send-missing-topic"})
    )
    path = tmp_path / "broken.json"
    path.write_bytes(body)
    outcome = DocumentValidator(fhir_store).report(path, "fhir")
    assert any("medcom-careCommunication-6" in f.message for f in outcome.findings if f.blocking)


# -- the fixtures a run lacks, named once --------------------------------------------------------


def test_missing_fixtures_are_named_once_with_the_scripts_that_need_them(tmp_path: Path) -> None:
    def needing(sid: str, *more: dict[str, Any]) -> Script:
        data = script(
            sid,
            [op("process-message", sourceId="cc"), check(responseCode="200")],
            [op("create", resource="Bundle", sourceId="tpl", **SUT_OP), EVENT],
            fixture=[
                {"id": "cc", "resource": {"reference": "../Fixtures/CC-fixture.xml"}},
                {"id": "tpl", "resource": {"reference": "../Fixtures/CC-fixture-empty.xml"}},
                *more,
            ],
        )
        path = tmp_path / f"{sid}.json"
        path.write_text(json.dumps(data))
        return load_script(path)

    stin = {"id": "s", "resource": {"reference": "/x/HospitalNotification-fixture-STIN.xml"}}
    scripts = [needing("a"), needing("b"), needing("c", stin)]
    (tmp_path / "present.json").write_text("{}")
    lines = missing_fixtures(scripts, FixtureMap()).lines()
    assert lines == [
        "fixtures not found (1; map them with --fixtures-map): CC-fixture.xml (2 script(s))",
        "fixtures not found, needed only by scripts outside the LPS role: "
        "HospitalNotification-fixture-STIN.xml",
        "templates of what the SUT sends, no file needed: CC-fixture-empty.xml",
    ]
    mapped = FixtureMap({"CC-fixture.xml": tmp_path / "present.json"})
    assert missing_fixtures(scripts[:2], mapped).lines()[0].startswith("templates of")


def with_episode(original: dict[str, Any]) -> dict[str, Any]:
    """The message with an Encounter (episode-of-care identifier) for its patient."""
    patient = next(e for e in original["entry"] if e["resource"]["resourceType"] == "Patient")
    encounter = {
        "resourceType": "Encounter",
        "id": "enc-1",
        "meta": {
            "profile": ["http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-encounter"]
        },
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient['resource']['id']}"},
        "episodeOfCare": [
            {"identifier": {"value": "urn:uuid:0f4b6d8e-2a1c-4e3b-9d7f-5a6b7c8d9e0f"}}
        ],
    }
    full = "https://kcert.example/fhir/Encounter/enc-1"
    original["entry"].append({"fullUrl": full, "resource": encounter})
    communication(original)["encounter"] = {"reference": "Encounter/enc-1"}
    return original


def test_a_reply_carries_the_earlier_episode_of_care_on_its_own(tmp_path: Path) -> None:
    """MedCom: an episode-of-care identifier of an earlier message goes with the answer. kcert
    does not ask for it (that is what is tested); the reference LPS carries it over."""
    original = with_episode(carecommunication())
    answer = [
        op("create", resource="Bundle", sourceId="create-reply-message-02", **SUT_OP),
        EVENT,
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Provenance).entity"
            ".where(role = 'revision').exists()",
        ),
        check(
            direction="request",
            expression="Bundle.entry.resource.ofType(Encounter).where(episodeOfCare.identifier"
            ".value = '${episode}').count() = 1",
        ),
    ]
    data = received_then(tmp_path, "reply-episode", *answer)
    data["variable"].append(
        {
            "name": "episode",
            "expression": "Bundle.entry.resource.ofType(Encounter).episodeOfCare.identifier.value",
            "sourceId": "create-new-message-01",
        }
    )
    (tmp_path / "cc.json").write_text(json.dumps(original))
    done = run(tmp_path, data, app=create_app())
    case = only_case(done, "t2")
    assert case.outcome is Outcome.PASS, [s.message for s in case.steps]
    assert "encounter" not in agent_request(case.steps[0])


@pytest.mark.parametrize(("count", "outcome"), [("1", Outcome.PASS), ("5", Outcome.FAIL)])
def test_a_count_compared_with_a_string_is_compared_as_a_number(
    tmp_path: Path, count: str, outcome: Outcome
) -> None:
    (tmp_path / "cc.json").write_text(json.dumps(carecommunication()))
    data = script(
        "counts",
        [check(sourceId="cc", expression=f"{PAYLOADS} = '{count}'")],
        fixture=[{"id": "cc", "resource": {"reference": "../cc.json"}}],
    )
    case = only_case(run(tmp_path, data), "t1")
    assert case.outcome is outcome
    assert "compared as numbers, as TouchStone does" in case.steps[0].message
