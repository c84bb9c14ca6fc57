"""The connectathon executor: a test instance runs as a normal kcert run against the real
reference LPS, with its own synthetic patient, kcert's requests carrying the instance and
step ids, its simulated roles on the ports and URLs the routes give, its results as
instance steps, outcome and automatic grade.

The connectathon store is the real one (SQLite here), in the run store's database as in a
session: one URL for both.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.connectathon.execute import Routes, instance_plan, routed, run_instance
from harness.connectathon.model import (
    INSTANCE_HEADER,
    SIMULATED,
    STEP_HEADER,
    Binding,
    System,
    TestInstance,
)
from harness.connectathon.patients import patient_for
from harness.connectathon.scenario.load import find_scenario, load_scenarios
from harness.connectathon.store import ConnectathonStore
from harness.dossier.signing import generate_keys, sign, verify
from harness.runner.engine import RunOptions
from harness.store.history import diff_runs
from harness.store.runstore import RunStore
from harness.sut.reference import free_port, running_reference
from harness.synthetic import is_synthetic_cpr


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.sqlite'}"


def _store(
    tmp_path: Path,
    registration: dict[str, Any],
    scenario_id: str,
    iid: str = "i-1",
    root: Path | None = None,
) -> ConnectathonStore:
    """A session with one registered LPS and one instance of `scenario_id` (kcert playing
    every role it may)."""
    store = ConnectathonStore(_url(tmp_path))
    session = store.create_session("Test", "2027-03-01", "2027-03-02", [scenario_id])
    system = System("vendor-a", session.session_id, "A", "LPS", "1", ("lps",), registration)
    store.register_system(system)
    scenario = find_scenario(scenario_id, root)
    bindings = tuple(
        Binding(r.name, SIMULATED if r.simulated else "vendor-a") for r in scenario.roles
    )
    store.add_instances([TestInstance(iid, session.session_id, scenario_id, bindings)])
    return store


def _run(
    tmp_path: Path, store: ConnectathonStore, iid: str = "i-1", routes: Routes | None = None
) -> TestInstance:
    return run_instance(
        store, iid, reports=tmp_path / "reports", store_url=_url(tmp_path), routes=routes
    )


# -- patients ------------------------------------------------------------------------------------


def test_each_instance_has_its_own_synthetic_patient() -> None:
    patients = [patient_for(f"s1-cx-{n}") for n in range(200)]
    assert len({p["cpr"] for p in patients}) == 200
    assert patient_for("s1-cx-7") == patients[7]  # the same id, the same person
    for patient in patients:
        assert is_synthetic_cpr(patient["cpr"])
        assert set(patient) == {"cpr", "given", "family", "birth_date", "gender"}
        day, month, year = (
            patient["birth_date"][8:],
            patient["birth_date"][5:7],
            patient["birth_date"][2:4],
        )
        assert patient["cpr"][:6] == day + month + year
        assert int(patient["cpr"][-1]) % 2 == (1 if patient["gender"] == "male" else 0)


# -- the plan ------------------------------------------------------------------------------------


def test_a_route_moves_the_agent_and_the_endpoints_on_its_origin() -> None:
    configuration: dict[str, Any] = {
        "name": "x",
        "endpoints": {
            "agent": "http://127.0.0.1:5001/kcert-agent/v1",
            "fhir": "http://127.0.0.1:5001/fhir",
            "other": "https://elsewhere.example:443/x",
        },
    }
    moved = routed(configuration, "http://127.0.0.1:6001/kcert-agent/v1")
    assert moved["endpoints"] == {
        "agent": "http://127.0.0.1:6001/kcert-agent/v1",
        "fhir": "http://127.0.0.1:6001/fhir",
        "other": "https://elsewhere.example:443/x",
    }
    assert configuration["endpoints"]["agent"].endswith(":5001/kcert-agent/v1")  # untouched


def test_the_plan_carries_ids_in_headers_the_patient_and_a_peer_per_role(tmp_path: Path) -> None:
    store = _store(tmp_path, {"sut": "reference"}, "cx-careplan-view")
    instance = store.instance("i-1")
    instance.patient = patient_for("i-1")
    scenario = find_scenario("cx-careplan-view")
    routes = Routes(
        peer_ports={"document-repository": 41001, "viewer": 41002},
        peer_urls={"document-repository": "http://127.0.0.1:42001/"},
    )
    plan = instance_plan(store, instance, scenario, routes)
    assert plan.protocols == [scenario.protocol] and plan.choice.reference
    assert isinstance(plan.options, RunOptions)
    assert {p["cpr"] for p in plan.options.persons.values()} == {instance.patient["cpr"]}
    assert plan.step_settings is not None
    case = scenario.protocol.cases[0]
    by_id = {s.id: s for s in case.steps}
    share = plan.step_settings(scenario.protocol, case, by_id["share"])
    assert share.headers == {INSTANCE_HEADER: "i-1", STEP_HEADER: "share"}
    assert share.peer is not None
    assert (share.peer.port, share.peer.advertise) == (41001, "http://127.0.0.1:42001")
    # kcert prepares the LPS itself: no peer; the viewer fetches from the repository: its peer
    population = plan.step_settings(scenario.protocol, case, by_id["population"])
    assert population.peer is None and population.headers[STEP_HEADER] == "population"
    fetch = plan.step_settings(scenario.protocol, case, by_id["fetch"])
    assert fetch.peer == share.peer


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("unbound", "role 'viewer' of cx-careplan-view is not bound"),
        ("kcert-lps", "role 'lps' must be played by a registered system"),
        ("system-repository", "role 'document-repository' is played by kcert only"),
        ("unregistered", "system 'vendor-z' is not registered"),
    ],
)
def test_an_instance_bound_wrongly_errs_with_its_reason(
    tmp_path: Path, change: str, reason: str
) -> None:
    store = _store(tmp_path, {"sut": "reference"}, "cx-careplan-view")
    instance = store.instance("i-1")
    bindings = {b.role: b.system_id for b in instance.bindings}
    if change == "unbound":
        del bindings["viewer"]
    elif change == "kcert-lps":
        bindings["lps"] = SIMULATED
    elif change == "system-repository":
        bindings["document-repository"] = "vendor-a"
    else:
        bindings["lps"] = "vendor-z"
    instance.bindings = tuple(Binding(r, s) for r, s in bindings.items())
    store.update_instance(instance)
    done = _run(tmp_path, store)
    assert (done.status, done.outcome, done.grade) == ("error", "error", "waiting")
    assert reason in done.reason
    assert done.run_id == "" and done.patient and done.finished
    (grade,) = store.grades("i-1")
    assert (grade.kind, grade.by, grade.grade) == ("auto", "kcert", "waiting")
    assert reason in grade.comment
    assert all(s.outcome == "not-run" for s in store.steps("i-1"))


def test_a_bad_registration_errs_naming_the_field(tmp_path: Path) -> None:
    store = _store(
        tmp_path, {"sut": "reference", "defects": ["no-such-defect"]}, "cx-referral-receipt"
    )
    done = _run(tmp_path, store)
    assert done.status == "error" and "defects" in done.reason and "no-such-defect" in done.reason


def test_an_unreachable_sut_errs_and_never_fails(tmp_path: Path) -> None:
    port = free_port()  # nobody listens there
    registration = {
        "configuration": {
            "name": "gone",
            "vendor": "A",
            "version": "1",
            "endpoints": {
                "agent": f"http://127.0.0.1:{port}/kcert-agent/v1",
                "fhir": f"http://127.0.0.1:{port}/fhir",
            },
            "identity": {"sor": "999991000016008", "gln": "5790000999996", "name": "Gone"},
            "timeouts": {"connect": 1, "read": 2},
        }
    }
    store = _store(tmp_path, registration, "cx-referral-receipt")
    done = _run(tmp_path, store)
    assert (done.status, done.outcome, done.grade) == ("error", "error", "waiting")
    assert "unreachable" in done.reason
    assert done.run_id  # the run is in the run store, with its error
    assert RunStore(_url(tmp_path)).run(done.run_id).run_id == done.run_id


# -- against the reference LPS -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", [s.scenario_id for s in load_scenarios()])
def test_the_clean_reference_lps_passes_every_scenario(tmp_path: Path, scenario_id: str) -> None:
    store = _store(tmp_path, {"sut": "reference"}, scenario_id)
    done = _run(tmp_path, store)
    steps = store.steps("i-1")
    assert (done.status, done.outcome, done.grade, done.reason) == (
        "done",
        "passed",
        "verified",
        "",
    ), [(s.step_id, s.outcome, s.findings) for s in steps]
    scenario = find_scenario(scenario_id)
    assert [s.step_id for s in steps] == ["0", *(s.step_id for s in scenario.steps)]
    assert all(s.outcome == "passed" and s.started and s.finished for s in steps[1:])
    assert [(s.sender, s.receiver) for s in steps[1:]] == [
        (s.sender, s.receiver) for s in scenario.steps
    ]
    # a normal kcert run: in the run store, finished, its report folder written
    row = RunStore(_url(tmp_path)).run(done.run_id)
    assert row.status == "finished" and Path(row.run_dir).is_dir()
    (grade,) = store.grades("i-1")
    assert (grade.grade, grade.kind, grade.by) == ("verified", "auto", "kcert")


CATCHES = [(s.scenario_id, d) for s in load_scenarios() for d in s.catches]


@pytest.mark.slow
@pytest.mark.parametrize(("scenario_id", "defect"), CATCHES)
def test_each_caught_defect_fails_its_scenario_with_a_finding(
    tmp_path: Path, scenario_id: str, defect: str
) -> None:
    store = _store(tmp_path, {"sut": "reference", "defects": [defect]}, scenario_id)
    done = _run(tmp_path, store)
    assert (done.status, done.outcome, done.grade) == ("done", "failed", "failed"), done.reason
    failed = [s for s in store.steps("i-1") if s.outcome == "failed"]
    assert failed and all(any(f["severity"] != "OK" for f in s.findings) for s in failed)
    assert done.reason.startswith("failed at step")
    assert store.grades("i-1")[-1].grade == "failed"


# -- routes: the proxy's place -------------------------------------------------------------------


@dataclass
class Forwarder:
    """A loopback HTTP forwarder standing where the recording proxy would: what passes is
    kept (method, path, headers)."""

    target: str
    url: str = ""
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def forwarding(target: str) -> Iterator[Forwarder]:
    box = Forwarder(target)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            box.seen.append((self.command, self.path, headers))
            with requests.Session() as session:
                session.trust_env = False
                answer = session.request(
                    self.command, box.target + self.path, data=body, headers=headers, timeout=30
                )
            self.send_response(answer.status_code)
            if "Content-Type" in answer.headers:
                self.send_header("Content-Type", answer.headers["Content-Type"])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_routes_put_the_sut_and_the_simulated_role_behind_their_urls(tmp_path: Path) -> None:
    """The SUT reached through its route, every request kcert makes with the instance and
    step ids; the municipality bound on its port and advertised at another forwarder's URL,
    which is where the SUT then sends."""
    peer_port = free_port()
    with (
        running_reference() as config,
        forwarding(config.endpoints["agent"].removesuffix("/kcert-agent/v1")) as to_sut,
        forwarding(f"http://127.0.0.1:{peer_port}") as to_peer,
    ):
        registration = {
            "configuration": {
                "name": "routed",
                "vendor": "A",
                "version": "1",
                "endpoints": dict(config.endpoints),
                "identity": {"sor": config.sor, "gln": config.gln, "name": config.org_name},
            }
        }
        store = _store(tmp_path, registration, "cx-carecommunication-roundtrip")
        routes = Routes(
            sut_urls={"vendor-a": f"{to_sut.url}/kcert-agent/v1"},
            peer_ports={"municipality": peer_port},
            peer_urls={"municipality": to_peer.url},
        )
        done = _run(tmp_path, store, routes=routes)
    assert (done.outcome, done.grade) == ("passed", "verified"), done.reason
    paths = {path.split("?")[0] for _, path, _ in to_sut.seen}
    assert {
        "/kcert-agent/v1/reset",
        "/kcert-agent/v1/outbox/send",
        "/fhir/$process-message",
    } <= paths
    steps = [h for _, path, h in to_sut.seen if not path.endswith("/health")]
    assert steps and all(h.get(INSTANCE_HEADER) == "i-1" for h in steps)
    assert {h.get(STEP_HEADER) for h in steps} == {"0", "send", "ack-in", "reply", "kept"}
    # the SUT's own message went to the advertised URL, and on to kcert's peer
    assert [(m, p) for m, p, _ in to_peer.seen] == [("POST", "/fhir/$process-message")]


# -- a normal kcert run --------------------------------------------------------------------------


@pytest.mark.slow
def test_an_instance_run_is_listed_diffed_and_verified_like_any_run(tmp_path: Path) -> None:
    clean = _store(tmp_path, {"sut": "reference"}, "cx-referral-receipt", "i-clean")
    first = _run(tmp_path, clean, "i-clean")
    broken = _store(
        tmp_path, {"sut": "reference", "defects": ["referral-bad-gln"]}, "cx-referral-receipt"
    )
    second = _run(tmp_path, broken)
    runs = RunStore(_url(tmp_path))
    assert {first.run_id, second.run_id} <= {r.run_id for r in runs.runs()}
    change = diff_runs(runs, first.run_id, second.run_id)
    assert [c.case_id for c in change.new_failures] == ["cx-referral-receipt"]
    run_dir = Path(runs.run(first.run_id).run_dir)
    private, public = generate_keys(tmp_path / "keys")
    sign(run_dir, private, "monitor")
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public.read_bytes())
    checked = verify(run_dir, key)  # type: ignore[arg-type]
    assert checked.ok, checked


# -- a MedCom TestScript as a scenario (skipped without the corpus) -----------------------------


@pytest.mark.slow
def test_a_testscript_scenario_runs_case_by_case_as_an_instance(
    corpus: Path, tmp_path: Path
) -> None:
    from harness.testscript.corpusmap import main as corpusmap

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    testscripts = corpus / "fhir" / "testscripts"
    for name in (
        "acknowledgementtestscript-2.0.0/TestScript-acknowledgement-receive-ok.json",
        "carecommunicationtestscripts-5.0.0/TestScript-carecommunication-send-new-message.json",
    ):
        shutil.copy(testscripts / name, scripts)
    assert corpusmap([str(corpus), str(scripts)]) == 0  # writes scripts/fixtures-map.yaml
    registration = {"sut": "reference", "transport": "inprocess"}
    outcomes = {}
    for n, scenario_id in enumerate(
        ("acknowledgement-receive-ok", "carecommunication-send-new-message")
    ):
        scenario = find_scenario(scenario_id, scripts)
        store = _store(tmp_path, registration, scenario_id, f"i-{n}", scripts)
        done = run_instance(
            store,
            f"i-{n}",
            reports=tmp_path / "reports",
            store_url=_url(tmp_path),
            scenarios=scripts,
        )
        steps = store.steps(f"i-{n}")
        assert [s.step_id for s in steps] == [s.step_id for s in scenario.steps]
        outcomes[scenario_id] = (done.outcome, done.grade, done.reason, steps)
    outcome, grade, _, steps = outcomes["acknowledgement-receive-ok"]
    assert (outcome, grade) == ("passed", "verified")
    assert [(s.step_id, s.outcome) for s in steps] == [
        ("setup", "passed"),
        ("message-read-ok-01", "passed"),
    ]
    # validateProfileId without MedCom's FHIR package installed: kcert cannot judge, an error
    outcome, grade, reason, steps = outcomes["carecommunication-send-new-message"]
    assert (outcome, grade) == ("error", "waiting") and "pack missing" in reason


def _urls(run_dir: Path) -> list[str]:
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    return [
        exchange["url"]
        for case in results["protocols"][0]["cases"]
        for step in case["steps"]
        for exchange in step["exchanges"]
    ]


@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", ["cx-careplan-view", "cx-referral-receipt"])
def test_two_instances_of_one_scenario_share_no_patient(tmp_path: Path, scenario_id: str) -> None:
    """Named persons become the instance's own; a generated population is the instance's
    own too (its seed from the instance id): two instances never write about one person."""
    registration = {"sut": "reference", "transport": "inprocess"}
    first = _store(tmp_path, registration, scenario_id, "i-a")
    _store(tmp_path, registration, scenario_id, "i-b")
    cprs = []
    for iid in ("i-a", "i-b"):
        done = _run(tmp_path, first, iid)
        assert done.outcome == "passed", done.reason
        row = RunStore(_url(tmp_path)).run(done.run_id)
        text = "\n".join(_urls(Path(row.run_dir)))
        bodies = b"".join(p.read_bytes() for p in (Path(row.run_dir) / "evidence").iterdir())
        if scenario_id == "cx-referral-receipt":
            assert done.patient["cpr"].encode() in bodies  # the referral is about it
            cprs.append(done.patient["cpr"])
        else:
            (share,) = [u for u in text.splitlines() if u.endswith("/plan/share")]
            cprs.append(share.split("/patients/")[1].split("/")[0])
    assert cprs[0] != cprs[1] and all(is_synthetic_cpr(c) for c in cprs)


@pytest.mark.slow
def test_the_viewer_fetches_the_shared_plan_through_the_repositorys_url(tmp_path: Path) -> None:
    """The SUT shares to the repository's advertised URL, and kcert's viewer fetches from the
    same URL with the instance's and the fetch step's ids: both pass where a proxy would."""
    peer_port = free_port()
    with forwarding(f"http://127.0.0.1:{peer_port}") as to_repository:
        store = _store(tmp_path, {"sut": "reference"}, "cx-careplan-view")
        routes = Routes(
            peer_ports={"document-repository": peer_port},
            peer_urls={"document-repository": to_repository.url},
        )
        done = _run(tmp_path, store, routes=routes)
    assert (done.outcome, done.grade) == ("passed", "verified"), done.reason
    seen = [(method, path.rsplit("/", 1)[0], h) for method, path, h in to_repository.seen]
    assert [(m, p) for m, p, _ in seen] == [
        ("POST", "/kcert-repository/v1"),  # the SUT's provide and register
        ("GET", "/kcert-repository/v1/documents"),  # the viewer's fetch of that document
    ]
    fetch = seen[1][2]
    assert (fetch.get(INSTANCE_HEADER), fetch.get(STEP_HEADER)) == ("i-1", "fetch")
    (step,) = [s for s in store.steps("i-1") if s.step_id == "fetch"]
    assert (step.sender, step.receiver, step.outcome) == ("viewer", "document-repository", "passed")


@pytest.mark.slow
def test_nothing_shared_leaves_the_fetch_not_evaluated(tmp_path: Path) -> None:
    """A plan the SUT never delivered fails the share step once; the viewer's fetch builds
    on it and is not evaluated, not failed a second time."""
    peer_port = free_port()  # advertised where nobody listens: the SUT's delivery fails
    store = _store(tmp_path, {"sut": "reference"}, "cx-careplan-view")
    routes = Routes(
        peer_ports={"document-repository": free_port()},
        peer_urls={"document-repository": f"http://127.0.0.1:{peer_port}"},
    )
    done = _run(tmp_path, store, routes=routes)
    steps = {s.step_id: s for s in store.steps("i-1")}
    assert (done.outcome, done.grade) == ("failed", "failed"), done.reason
    assert steps["share"].outcome == "failed"
    assert steps["fetch"].outcome == "not-run"
    assert [f["rule"] for f in steps["fetch"].findings] == ["NOT-EVALUATED"]


@pytest.mark.slow
def test_a_scenario_outside_the_systems_declared_scope_is_not_run(tmp_path: Path) -> None:
    """An LPS that declares only CareCommunication: the referral scenario is not in its scope
    (waiting, with the reason), never failed."""
    with running_reference(only="carecommunication", declare=True) as config:
        registration = {
            "configuration": {
                "name": "cc only",
                "vendor": "A",
                "version": "1",
                "endpoints": dict(config.endpoints),
                "identity": {"sor": config.sor, "gln": config.gln, "name": config.org_name},
            }
        }
        store = _store(tmp_path, registration, "cx-referral-receipt")
        done = _run(tmp_path, store)
    assert (done.status, done.outcome, done.grade) == ("done", "not-run", "waiting")
    assert "scope" in done.reason and "REF01" in done.reason


def test_a_run_that_never_starts_leaves_no_run_id(tmp_path: Path) -> None:
    """kcert's peer cannot bind where the registration says (the port is taken): the SUT
    cannot be set up, the instance errs with why, and names no run."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        registration = {
            "configuration": {
                "name": "x",
                "vendor": "A",
                "version": "1",
                "endpoints": {
                    "agent": "http://127.0.0.1:9/kcert-agent/v1",
                    "fhir": "http://127.0.0.1:9/fhir",
                },
                "identity": {"sor": "999991000016008", "gln": "5790000999996", "name": "X"},
                "peer": {"bind": f"127.0.0.1:{port}", "advertise": f"http://127.0.0.1:{port}"},
            }
        }
        store = _store(tmp_path, registration, "cx-referral-receipt")
        done = _run(tmp_path, store)
    assert (done.status, done.outcome, done.grade, done.run_id) == ("error", "error", "waiting", "")
    assert "cannot listen" in done.reason
