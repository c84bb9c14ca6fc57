"""Which test instance (and step) an exchange belongs to.

In this order:
1. "header": kcert's own sends carry INSTANCE_HEADER (and STEP_HEADER); the named instance
   of this session is taken as it is.
2. "address-time": the endpoint names the target system; the sender may name itself in
   `X-Kcert-System` (else the source is unknown). The instances of the session that are
   running, started no later than the exchange, and bind the target (and the source, when
   known) are the candidates; exactly one is a match. Its step is the one step the target's
   role receives (from the source's role, when known; among several, the one running at the
   time), and an unknown source is then the system playing that step's sender role.
3. "unmatched": none or several candidates. The exchange is kept and listed as unmatched;
   guessing between two running instances would file one pairing's evidence under another.

An instance whose `started` is empty counts as started (the executor marks it running
before it stamps the time); one whose `started` cannot be read does not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from harness.connectathon.api import StoreApi
from harness.connectathon.model import (
    INSTANCE_HEADER,
    SIMULATED,
    STEP_HEADER,
    InstanceStep,
    TestInstance,
)

SYSTEM_HEADER = "X-Kcert-System"  # a sender that says which registered system it is

MatchKind = Literal["header", "address-time", "unmatched"]


@dataclass(frozen=True)
class Match:
    match: MatchKind
    source: str  # system id, SIMULATED or "" when unknown
    instance_id: str = ""
    step_id: str = ""
    note: str = ""  # why it is unmatched (none or which candidates)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value.strip()
    return ""


def _parse(moment: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(moment)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _systems(instance: TestInstance) -> set[str]:
    return {binding.system_id for binding in instance.bindings}


def _started_by(instance: TestInstance, when: dt.datetime) -> bool:
    if not instance.started:
        return True
    started = _parse(instance.started)
    return started is not None and started <= when


def match_exchange(
    store: StoreApi,
    session_id: str,
    target: str,
    role: str,
    headers: Mapping[str, str],
    when: dt.datetime,
) -> Match:
    """The match of one exchange sent to `target` (playing `role`) at `when` (UTC)."""
    claimed = _header(headers, SYSTEM_HEADER)
    instance_id = _header(headers, INSTANCE_HEADER)
    if instance_id:
        found = _by_header(store, session_id, instance_id, _header(headers, STEP_HEADER), claimed)
        if found is not None:
            return found
    source = claimed
    candidates = [
        instance
        for instance in store.instances(session_id)
        if instance.status == "running"
        and target in _systems(instance)
        and (not source or source in _systems(instance))
        and _started_by(instance, when)
    ]
    if len(candidates) != 1:
        named = ", ".join(sorted(i.instance_id for i in candidates)[:5])
        note = (
            f"{len(candidates)} running instances fit ({named})"
            if candidates
            else "no running instance binds this system"
        )
        return Match("unmatched", source, note=note)
    instance = candidates[0]
    step = _step_for(store.steps(instance.instance_id), instance, target, role, source, when)
    if step is None:
        return Match("address-time", source, instance.instance_id)
    if not source:  # the step says whose part sent it
        source = next((b.system_id for b in instance.bindings if b.role == step.sender), "")
    return Match("address-time", source, instance.instance_id, step.step_id)


def _by_header(
    store: StoreApi, session_id: str, instance_id: str, step_id: str, claimed: str
) -> Match | None:
    try:
        instance = store.instance(instance_id)
    except KeyError:
        return None  # a header naming no instance of ours: match by address and time instead
    if instance.session_id != session_id:
        return None
    source = claimed
    if not source:
        # kcert sends with these headers; the step's sender role says whose part it played
        source = SIMULATED
        for step in store.steps(instance_id) if step_id else ():
            if step.step_id == step_id:
                with contextlib.suppress(KeyError):
                    source = instance.system_for(step.sender)
                break
    return Match("header", source, instance_id, step_id)


def _step_for(
    steps: list[InstanceStep],
    instance: TestInstance,
    target: str,
    role: str,
    source: str,
    when: dt.datetime,
) -> InstanceStep | None:
    """The one step this exchange can be: received by the target's role, sent by the
    source's (when known), and, among several, the one running at `when`; else None."""
    bound = {b.role: b.system_id for b in instance.bindings}
    receiver_roles = {r for r, s in bound.items() if s == target}
    if role in receiver_roles:
        receiver_roles = {role}
    fitting = [
        step
        for step in steps
        if step.receiver in receiver_roles and (not source or bound.get(step.sender) == source)
    ]
    if len(fitting) > 1:
        fitting = [step for step in fitting if _during(step, when)]
    return fitting[0] if len(fitting) == 1 else None


def _during(step: InstanceStep, when: dt.datetime) -> bool:
    started = _parse(step.started) if step.started else None
    finished = _parse(step.finished) if step.finished else None
    if started is None:
        return False
    return started <= when and (finished is None or when <= finished)
