"""MedCom HospitalNotification receive: the standard's checks (each rule fires and stays quiet),
the template's linking of one stay's notifications, the reference LPS's handling of a stay
(order by event time, cancellations, corrections, relevance, negative acknowledgements) and
the protocol against the reference LPS, with and without MedCom's packs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from harness.checks import CHECKS, CheckContext, profiles
from harness.checks.registry import NotEvaluated, Sent, StepRecord
from harness.fixtures import REPO_ROOT, TemplateRenderer, load_peers, load_persons
from harness.loader.protocols import load_all
from harness.model.exchange import Exchange
from harness.model.outcome import Outcome, Severity, Verdict
from harness.model.protocol import Protocol
from harness.reflps import hospitalnotification as reflps_hn
from harness.reflps.app import create_app
from harness.reflps.defects import CATALOGUE
from harness.reflps.identity import REFERENCE_CLINIC
from harness.standards import STANDARDS
from harness.standards.hospitalnotification import RECEIVER_ROLE
from harness.standards.hospitalnotification.checks import MESSAGE_PROFILE
from harness.tests.conftest import run_reference

TEMPLATE = "messages/hospitalnotification.json.j2"
PROTOCOL = REPO_ROOT / "testcases" / "hospitalnotification-receive.yaml"
HOSPITAL = load_peers()["sygehus"]
PERSON = load_persons()["kol-karen"]
SUT = {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln, "name": REFERENCE_CLINIC.name}
JSON_CT = {"Content-Type": "application/fhir+json"}
AGENT = "/kcert-agent/v1"
UNLISTED = "1507509968"


class Hospital:
    """kcert's side of a case in miniature: renders notifications step by step (later ones
    building on earlier ones, as send-message does) and sends them to a reference LPS."""

    def __init__(self, defects: tuple[str, ...] = (), only: str = "all") -> None:
        self.client = TestClient(create_app(list(defects), only=only))
        self.renderer = TemplateRenderer()
        self.steps: dict[str, dict[str, Any]] = {}
        self.sent: dict[str, Sent] = {}

    def render(self, step: int, person: dict[str, str] = PERSON, **variables: Any) -> Sent:
        rendered = self.renderer.render(
            TEMPLATE,
            {
                "patient": person,
                "peer": HOSPITAL,
                "sut": SUT,
                "vars": variables,
                "steps": self.steps,
            },
        )
        self.steps[str(step)] = {"ids": rendered.ids, "resource": rendered.resource}
        body = json.dumps(rendered.resource).encode()
        sent = Sent(rendered.resource, rendered.ids, "json", body, "application/fhir+json")
        self.sent[str(step)] = sent
        return sent

    def send(self, step: int, **variables: Any) -> dict[str, Any]:
        sent = self.render(step, **variables)
        answer = self.client.post("/fhir/$process-message", content=sent.body, headers=JSON_CT)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def stays(self, cpr: str = "") -> list[dict[str, Any]]:
        query = f"?patientCpr={cpr}" if cpr else ""
        return list(self.client.get(f"{AGENT}/hospital-stays{query}").json()["stays"])

    def stay_of(self, step: int) -> dict[str, Any]:
        episode = self.episode(step)
        return next(s for s in self.stays() if s["episodeOfCare"] == episode)

    def episode(self, step: int) -> str:
        encounter = resource(self.sent[str(step)].resource, "Encounter")
        return str(encounter["episodeOfCare"][0]["identifier"]["value"])


def resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def ack_code(ack: dict[str, Any]) -> str:
    return str(ack["entry"][0]["resource"]["response"]["code"])


def issues(ack: dict[str, Any]) -> list[str]:
    return [
        f"{i['expression'][0]}: {i['details']['text']}"
        for o in of_type(ack, "OperationOutcome")
        for i in o["issue"]
    ]


# -- the template: one stay's notifications refer to what was really sent ----------------------


def test_a_later_notification_carries_the_stay_and_its_history() -> None:
    hospital = Hospital()
    first = hospital.render(1, occurred="2026-11-16T08:00:00+01:00")
    later = hospital.render(
        2, activity="start-leave-inpatient", after=1, occurred="2026-11-17T10:00:00+01:00"
    )
    assert hospital.episode(2) == hospital.episode(1)
    assert resource(later.resource, "Encounter")["period"]["start"] == "2026-11-16T08:00:00+01:00"
    assert resource(later.resource, "Encounter")["status"] == "onleave"
    provenances = of_type(later.resource, "Provenance")
    first_own = of_type(first.resource, "Provenance")[0]
    assert provenances[0] == first_own  # the history, as it was sent
    own = provenances[-1]
    assert own["target"] == [{"reference": f"MessageHeader/{later.header_id}"}]
    assert own["entity"] == [
        {"role": "revision", "what": {"reference": f"Provenance/{first_own['id']}"}}
    ]
    cancel = hospital.render(3, activity="cancel-start-leave-inpatient", after=2)
    assert of_type(cancel.resource, "Provenance")[-1]["entity"][0]["role"] == "removal"
    assert len(of_type(cancel.resource, "Provenance")) == 3


class _Recording:
    """A transport that keeps what send-message posted and answers 200 with nothing."""

    name = "recording"

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        self.bodies.append(body)
        return Exchange(method, path, headers or {}, body, 200)

    def close(self) -> None:
        pass


def test_send_message_gives_the_template_what_earlier_steps_sent() -> None:
    from harness.runner.actions import ActionContext, send_message
    from harness.sut.reference import reference_config

    ctx = ActionContext(
        _Recording(),
        reference_config("http://reference.invalid", (), "inprocess"),
        TemplateRenderer(),
        load_persons(),
        load_peers(),
        {},
    )
    params = {"template": TEMPLATE, "peer": "sygehus"}
    first = send_message(ctx, **params, vars={"occurred": "2026-11-16T08:00:00+01:00"})
    assert first.sent is not None
    ctx.earlier["1"] = StepRecord(first.exchange, first.sent)
    second = send_message(ctx, **params, vars={"activity": "cancel-admit-inpatient", "after": 1})
    assert second.sent is not None
    own = of_type(second.sent.resource, "Provenance")[-1]
    first_own = of_type(first.sent.resource, "Provenance")[0]
    assert own["entity"][0]["what"] == {"reference": f"Provenance/{first_own['id']}"}
    encounters = [resource(s.resource, "Encounter") for s in (first.sent, second.sent)]
    assert encounters[0]["episodeOfCare"] == encounters[1]["episodeOfCare"]


def test_the_template_reads_as_fhir_xml_too() -> None:
    from harness.fhir.resource import read_resource, to_xml

    sent = Hospital().render(1, deceased=True, end="2026-11-18T03:20:00+01:00")
    fmt, back = read_resource(to_xml(sent.resource), "application/fhir+xml")
    assert fmt == "xml" and resource(back, "Patient")["deceasedBoolean"] is True


# -- the reference LPS ------------------------------------------------------------------------


def test_admission_leave_and_discharge_make_one_stay() -> None:
    hospital = Hospital()
    assert ack_code(hospital.send(1, occurred="2026-11-16T08:00:00+01:00")) == "ok"
    assert hospital.stay_of(1)["state"] == "admitted"
    hospital.send(2, activity="start-leave-inpatient", after=1, occurred="2026-11-17T10:00:00Z")
    assert hospital.stay_of(1)["state"] == "on-leave"
    hospital.send(3, activity="end-leave-inpatient", after=2, occurred="2026-11-18T10:00:00Z")
    assert hospital.stay_of(1)["state"] == "admitted"
    hospital.send(4, activity="discharge-inpatient-home", after=3, occurred="2026-11-19T10:00:00Z")
    stay = hospital.stay_of(1)
    assert stay["state"] == "discharged" and stay["patientCpr"] == PERSON["cpr"]
    assert [n["activity"] for n in stay["notifications"]] == [
        "admit-inpatient",
        "start-leave-inpatient",
        "end-leave-inpatient",
        "discharge-inpatient-home",
    ]
    assert stay["hospital"] == HOSPITAL["name"] and stay["encounterClass"] == "IMP"
    assert len(hospital.stays()) == 1


def test_a_late_event_is_history_and_a_cancellation_takes_back_its_target() -> None:
    hospital = Hospital()
    hospital.send(1, occurred="2026-11-16T08:00:00+01:00")
    hospital.send(2, activity="discharge-inpatient-home", after=1, occurred="2026-11-19T12:00:00Z")
    hospital.send(3, activity="start-leave-inpatient", after=1, occurred="2026-11-17T10:00:00Z")
    stay = hospital.stay_of(1)
    assert stay["state"] == "discharged"
    assert [n["effect"] for n in stay["notifications"]] == ["applied", "applied", "out-of-order"]
    # taking the discharge back leaves the leave (the latest event still counting)
    hospital.send(
        4, activity="cancel-discharge-inpatient-home", after=2, occurred="2026-11-19T13:00:00Z"
    )
    stay = hospital.stay_of(1)
    assert stay["state"] == "on-leave"
    assert [n["effect"] for n in stay["notifications"]] == [
        "applied",
        "cancelled",
        "applied",
        "cancellation",
    ]


def test_a_cancellation_without_a_reference_takes_back_the_latest_of_its_activity() -> None:
    hospital = Hospital()
    hospital.send(1, occurred="2026-11-16T08:00:00+01:00")
    # same stay, but no link to the admission's Provenance: the activity names what it cancels
    hospital.send(
        2, activity="cancel-admit-inpatient", same_stay=1, occurred="2026-11-16T09:00:00Z"
    )
    assert hospital.stay_of(1)["state"] == "cancelled"


def test_a_correction_counts_in_place_of_the_original() -> None:
    hospital = Hospital()
    hospital.send(1, occurred="2026-11-16T08:00:00+01:00")
    hospital.send(2, activity="discharge-inpatient-home", after=1, occurred="2026-11-19T12:00:00Z")
    hospital.send(3, activity="revise-admit-inpatient", after=1, start="2026-11-16T07:00:00+01:00")
    stay = hospital.stay_of(1)
    # corrected after the discharge arrived, yet the patient is not admitted again
    assert stay["state"] == "discharged"
    assert [n["effect"] for n in stay["notifications"]] == ["revised", "applied", "applied"]


def test_death_is_shown_from_patient_deceased() -> None:
    hospital = Hospital()
    hospital.send(1, occurred="2026-11-16T08:00:00+01:00")
    hospital.send(2, after=1, deceased=True, occurred="2026-11-18T03:20:00+01:00")
    assert hospital.stay_of(1)["state"] == "deceased"


def test_a_citizen_not_on_the_list_is_acknowledged_but_not_loaded() -> None:
    assert RECEIVER_ROLE == reflps_hn.RECEIVER_ROLE == "general-practice"
    hospital = Hospital()
    ack = hospital.send(1, cpr=UNLISTED, occurred="2026-11-16T08:00:00+01:00")
    assert ack_code(ack) == "ok"
    assert hospital.stays() == [] and hospital.stays(UNLISTED) == []
    assert hospital.client.get(f"{AGENT}/messages").json()["total"] == 0


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"class": "AMB"}, "Encounter).class: Encounter.class AMB"),
        ({"status": "planned"}, "Encounter).status"),
        ({"include_episode": False}, "episodeOfCare.identifier"),
        ({"include_encounter": False}, "resource.focus"),
        ({"occurred": "2026-11"}, "Provenance).occurredDateTime"),
        ({"activity": "new-message"}, "ofType(Provenance).activity"),
    ],
)
def test_a_faulty_notification_gets_fatal_error_naming_the_problem(
    variables: dict[str, Any], named: str
) -> None:
    hospital = Hospital()
    ack = hospital.send(1, **variables)
    assert ack_code(ack) == "fatal-error"
    assert any(named in text for text in issues(ack)), issues(ack)
    assert hospital.stays() == []


def test_a_faulty_notification_let_in_by_a_defect_does_not_break_the_stays() -> None:
    hospital = Hospital(("no-negative-ack",))
    assert ack_code(hospital.send(1, occurred="2026-11")) == "ok"
    hospital.send(2, after=1, activity="start-leave-inpatient", occurred="2026-11-17T10:00:00Z")
    assert hospital.stay_of(1)["state"] == "on-leave"


def test_a_duplicate_is_acknowledged_again_and_kept_once() -> None:
    hospital = Hospital()
    first = hospital.send(1, occurred="2026-11-16T08:00:00+01:00")
    again = hospital.client.post(
        "/fhir/$process-message", content=hospital.sent["1"].body, headers=JSON_CT
    ).json()
    assert again == first
    assert len(hospital.stay_of(1)["notifications"]) == 1


def test_the_receiver_role_is_a_named_parameter() -> None:
    from harness.reflps.storage import Storage

    storage = Storage()
    handler = reflps_hn.HospitalNotifications(storage, REFERENCE_CLINIC, frozenset())
    assert handler.role == "general-practice"
    with pytest.raises(ValueError, match="receiver role 'municipality' is not played here"):
        reflps_hn.HospitalNotifications(storage, REFERENCE_CLINIC, frozenset(), "municipality")


def test_reset_forgets_the_stays() -> None:
    hospital = Hospital()
    hospital.send(1)
    assert hospital.client.post(f"{AGENT}/reset").status_code == 200
    assert hospital.stays() == []


def test_a_carecommunication_only_lps_does_not_receive_it() -> None:
    hospital = Hospital(only="carecommunication")
    ack = hospital.send(1)
    assert ack_code(ack) == "fatal-error"
    assert any("does not receive hospital-notification-message" in t for t in issues(ack))
    assert hospital.client.get(f"{AGENT}/hospital-stays").status_code == 404


def test_the_reference_lps_declares_and_names_what_it_has() -> None:
    client = TestClient(create_app(declare=True))
    claims = client.get(f"{AGENT}/health").json()["capabilities"]["standards"]
    assert {"standard": "HospitalNotification", "version": "", "directions": ["receive"]} in claims
    names = {name for name, _, _ in reflps_hn.DEFECTS}
    assert names <= set(CATALOGUE)
    # the judging side's catalogue entries are the same defects, each with its catching case
    entries = STANDARDS.get("HospitalNotification").defects
    assert {e.name for e in entries} == names and all(e.case.startswith("HN-R-") for e in entries)


# -- the checks -------------------------------------------------------------------------------


def stays_answer(status: int = 200, body: Any = None) -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    exchange = Exchange("GET", "http://x/kcert-agent/v1/hospital-stays", {}, b"", status, {}, raw)
    exchange.evidence["R"] = "HospitalNotification_R_T.2_A.json"
    return exchange


def check_ctx(exchange: Exchange, earlier: dict[str, StepRecord]) -> CheckContext:
    peer = {"sor": HOSPITAL["sor"], "gln": HOSPITAL["gln"]}
    return CheckContext("2", exchange, Severity.F2, None, earlier, SUT, peer, PERSON)


def problems(ctx: CheckContext, kind: str, params: dict[str, Any]) -> list[str]:
    return [f.rule_id for f in CHECKS.get(kind).func(ctx, **params) if f.is_problem]


@pytest.fixture
def admitted() -> tuple[dict[str, StepRecord], dict[str, Any]]:
    """Step 1's admission as sent and the stays answer the reference LPS gave for it."""
    hospital = Hospital()
    hospital.send(1, occurred="2026-11-16T08:00:00+01:00")
    earlier = {"1": StepRecord(None, hospital.sent["1"])}
    return earlier, {"total": 1, "stays": hospital.stays()}


def mutated(answer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(answer))
    copy["stays"][0].update(changes)
    return copy


def test_hospital_stay_is_quiet_on_the_right_stay(
    admitted: tuple[dict[str, StepRecord], dict[str, Any]],
) -> None:
    earlier, answer = admitted
    ctx = check_ctx(stays_answer(body=answer), earlier)
    params = {"of": 1, "state": "admitted", "effects": ["applied"]}
    assert problems(ctx, "hospital-stay", {**params, "start": "2026-11-16T08:00:00+01:00"}) == []
    # a stay of another episode is not this one: "not present" holds
    other = mutated(answer, episodeOfCare="urn:uuid:another-stay")
    assert (
        problems(
            check_ctx(stays_answer(body=other), earlier),
            "hospital-stay",
            {"of": 1, "present": False},
        )
        == []
    )
    # another patient's stay does not count against `patient` either
    stranger = mutated(answer, episodeOfCare="urn:uuid:another-stay", patientCpr="1208489931")
    assert (
        problems(
            check_ctx(stays_answer(body=stranger), earlier),
            "hospital-stay",
            {"of": 1, "present": False, "patient": True},
        )
        == []
    )


@pytest.mark.parametrize(
    ("rule", "change", "params"),
    [
        ("HN-STAY-MISSING", {"episodeOfCare": "urn:uuid:another-stay"}, {}),
        ("HN-STAY-SHOWN", {}, {"present": False}),
        ("HN-STAY-SHOWN", {"episodeOfCare": "urn:uuid:x"}, {"present": False, "patient": True}),
        ("HN-STAY-PATIENT", {"patientCpr": "1208489931"}, {}),
        ("HN-STAY-STATE", {"state": "discharged"}, {"state": "admitted"}),
        ("HN-STAY-HISTORY", {"notifications": []}, {"effects": ["applied"]}),
        (
            "HN-STAY-START",
            {"start": "2026-11-16T09:00:00+01:00"},
            {"start": "2026-11-16T08:00:00+01:00"},
        ),
    ],
)
def test_hospital_stay_fires(
    admitted: tuple[dict[str, StepRecord], dict[str, Any]],
    rule: str,
    change: dict[str, Any],
    params: dict[str, Any],
) -> None:
    earlier, answer = admitted
    ctx = check_ctx(stays_answer(body=mutated(answer, **change)), earlier)
    assert problems(ctx, "hospital-stay", {"of": 1, **params}) == [rule]


@pytest.mark.parametrize(
    ("status", "body", "rule"),
    [
        (404, {"detail": "Not Found"}, "SUT-OPERATION-MISSING"),
        (500, b"oops", "AGENT-HTTP"),
        (200, b"not json", "AGENT-FORMAT"),
        (200, {"stays": "none"}, "AGENT-FORMAT"),
        (200, {"stays": [{"notifications": "x"}]}, "AGENT-FORMAT"),
    ],
)
def test_hospital_stay_names_a_broken_agent_answer(
    admitted: tuple[dict[str, StepRecord], dict[str, Any]], status: int, body: Any, rule: str
) -> None:
    earlier, _ = admitted
    assert problems(check_ctx(stays_answer(status, body), earlier), "hospital-stay", {"of": 1}) == [
        rule
    ]


def test_hospital_stay_without_a_sent_notification_is_not_evaluated() -> None:
    ctx = check_ctx(stays_answer(body={"total": 0, "stays": []}), {"1": StepRecord(None, None)})
    with pytest.raises(NotEvaluated, match="step 1 sent no HospitalNotification"):
        problems(ctx, "hospital-stay", {"of": 1})


def test_hospital_stay_of_a_refused_notification_is_not_evaluated(
    admitted: tuple[dict[str, StepRecord], dict[str, Any]],
) -> None:
    from harness.model.finding import Finding, Location

    earlier, answer = admitted
    refused = Finding("ACK-HTTP", Severity.F2, "answered HTTP 500", Location("", "", None, ""), "1")
    earlier["1"].root = refused
    ctx = check_ctx(stays_answer(body=answer), earlier)
    with pytest.raises(NotEvaluated, match="step 1: ACK-HTTP answered HTTP 500") as caught:
        problems(ctx, "hospital-stay", {"of": 1})
    assert caught.value.root is refused


class _Index:
    def __init__(self, defined: set[str]) -> None:
        self.defined = defined

    def defining(self, url: str) -> set[tuple[str, str]]:
        return {("medcom.fhir.dk.hospitalnotification", "3.0.1")} if url in self.defined else set()


class _Validator:
    def __init__(self, defined: set[str]) -> None:
        self.index = _Index(defined)


def context_notes(monkeypatch: pytest.MonkeyPatch, validator: Any) -> list[str]:
    monkeypatch.setattr(profiles, "validator", lambda: validator)
    ctx = check_ctx(stays_answer(body={}), {})
    found = list(CHECKS.get("hospitalnotification-context").func(ctx))
    assert not any(f.is_problem for f in found)  # a named not-run never fails the step
    return [f.message for f in found if f.rule_id == "PACK-MISSING"]


def test_the_hospitalnotification_context_is_a_named_not_run_without_its_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert context_notes(monkeypatch, None) == [
        "not run: pack missing (fhir-package): HospitalNotification context"
    ]
    (note,) = context_notes(monkeypatch, _Validator(set()))
    assert note.startswith("HospitalNotification context: not run: pack missing")
    assert MESSAGE_PROFILE in note
    # with a package that defines the HospitalNotification message: nothing left unrun
    assert context_notes(monkeypatch, _Validator({MESSAGE_PROFILE})) == []


# -- the protocol against the reference LPS ---------------------------------------------------


@pytest.fixture(scope="module")
def protocol() -> list[Protocol]:
    loaded, errors = load_all([PROTOCOL])
    assert not errors, errors
    return loaded


def test_the_clean_reference_lps_passes_the_protocol(protocol: list[Protocol]) -> None:
    run = run_reference(protocol)
    assert run.verdict is Verdict.GODKENDT, [
        (c.case.id, [f.message for f in c.findings if f.is_problem]) for c in run.cases
    ]
    assert len(run.cases) >= 12
    first = {c.case.id: c for c in run.cases}["HN-R-01"]
    notes = [f.message for f in first.findings if f.rule_id == "PACK-MISSING"]
    assert any("MedCom acknowledgement profile validation" in n for n in notes), notes
    assert any("HospitalNotification context" in n for n in notes), notes


def test_with_medcoms_packs_the_acknowledgement_is_profile_valid(
    protocol: list[Protocol], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acknowledgement profile judges the answer; the HospitalNotification context, whose
    package the corpus lacks, stays a named not-run."""
    monkeypatch.setenv("KCERT_PACKS", str(request.getfixturevalue("dev_fhir_packs")))
    profiles.clear_cache()
    run = run_reference(protocol)
    by_id = {c.case.id: c for c in run.cases}
    for case_id in ("HN-R-01", "HN-R-08"):
        case = by_id[case_id]
        assert case.outcome is Outcome.PASS, [f.message for f in case.findings if f.is_problem]
    rules = {f.rule_id: f.message for f in by_id["HN-R-01"].findings}
    assert "acknowledgement" in rules["FHIR-CONTEXT"]
    notes = [f.message for f in by_id["HN-R-01"].findings if f.rule_id == "PACK-MISSING"]
    assert any(n.startswith("HospitalNotification context: not run") for n in notes), notes


def test_the_protocol_uses_synthetic_persons_only() -> None:
    from harness.synthetic import is_synthetic_cpr

    text = Path(PROTOCOL).read_text(encoding="utf-8")
    assert f'cpr: "{UNLISTED}"' in text and is_synthetic_cpr(UNLISTED)
    assert UNLISTED not in reflps_hn.LISTED_PATIENTS
    assert {p["cpr"] for p in load_persons().values()} <= reflps_hn.LISTED_PATIENTS


def test_the_defect_catalogue_does_not_load_the_web_layer() -> None:
    # kcert's own process reads the catalogue on every run; fastapi is the reference LPS's
    import subprocess
    import sys

    code = (
        "import sys, harness.reflps.defects as d; "
        "assert any(n.startswith('hn-') for n in d.CATALOGUE), 'no HospitalNotification defect'; "
        "print('fastapi' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
