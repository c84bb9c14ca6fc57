"""kcert connectathon run: routes through the proxy, instances one at a time, bounded."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.connectathon.model import SIMULATED, Binding, System, TestInstance
from harness.connectathon.orchestrate import (
    InstanceReport,
    RunSummary,
    direct_routes,
    endpoint_specs,
    origin,
    run_command,
    simulated_roles,
    swap_origin,
)


def _system(system_id: str, registration: dict[str, object]) -> System:
    return System(system_id, "s1", "V", "P", "1", ("lps",), registration)


def _configured(port: int) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    return {
        "configuration": {
            "name": "P",
            "vendor": "V",
            "version": "1",
            "endpoints": {"fhir": f"{base}/fhir", "agent": f"{base}/kcert-agent/v1"},
            "identity": {"sor": "999991000016008", "gln": "5790000999996"},
        }
    }


def _instance(iid: str, *bindings: tuple[str, str]) -> TestInstance:
    return TestInstance(iid, "s1", "cx", tuple(Binding(r, s) for r, s in bindings))


def test_origins_swap_keeping_the_path() -> None:
    assert origin("http://127.0.0.1:8080/kcert-agent/v1") == "http://127.0.0.1:8080"
    assert (
        swap_origin("http://127.0.0.1:8080/kcert-agent/v1", "http://127.0.0.1:9999")
        == "http://127.0.0.1:9999/kcert-agent/v1"
    )


def test_the_proxy_fronts_each_system_origin_and_each_simulated_role() -> None:
    systems = [
        _system("a", _configured(8001)),
        _system("b", _configured(8002)),
        _system("ref", {"sut": "reference"}),  # started by its instance: nothing to front
    ]
    instances = [
        _instance("i1", ("lps", "a"), ("municipality", SIMULATED)),
        _instance("i2", ("lps", "b"), ("viewer", SIMULATED), ("document-repository", SIMULATED)),
    ]
    roles = simulated_roles(instances)
    assert roles == ["document-repository", "municipality", "viewer"]
    ports = {role: 9000 + n for n, role in enumerate(roles)}
    specs, agent = endpoint_specs(systems, ports)
    targets = {s.endpoint_id: s.target_url for s in specs}
    assert targets == {
        "a:lps": "http://127.0.0.1:8001",
        "b:lps": "http://127.0.0.1:8002",
        "kcert:document-repository": "http://127.0.0.1:9000",
        "kcert:municipality": "http://127.0.0.1:9001",
        "kcert:viewer": "http://127.0.0.1:9002",
    }
    assert agent == {"a": "a:lps", "b": "b:lps"}
    routes = direct_routes(systems, ports)
    assert routes.sut_urls == {
        "a": "http://127.0.0.1:8001/kcert-agent/v1",
        "b": "http://127.0.0.1:8002/kcert-agent/v1",
    }
    assert routes.peer_urls["viewer"] == "http://127.0.0.1:9002"
    assert routes.peer_ports == ports


def test_exit_codes() -> None:
    done = InstanceReport(_instance("i1", ("lps", "a")), 1.0)
    assert RunSummary("s", [done]).exit_code() == 0
    assert RunSummary("s", [done], not_started=["i2"]).exit_code() == 3
    broken = InstanceReport(_instance("i2", ("lps", "a")), 1.0, error="boom")
    assert RunSummary("s", [done, broken], not_started=["i3"]).exit_code() == 1


def test_an_unknown_session_is_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        session="nope",
        store=f"sqlite:///{tmp_path / 'runs.sqlite'}",
        reports=tmp_path,
        instance=[],
        no_proxy=False,
        time_limit=None,
        lang="en",
    )
    assert run_command(args) == 2
    assert "no session nope" in capsys.readouterr().out


ROUNDTRIP = "cx-carecommunication-roundtrip"


@pytest.mark.slow
def test_a_session_runs_through_the_proxy_and_one_broken_system_stops_nothing(
    tmp_path: Path,
) -> None:
    from harness.connectathon.fleet import MemberSpec, running_fleet
    from harness.connectathon.orchestrate import run_session
    from harness.connectathon.pairing import pair_session
    from harness.connectathon.scenario.load import scenario_infos
    from harness.connectathon.store import ConnectathonStore
    from harness.sut.reference import free_port

    store = ConnectathonStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    try:
        session = store.create_session("t", "2027-05-03", "2027-05-04", [ROUNDTRIP])
        sid = session.session_id
        specs = [
            MemberSpec("clean", "Clean ApS"),
            MemberSpec("topicless", "Topicless A/S", defects=("send-missing-topic",)),
        ]
        with running_fleet(specs) as members:
            for member in members:
                store.register_system(
                    System(
                        member.name,
                        sid,
                        member.spec.vendor,
                        "P",
                        "1",
                        ("lps",),
                        member.registration,
                    )
                )
            # registered, but nothing listens there: its instance errs, the others still run
            store.register_system(_system_in(sid, "gone", _configured(free_port())))
            pair_session(store, sid, scenario_infos([ROUNDTRIP]))
            lines: list[tuple[int, int, InstanceReport]] = []
            summary = run_session(
                store, sid, reports=tmp_path, progress=lambda i, n, r: lines.append((i, n, r))
            )
        assert [(i, n) for i, n, _ in lines] == [(1, 3), (2, 3), (3, 3)]
        by_system = {r.instance.system_for("lps"): r.instance for r in summary.reports}
        assert by_system["clean"].grade == "verified", by_system["clean"].reason
        assert by_system["topicless"].grade == "failed"
        assert by_system["gone"].status == "error" and by_system["gone"].grade == "waiting"
        assert by_system["gone"].reason
        assert summary.exit_code() == 1
        # every exchange of kcert's with the systems went through the proxy, matched by header
        exchanges = store.exchanges(sid, limit=5000)
        matched = {e.instance_id for e in exchanges if e.match == "header"}
        assert by_system["clean"].instance_id in matched
        assert by_system["topicless"].instance_id in matched
        endpoints = {e.endpoint_id for e in store.endpoints(sid)}
        assert {"clean:lps", "topicless:lps", "gone:lps", "kcert:municipality"} <= endpoints
        # the time limit: nothing more starts once it is reached; those stay for the next run
        again = run_session(
            store,
            sid,
            reports=tmp_path,
            instance_ids=[by_system["clean"].instance_id],
            time_limit=0,
        )
        assert again.reports == [] and again.not_started == [by_system["clean"].instance_id]
        assert again.exit_code() == 3
    finally:
        store.close()


def _system_in(session_id: str, system_id: str, registration: dict[str, object]) -> System:
    return System(system_id, session_id, "V", "P", "1", ("lps",), registration)


def test_the_console_language_is_lang_then_kcert_lang_then_danish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.connectathon.runwords import console_lang, say

    monkeypatch.delenv("KCERT_LANG", raising=False)
    assert console_lang(None) == "da"
    monkeypatch.setenv("KCERT_LANG", "en")
    assert console_lang(None) == "en"
    assert console_lang("da") == "da"
    assert say("da", "nothing", session="s") != say("en", "nothing", session="s")


@pytest.mark.slow
def test_kcert_connectathon_run_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main
    from harness.connectathon.fleet import MemberSpec, running_fleet
    from harness.connectathon.pairing import pair_session
    from harness.connectathon.scenario.load import scenario_infos
    from harness.connectathon.store import ConnectathonStore

    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = ConnectathonStore(url)
    try:
        sid = store.create_session("cli", "2027-05-03", "2027-05-04", [ROUNDTRIP]).session_id
        with running_fleet([MemberSpec("clean", "Clean ApS")]) as (member,):
            store.register_system(_system_in(sid, "clean", member.registration))
            pair_session(store, sid, scenario_infos([ROUNDTRIP]))
            common = ["--session", sid, "--store", url, "--reports", str(tmp_path)]
            assert main(["connectathon", "run", *common, "--lang", "en"]) == 0
            out = capsys.readouterr().out
            assert "1 test instance(s) in session" in out
            assert f"[1/1] {ROUNDTRIP} · clean: verified (passed" in out
            assert "recording proxy: 2 endpoint(s)" in out
            # nothing pending now; Danish by default
            assert main(["connectathon", "run", *common]) == 0
            assert "ingen testinstans venter" in capsys.readouterr().out
            # run again by name, without the proxy: verified again, nothing more recorded
            (instance,) = store.instances(sid)
            recorded = len(store.exchanges(sid, limit=5000))
            again = ["--instance", instance.instance_id, "--no-proxy", "--lang", "en"]
            assert main(["connectathon", "run", *common, *again]) == 0
            out = capsys.readouterr().out
            assert "no proxy" in out and "clean: verified" in out
            assert len(store.exchanges(sid, limit=5000)) == recorded
    finally:
        store.close()


def test_the_instances_still_to_run_are_pending_or_errored_unless_named(tmp_path: Path) -> None:
    from dataclasses import replace

    from harness.connectathon.orchestrate import RunProblem, select_instances
    from harness.connectathon.store import ConnectathonStore

    store = ConnectathonStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    try:
        sid = store.create_session("sel", "2027-05-03", "2027-05-04", ["cx"]).session_id
        store.register_system(_system_in(sid, "a", _configured(8001)))
        states = ("pending", "error", "done", "running")
        store.add_instances(
            [replace(_instance(f"{sid}-{s}", ("lps", "a")), session_id=sid) for s in states]
        )
        for state in states[1:]:
            instance = store.instance(f"{sid}-{state}")
            instance.status = state  # type: ignore[assignment]
            store.update_instance(instance)
        chosen = select_instances(store, sid)
        assert [i.instance_id for i in chosen] == [f"{sid}-pending", f"{sid}-error"]
        named = select_instances(store, sid, [f"{sid}-done", f"{sid}-done"])
        assert [i.instance_id for i in named] == [f"{sid}-done"]
        with pytest.raises(RunProblem, match="testinstansen nope findes ikke"):
            select_instances(store, sid, ["nope"])
        with pytest.raises(RunProblem, match="no session other"):
            select_instances(store, "other", lang="en")
    finally:
        store.close()


def test_a_registration_finds_its_files_beside_its_systems_yaml(tmp_path: Path) -> None:
    from dataclasses import replace

    from harness.connectathon.orchestrate import agent_url

    (tmp_path / "client.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "client.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    registration = _configured(8443)
    configuration = dict(registration["configuration"])  # type: ignore[call-overload]
    configuration["auth"] = {"type": "mtls", "cert": "client.pem", "key": "client.key"}
    system = _system("m", {"configuration": configuration})
    # the files are relative to the YAML's folder, not to where kcert runs
    assert agent_url(system) is None
    assert agent_url(replace(system, files=str(tmp_path))) == (
        "http://127.0.0.1:8443/kcert-agent/v1"
    )
