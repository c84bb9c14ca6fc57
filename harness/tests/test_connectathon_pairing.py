"""Pairing: every required pairing of roles, simulated roles, unpairable roles, stable ids,
re-pairing that adds only what is new, and the bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.connectathon import pairing
from harness.connectathon.model import (
    SIMULATED,
    Binding,
    ConnectathonSession,
    ScenarioInfo,
    ScenarioRole,
    System,
)
from harness.connectathon.pairing import PairingError, instance_id, pair, pair_session, plan
from harness.connectathon.patients import patient_for
from harness.connectathon.store import ConnectathonStore
from harness.synthetic import is_synthetic_cpr

LPS = ScenarioRole("lps", simulated=False)
VIEWER = ScenarioRole("viewer", simulated=True)
MUNI = ScenarioRole("municipality", simulated=True)
REPO = ScenarioRole("document-repository", simulated=True, systems_may_play=False)
PLSP = ScenarioRole("plsp", simulated=False)
PLAN = ScenarioInfo("plan-share", "Plan", "Plan", (LPS, REPO, VIEWER))
REFERRAL = ScenarioInfo("referral", "Henvisning", "Referral", (LPS, MUNI))
PRO = ScenarioInfo("pro", "PRO", "PRO", (PLSP, LPS))
SESSION = ConnectathonSession("cx", "CX", "2026-12-03", "2026-12-04", ())


def _system(system_id: str, *roles: str, session_id: str = "cx") -> System:
    return System(system_id, session_id, "V", "P", "1", roles, {"sut": "reference"})


def _bindings(instances: list[object]) -> list[tuple[tuple[str, str], ...]]:
    return [tuple((b.role, b.system_id) for b in i.bindings) for i in instances]  # type: ignore[attr-defined]


def test_every_registered_system_with_kcert_simulating_the_rest() -> None:
    systems = [_system("lps-b", "lps"), _system("lps-a", "lps")]
    instances = pair(SESSION, systems, [PLAN, REFERRAL])
    assert _bindings(instances) == [
        (("lps", "lps-a"), ("document-repository", SIMULATED), ("viewer", SIMULATED)),
        (("lps", "lps-b"), ("document-repository", SIMULATED), ("viewer", SIMULATED)),
        (("lps", "lps-a"), ("municipality", SIMULATED)),
        (("lps", "lps-b"), ("municipality", SIMULATED)),
    ]
    assert all(i.session_id == "cx" and i.status == "pending" for i in instances)
    assert all(i.grade == "waiting" for i in instances)
    assert [i.patient for i in instances] == [patient_for(i.instance_id) for i in instances]
    assert len({i.patient["cpr"] for i in instances}) == len(instances)
    assert all(is_synthetic_cpr(i.patient["cpr"]) for i in instances)


def test_registered_partners_are_combined_and_never_self() -> None:
    systems = [
        _system("a", "lps", "municipality"),
        _system("b", "lps"),
        _system("m", "municipality"),
    ]
    instances = pair(SESSION, systems, [REFERRAL])
    assert _bindings(instances) == [
        (("lps", "a"), ("municipality", "m")),
        (("lps", "b"), ("municipality", "a")),
        (("lps", "b"), ("municipality", "m")),
    ]
    # a role kcert may simulate is not simulated once a system registers it
    assert SIMULATED not in {b.system_id for i in instances for b in i.bindings}


def test_a_role_nobody_can_play_gives_no_instance_and_says_why() -> None:
    result = plan(SESSION, [_system("lps-a", "lps")], [PRO])
    assert result.instances == []
    [why] = result.unpaired
    assert (why.scenario_id, why.role, why.systems) == ("pro", "plsp", ("lps-a",))
    assert "no registered system plays plsp" in why.reason
    # a system registered for both roles still has no partner: itself is none
    alone = plan(SESSION, [_system("x", "lps", "plsp")], [PRO])
    assert alone.instances == [] and "its own partner" in alone.unpaired[0].reason


def test_only_scenarios_in_scope() -> None:
    session = ConnectathonSession("cx", "CX", "2026-12-03", "2026-12-04", ("referral",))
    instances = pair(session, [_system("a", "lps")], [PLAN, REFERRAL])
    assert {i.scenario_id for i in instances} == {"referral"}


def test_ids_are_stable_unique_and_per_session() -> None:
    systems = [_system(f"s{n}", "lps", "municipality") for n in range(4)]
    first = pair(SESSION, systems, [REFERRAL, PLAN])
    again = pair(SESSION, list(reversed(systems)), [REFERRAL, PLAN])
    assert [i.instance_id for i in first] == [i.instance_id for i in again]
    assert len({i.instance_id for i in first}) == len(first) == 12 + 4
    other = ConnectathonSession("cx-2", "CX", "2026-12-03", "2026-12-04", ())
    assert instance_id("cx", "referral", first[0].bindings) != instance_id(
        "cx-2", "referral", first[0].bindings
    )
    swapped = (Binding("lps", "s1"), Binding("municipality", "s0"))
    assert instance_id("cx", "referral", swapped) != first[0].instance_id
    assert {i.instance_id for i in pair(other, systems, [REFERRAL])}.isdisjoint(
        i.instance_id for i in first
    )


def test_the_number_of_instances_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pairing, "MAX_INSTANCES", 5)
    systems = [_system(f"s{n}", "lps", "municipality") for n in range(4)]
    with pytest.raises(PairingError, match="more than 5 test instances"):
        pair(SESSION, systems, [REFERRAL])


def test_pairing_again_adds_only_the_new_instances(tmp_path: Path) -> None:
    store = ConnectathonStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    session = store.create_session("CX", "2026-12-03", "2026-12-04", ["referral", "pro"])
    sid = session.session_id
    store.register_system(_system("lps-a", "lps", session_id=sid))
    first = pair_session(store, sid, [REFERRAL, PRO, PLAN])
    assert [i.scenario_id for i in first.instances] == ["referral"]
    assert [(u.scenario_id, u.role) for u in first.unpaired] == [("pro", "plsp")]
    cells = {(c.system_id, c.scenario_id, c.role): c for c in store.matrix(sid)}
    assert cells[("lps-a", "pro", "lps")].partners_available == 0
    assert cells[("lps-a", "referral", "lps")].partners_available == 1  # kcert
    ran = store.instances(sid)[0]
    ran.status, ran.outcome = "done", "passed"
    store.update_instance(ran)
    store.register_system(_system("lps-b", "lps", session_id=sid))
    store.register_system(_system("plsp-a", "plsp", session_id=sid))
    second = pair_session(store, sid, [REFERRAL, PRO, PLAN])
    assert _bindings(second.instances) == [
        (("lps", "lps-b"), ("municipality", SIMULATED)),
        (("plsp", "plsp-a"), ("lps", "lps-a")),
        (("plsp", "plsp-a"), ("lps", "lps-b")),
    ]
    assert second.unpaired == []
    assert len(store.instances(sid)) == 4
    assert store.instance(ran.instance_id).status == "done"  # kept as it ran
    stored = [i.patient["cpr"] for i in store.instances(sid)]
    assert len(set(stored)) == 4 and all(is_synthetic_cpr(c) for c in stored)
    assert pair_session(store, sid, [REFERRAL, PRO]).instances == []
    store.close()


def test_no_two_instances_of_a_session_share_a_patient(monkeypatch: pytest.MonkeyPatch) -> None:
    # a clash of derived persons, forced: every first try gives the same CPR number
    def clashing(key: str) -> dict[str, str]:
        person = patient_for(key)
        return person if "#" in key else {**person, "cpr": "0101809900"}

    monkeypatch.setattr(pairing, "patient_for", clashing)
    systems = [_system(f"s{n}", "lps") for n in range(3)]
    instances = pair(SESSION, systems, [REFERRAL])
    cprs = [i.patient["cpr"] for i in instances]
    assert cprs[0] == "0101809900" and len(set(cprs)) == 3
    assert instances[1].patient == patient_for(f"{instances[1].instance_id}#1")
    # instances the store holds keep their patient, and new ones avoid it
    held = {instances[2].instance_id: {"cpr": "0101809900"}}
    again = plan(SESSION, systems, [REFERRAL], held).instances
    assert again[2].patient == {"cpr": "0101809900"}
    assert again[0].patient["cpr"] != "0101809900"
