"""The message standards the reference LPS receives besides CareCommunication: one module each
under `harness/reflps/`, registered below with one line.

A module names a `STANDARD = ReceivedStandard(...)`: the standard (as protocols and the health
capabilities name it), the MessageHeader event it receives, the Provenance activities it accepts,
its named defects, and a factory for its handler. The handler adds the standard's own message
rules to the shared ones (`messaging.find_problems`), takes an accepted message in (`accept`),
serves the test agent operations that read back what it did (`router`) and forgets everything
on reset. Acknowledgements, duplicates and the received-message list stay shared
(`messaging.MessageReceiver`), so a standard module holds only what is its own.

A standard module imports no fastapi or pydantic at its top (the defect catalogue, read by
kcert's own process, imports it): its `router` loads its web layer from a module of its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter

    from harness.reflps.identity import ClinicIdentity
    from harness.reflps.messaging import Problem, Received
    from harness.reflps.storage import Storage

# One line per standard module (its name under harness/reflps/).
MODULES: tuple[str, ...] = ("hospitalnotification",)


class Handler(Protocol):
    def problems(self, msg: Received) -> list[Problem]:
        """The standard's own rules, after the shared ones; any problem rejects the message."""
        ...

    def accept(self, msg: Received) -> bool:
        """Take an accepted message in; True when it is also listed as received (a message the
        receiver decides not to load, e.g. about a patient it has no relation to, is not)."""
        ...

    def router(self, prefix: str) -> APIRouter: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class ReceivedStandard:
    name: str  # as the protocols' `standard:` and the health capabilities name it
    event: str  # MessageHeader.eventCoding.code
    activities: frozenset[str]  # the Provenance activities a message of it may carry
    defects: tuple[tuple[str, str, str], ...]  # (name, Danish, English)
    create: Callable[[Storage, ClinicIdentity, frozenset[str]], Handler]
    directions: tuple[str, ...] = ("receive",)


@lru_cache(maxsize=1)
def received_standards() -> tuple[ReceivedStandard, ...]:
    found = []
    for name in MODULES:
        standard = importlib.import_module(f"harness.reflps.{name}").STANDARD
        if not isinstance(standard, ReceivedStandard):
            raise TypeError(f"harness.reflps.{name}.STANDARD is not a ReceivedStandard")
        found.append(standard)
    return tuple(found)


def by_event() -> dict[str, ReceivedStandard]:
    return {s.event: s for s in received_standards()}
