"""Pairing: the test instances a session needs, from its systems and its scenarios' roles.

For each scenario in scope, every combination of registered systems for the roles systems may
play (a system is never its own partner); a role nobody registered is played by kcert when
the scenario lets kcert simulate it, and otherwise the scenario cannot run for anyone: no
instance, and an `Unpaired` saying why (the matrix shows no partner available).

Instance ids are derived from the session, scenario and bindings, so pairing again after new
registrations yields the same ids for the old pairings and the store adds only the new ones.
Each instance gets a synthetic patient of its own (`patients.patient_for` of its id), and no
two instances of a session share a CPR number: on the rare clash, the next derived person.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.connectathon.api import StoreApi
from harness.connectathon.model import (
    SIMULATED,
    Binding,
    ConnectathonSession,
    ScenarioInfo,
    System,
    TestInstance,
)
from harness.connectathon.patients import patient_for

MAX_INSTANCES = 5000  # per session: more means a systems file far beyond any connectathon
MAX_PATIENT_TRIES = 1000  # another derived person while one's CPR is taken in the session


class PairingError(ValueError):
    """The pairing cannot be made as asked (too many instances)."""


@dataclass(frozen=True)
class Unpaired:
    """A scenario role with no instance, and why: shown in the matrix and by `pair`."""

    scenario_id: str
    role: str  # the role no system can play
    reason: str
    systems: tuple[str, ...] = ()  # registered systems left without this scenario


@dataclass
class Pairing:
    instances: list[TestInstance] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)


def instance_id(session_id: str, scenario_id: str, bindings: Sequence[Binding]) -> str:
    """Deterministic, unique per session, scenario and bindings; short enough for a URL."""
    key = "\n".join([session_id, scenario_id, *sorted(f"{b.role}={b.system_id}" for b in bindings)])
    return f"{scenario_id}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def pair(
    session: ConnectathonSession, systems: list[System], scenarios: list[ScenarioInfo]
) -> list[TestInstance]:
    """Every test instance the session needs (see the module's text)."""
    return plan(session, systems, scenarios).instances


def plan(
    session: ConnectathonSession,
    systems: list[System],
    scenarios: list[ScenarioInfo],
    held: Mapping[str, Mapping[str, str]] | None = None,
) -> Pairing:
    """The instances and the scenario roles nobody can play. `held`: the patients of the
    instances the store already has (instance id → patient), which keep theirs."""
    in_scope = set(session.scenarios)
    result = Pairing()
    ordered = sorted(systems, key=lambda s: s.system_id)
    for info in scenarios:
        if in_scope and info.scenario_id not in in_scope:
            continue
        _pair_scenario(session, info, ordered, result)
        if len(result.instances) > MAX_INSTANCES:
            raise PairingError(
                f"session {session.session_id}: more than {MAX_INSTANCES} test instances; "
                "register fewer systems per role or split the session"
            )
    _patients(result.instances, held or {})
    return result


def _patients(instances: list[TestInstance], held: Mapping[str, Mapping[str, str]]) -> None:
    taken = {p.get("cpr", "") for p in held.values()}
    for inst in instances:
        kept = held.get(inst.instance_id)
        if kept:
            inst.patient = dict(kept)
            continue
        for attempt in range(MAX_PATIENT_TRIES):
            person = patient_for(
                inst.instance_id if attempt == 0 else f"{inst.instance_id}#{attempt}"
            )
            if person["cpr"] not in taken:
                break
        else:
            raise PairingError(f"{inst.instance_id}: no synthetic patient left that is not taken")
        taken.add(person["cpr"])
        inst.patient = person


def _pair_scenario(
    session: ConnectathonSession, info: ScenarioInfo, systems: list[System], result: Pairing
) -> None:
    choices: list[list[str]] = []
    for role in info.roles:
        players = (
            [s.system_id for s in systems if role.name in s.roles] if role.systems_may_play else []
        )
        if not players and role.simulated:
            players = [SIMULATED]
        if not players:
            waiting = tuple(
                s.system_id for s in systems if any(r.name in s.roles for r in info.roles)
            )
            result.unpaired.append(
                Unpaired(
                    info.scenario_id,
                    role.name,
                    f"no registered system plays {role.name} and kcert cannot simulate it",
                    waiting,
                )
            )
            return
        choices.append(players)
    if not any(r.systems_may_play for r in info.roles):
        return  # kcert alone: nothing of a vendor's to test
    made = 0
    for combination in itertools.product(*choices):
        registered = [c for c in combination if c != SIMULATED]
        if not registered or len(set(registered)) != len(registered):
            continue  # no vendor's system in it, or a system as its own partner
        bindings = tuple(Binding(r.name, c) for r, c in zip(info.roles, combination, strict=True))
        result.instances.append(
            TestInstance(
                instance_id=instance_id(session.session_id, info.scenario_id, bindings),
                session_id=session.session_id,
                scenario_id=info.scenario_id,
                bindings=bindings,
            )
        )
        made += 1
        if made > MAX_INSTANCES:
            break  # plan() reports it
    if made == 0:
        alone = sorted({c for group in choices for c in group if c != SIMULATED})
        result.unpaired.append(
            Unpaired(
                info.scenario_id,
                "",
                "every pairing would make a system its own partner",
                tuple(alone),
            )
        )


def pair_session(store: StoreApi, session_id: str, scenarios: list[ScenarioInfo]) -> Pairing:
    """Pairs the session's registered systems and adds the instances the store lacks; the
    result holds only those new instances, and the roles nobody can play. The scenarios'
    roles are kept for the matrix when the store can keep them (ConnectathonStore)."""
    session = store.session(session_id)
    held = {i.instance_id: i.patient for i in store.instances(session_id)}
    result = plan(session, store.systems(session_id), scenarios, held)
    result.instances = [i for i in result.instances if i.instance_id not in held]
    keep = getattr(store, "set_scenarios", None)
    if keep is not None:
        in_scope = set(session.scenarios)
        keep(session_id, [s for s in scenarios if not in_scope or s.scenario_id in in_scope])
    store.add_instances(result.instances)
    return result
