"""harness.checks.profiles: which version an answer is judged in, the named not-runs, and the
profile validation inside the ack, operation-outcome and fhir-resource checks (fires / quiet)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.checks import CHECKS, profiles
from harness.checks.registry import Sent
from harness.fixtures import load_peers
from harness.model.exchange import Exchange
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.reflps.app import create_app
from harness.tests.conftest import CORPUS
from harness.tests.test_reflps_profiles import CC_502, _ctx, _message, _post
from harness.validators.fhirprofile import ProfileIndex, ProfileValidator, read_package
from harness.validators.fhirprofile.packages import Entry, Package

ACK_502 = ("medcom.fhir.dk.acknowledgement", "2.0.3")


@pytest.fixture
def packs(dev_fhir_packs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # the validator is cached per store and pack set, so it is built once for all tests here
    monkeypatch.setenv("KCERT_PACKS", str(dev_fhir_packs))
    yield


@pytest.fixture(scope="module")
def answers() -> dict[str, Exchange]:
    """The reference LPS's answers: an ok and a fatal-error acknowledgement, a refusal."""
    with TestClient(create_app(())) as lps:
        ok = _post(lps, json.dumps(_message({}, "ok")).encode(), "application/fhir+json")
        fatal = _post(
            lps,
            json.dumps(_message({"include_patient": False}, "fatal")).encode(),
            "application/fhir+json",
        )
        refusal = _post(lps, b"not FHIR", "text/plain")
    return {"ok": ok, "fatal": fatal, "refusal": refusal}


def _with_body(exchange: Exchange, resource: dict[str, Any]) -> Exchange:
    return Exchange(
        exchange.method,
        exchange.url,
        exchange.request_headers,
        exchange.request_body,
        status=exchange.status,
        response_headers={"content-type": "application/fhir+json"},
        response_body=json.dumps(resource).encode(),
        evidence=exchange.evidence,
    )


def _check(name: str, exchange: Exchange, **params: Any) -> list[Finding]:
    ctx = _ctx(exchange, (CC_502,))
    peer = load_peers()["kommune"]
    ctx.peer_identity = {"sor": str(peer["sor"]), "gln": str(peer["gln"])}
    if exchange.request_body.startswith(b"{"):
        message = json.loads(exchange.request_body)
        ctx.sent = Sent(message, {}, "json", exchange.request_body, "application/fhir+json")
    return list(CHECKS.get(name).func(ctx, **params))


def _blocking(found: list[Finding]) -> list[str]:
    return [f"{f.rule_id}: {f.message}" for f in found if f.blocking]


# -- the version an acknowledgement is judged in ---------------------------------------------


def _corpus_package(name: str) -> Package:
    path = CORPUS / "fhir" / "packages" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the MedCom packages are not available")
    return read_package(path)


def _fake_ack(version: str) -> Package:
    sd = {"resourceType": "StructureDefinition", "url": profiles.ACK_PROFILE, "version": version}
    entry = Entry("sd.json", "StructureDefinition", profiles.ACK_PROFILE, version, resource=sd)
    return Package("medcom.fhir.dk.acknowledgement", version, "", {}, (entry,))


def _validator(*packages: Package) -> ProfileValidator:
    return ProfileValidator(ProfileIndex(packages))


def test_the_acknowledgement_version_comes_from_the_claimed_message_definition() -> None:
    cc = _corpus_package("carecommunication-5.0.2.tgz")
    definitions = _corpus_package("messagedefinitions-1.0.0.tgz")
    found = _validator(cc, definitions, _fake_ack("2.0.1"), _fake_ack("2.0.4"), _fake_ack("3.0.0"))
    # CareCommunication 5.0 allows Acknowledgement 2.0: the newest installed 2.0.x, not 3.0.0
    assert profiles.response_context(found, (CC_502,), profiles.ACK_PROFILE) == (
        "medcom.fhir.dk.acknowledgement",
        "2.0.4",
    )
    # a version the SUT claims for the acknowledgement itself wins
    claimed = (CC_502, "medcom.fhir.dk.acknowledgement#2.0.1")
    assert profiles.response_context(found, claimed, profiles.ACK_PROFILE) == (
        "medcom.fhir.dk.acknowledgement",
        "2.0.1",
    )
    # nothing claimed: the package defining the profile decides (the validator's choice)
    assert profiles.response_context(found, (), profiles.ACK_PROFILE) is None


def test_a_missing_acknowledgement_version_is_a_named_gap_never_another_version() -> None:
    cc = _corpus_package("carecommunication-5.0.2.tgz")
    definitions = _corpus_package("messagedefinitions-1.0.0.tgz")
    found = _validator(cc, definitions, _fake_ack("3.0.0"))
    note = profiles.response_context(found, (CC_502,), profiles.ACK_PROFILE)
    assert isinstance(note, str) and note.startswith("not run: pack missing")
    assert "medcom.fhir.dk.acknowledgement 2.0.x" in note and "installed: 3.0.0" in note
    assert "MedComCareCommunicationMessageDefinition" in note
    claimed = profiles.response_context(
        found, (CC_502, "medcom.fhir.dk.acknowledgement#2.0.3"), profiles.ACK_PROFILE
    )
    assert isinstance(claimed, str) and "2.0.3, the version the SUT claims" in claimed


def test_without_a_message_definition_the_acknowledgement_version_is_unknown() -> None:
    cc = _corpus_package("carecommunication-5.0.2.tgz")  # its messagedefinitions not installed
    found = _validator(cc, _fake_ack("2.0.3"))
    note = profiles.response_context(found, (CC_502,), profiles.ACK_PROFILE)
    assert isinstance(note, str) and "acknowledgement version is unknown" in note
    assert "medcom.fhir.dk.acknowledgement#VERSION" in note


# -- inside the checks, with the dev packs -----------------------------------------------------


def test_the_ack_check_validates_the_acknowledgement_profile(
    packs: None, answers: dict[str, Exchange]
) -> None:
    for which in ("ok", "fatal"):
        code = "ok" if which == "ok" else "fatal-error"
        found = _check("ack", answers[which], code=code)
        assert _blocking(found) == []
        contexts = [f.message for f in found if f.rule_id == "FHIR-CONTEXT"]
        assert contexts and f"{ACK_502[0]}#{ACK_502[1]}" in contexts[0]
        # the validator's warnings (Provenance.activity outside an extensible binding) are
        # remarks under their own rule id, and do not fail the step
        remarks = [f for f in found if f.rule_id == "FHIR-WARNING"]
        assert remarks and all(f.severity is Severity.OK for f in remarks)
        assert any(f.message.startswith("FHIR-BINDING: ") for f in remarks)
    ack = json.loads(answers["ok"].response_body)
    broken = copy.deepcopy(ack)
    del broken["entry"][0]["resource"]["destination"][0]["extension"]
    del broken["timestamp"]
    found = _check("ack", _with_body(answers["ok"], broken), code="ok")
    messages = _blocking(found)
    assert any("destination.extension" in m for m in messages), messages
    assert any("Bundle.timestamp" in m for m in messages), messages
    # kcert's own acknowledgement rules are quiet on it: only the profile sees these
    assert not [m for m in messages if m.startswith("ACK-")]


def test_fhir_resource_validates_the_declared_profile(
    packs: None, answers: dict[str, Exchange]
) -> None:
    assert _blocking(_check("fhir-resource", answers["ok"], type="Bundle")) == []
    broken = json.loads(answers["ok"].response_body)
    del broken["timestamp"]
    found = _check("fhir-resource", _with_body(answers["ok"], broken), type="Bundle")
    assert any("Bundle.timestamp" in m for m in _blocking(found))


def test_operation_outcome_is_validated_against_the_base_definitions(
    packs: None, answers: dict[str, Exchange]
) -> None:
    refusal = answers["refusal"]
    found = _check("operation-outcome", refusal)
    assert _blocking(found) == []
    assert any("hl7.fhir.r4.core#4.0.1" in f.message for f in found if f.rule_id == "FHIR-CONTEXT")
    outcome = json.loads(refusal.response_body)
    outcome["issue"][0]["code"] = "no-such-issue-type"
    found = _check("operation-outcome", _with_body(refusal, outcome))
    assert any("no-such-issue-type" in m for m in _blocking(found)), _blocking(found)


def test_without_the_acknowledgement_package_the_profile_check_is_a_named_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: dict[str, Exchange]
) -> None:
    from harness.packs.store import PackStore

    store = PackStore(tmp_path / "packs")
    store.install(CORPUS / "fhir" / "packages" / "messaging-4.0.2.tgz")
    monkeypatch.setenv("KCERT_PACKS", str(store.root))
    profiles.clear_cache()
    try:
        found = _check("ack", answers["ok"], code="ok")
    finally:
        profiles.clear_cache()
    notes = [f.message for f in found if f.rule_id == "PACK-MISSING"]
    assert any(f"no installed FHIR package defines {profiles.ACK_PROFILE}" in n for n in notes)
    # the base definitions (and the entries' own declared profiles) are still judged
    assert [f for f in found if f.rule_id == "FHIR-CONTEXT"]


# -- every step that receives something from the SUT validates it --------------------------

# action (and, for trigger-send, its kind) -> the checks that judge what the SUT produced in
# that step against the official profiles or schemas: one of them, or (a tuple) all of them
VALIDATED_BY: dict[str, set[str] | tuple[str, ...]] = {
    "send-message": {"ack"},
    "resend": {"ack"},
    "send-raw": {"operation-outcome", "ack", "fhir-resource"},
    "trigger-send:carecommunication": {"sent-carecommunication"},
    "trigger-send:referral": {"sent-referral"},
    "trigger-retry": {"resent"},
    "share-plan": ("cpd-schema", "cpd-schematron"),
}


def test_every_step_that_receives_sut_output_validates_it(protocols: list[Any]) -> None:
    """What the SUT answers or sends in a step is judged against the official profiles there
    (a new protocol step that forgets it fails here, naming the step)."""
    missing = []
    for protocol in protocols:
        for case in protocol.cases:
            for step in case.steps:
                if step.action is None:
                    continue
                key = step.action.kind
                if key == "trigger-send":
                    key += ":" + str(step.action.params.get("kind"))
                wanted = VALIDATED_BY.get(key)
                kinds = {e.kind for e in step.expectations}
                if wanted is None:
                    continue
                ok = set(wanted) <= kinds if isinstance(wanted, tuple) else bool(wanted & kinds)
                if not ok:
                    missing.append(f"{step.source}: {key} without {', '.join(sorted(wanted))}")
    assert missing == []


def test_the_answered_message_s_claim_decides_among_several() -> None:
    """Two claimed message standards allowing different acknowledgement versions: the one of
    the message being answered decides."""
    cc = _corpus_package("carecommunication-5.0.2.tgz")
    definitions = _corpus_package("messagedefinitions-1.0.0.tgz")
    header = {
        "resourceType": "StructureDefinition",
        "url": "http://example.org/StructureDefinition/other-header",
        "type": "MessageHeader",
        "snapshot": {"element": [{"path": "MessageHeader.event[x].code", "patternCode": "x"}]},
    }
    definition = {
        "resourceType": "MessageDefinition",
        "url": "http://example.org/MessageDefinition/x",
        "version": "1.0",
        "eventCoding": {"code": "x"},
        "allowedResponse": [{"message": "http://example.org/MessageDefinition/ack|3.0"}],
    }
    ack_definition = {
        "resourceType": "MessageDefinition",
        "url": "http://example.org/MessageDefinition/ack",
        "version": "3.0",
        "eventCoding": {"code": profiles.ACK_EVENT},
    }
    other = Package(
        "example.other",
        "1.0.0",
        "http://example.org",
        {},
        tuple(
            Entry(
                f"{n}.json",
                r["resourceType"],
                r["url"],
                str(r.get("version", "")),
                resource=r,
            )
            for n, r in enumerate((header, definition, ack_definition))
        ),
    )
    found = _validator(cc, definitions, other, _fake_ack("2.0.3"), _fake_ack("3.0.1"))
    claims = ("example.other#1.0.0", CC_502)
    ack = profiles.ACK_PROFILE
    assert profiles.response_context(found, claims, ack, "care-communication-message") == (
        "medcom.fhir.dk.acknowledgement",
        "2.0.3",
    )
    assert profiles.response_context(found, claims, ack, "x") == (
        "medcom.fhir.dk.acknowledgement",
        "3.0.1",
    )


@pytest.mark.parametrize(
    "meta", ["a string", ["a", "list"], {"profile": "not a list"}, {"profile": [1, None]}]
)
def test_a_hostile_meta_is_a_finding_never_a_crash(
    packs: None, answers: dict[str, Exchange], meta: Any
) -> None:
    ack = json.loads(answers["ok"].response_body)
    ack["meta"] = meta
    exchange = _with_body(answers["ok"], ack)
    for name, params in (("ack", {"code": "ok"}), ("fhir-resource", {})):
        found = _check(name, exchange, **params)
        assert _blocking(found), (name, meta)  # the structure or the profile says so
    found = list(
        profiles.validate(
            _ctx(exchange, (CC_502,)),
            exchange,
            exchange.response_body,
            "application/fhir+json",
            "hostile",
        )
    )
    assert [f for f in found if f.rule_id == "FHIR-CONTEXT"]
