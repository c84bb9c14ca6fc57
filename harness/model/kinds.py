"""Message kinds: what the SUT's test agent can be asked to send (`SendRequest.kind`).

Each standard that makes the SUT send registers its kinds here (through
`harness.standards.register`); the send-side actions and checks read them, so they never name a
standard's kind string themselves. The table lives this low so the runner can read it without
importing the standards above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Syntax = Literal["fhir", "oioxml"]


class KindError(ValueError):
    """A message kind was claimed twice, or looked up but never registered."""


@dataclass(frozen=True)
class MessageKind:
    """One kind the agent sends: where kcert's peer takes it in and how it answers it."""

    name: str  # the test agent's SendRequest.kind
    path: str  # the peer's path that receives it (appended to the peer's base URL)
    # fhir: a FHIR message, answered with a FHIR acknowledgement (ok/fatal-error), resent with
    # the same MessageHeader.id and profile-validated; oioxml: answered with a CTL receipt
    syntax: Syntax
    standard: str = ""  # the standard that registered it (filled in by the registration)
    event: str = ""  # a FHIR message's MessageHeader.eventCoding.code (MedCom's event codes)


KINDS: dict[str, MessageKind] = {}
# the registered names, one live list: a params schema can hold it as its `enum` and sees kinds
# registered after the schema was written
KIND_NAMES: list[str] = []


def register_kind(kind: MessageKind) -> None:
    known = KINDS.get(kind.name)
    if known is not None:
        raise KindError(
            f"message kind {kind.name!r} is claimed by both {known.standard!r} and "
            f"{kind.standard!r}"
        )
    KINDS[kind.name] = kind
    KIND_NAMES.append(kind.name)
    KIND_NAMES.sort()


def of_event(event: str) -> MessageKind | None:
    """The kind whose messages carry this MessageHeader event code, if one is registered."""
    return next((k for k in KINDS.values() if k.event and k.event == event), None)


def kind_of(name: str) -> MessageKind:
    try:
        return KINDS[name]
    except KeyError:
        raise KindError(
            f"unknown message kind {name!r}; known: {', '.join(KIND_NAMES) or 'none'}"
        ) from None
