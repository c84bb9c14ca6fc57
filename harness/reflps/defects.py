"""Named defects: plausible vendor bugs the reference LPS can be started with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defect:
    name: str
    da: str
    en: str


CATALOGUE: dict[str, Defect] = {
    d.name: d
    for d in (
        Defect(
            "ack-wrong-reference",
            "Kvitteringen henviser til Bundle.id i stedet for MessageHeader.id.",
            "The acknowledgement references Bundle.id instead of MessageHeader.id.",
        ),
        Defect(
            "ack-sender-not-swapped",
            "Kvitteringens afsender og modtager er ikke byttet om.",
            "The acknowledgement keeps the original sender and receiver instead of swapping them.",
        ),
        Defect(
            "duplicate-processed-twice",
            "En dublet behandles og gemmes igen.",
            "A duplicate message is processed and stored a second time.",
        ),
        Defect(
            "no-negative-ack",
            "Fejlbehæftede meddelelser kvitteres positivt (ok).",
            "Faulty messages are acknowledged ok instead of fatal-error.",
        ),
        Defect(
            "ack-missing-operationoutcome",
            "Negative kvitteringer mangler OperationOutcome.",
            "Negative acknowledgements carry no OperationOutcome.",
        ),
        Defect(
            "ack-without-provenance",
            "Kvitteringen mangler Provenance for kvitteringen.",
            "The acknowledgement carries no Provenance of the acknowledgement.",
        ),
        Defect(
            "server-error-on-garbage",
            "Svarer HTTP 500 på et indhold, der ikke er FHIR.",
            "Answers HTTP 500 to a body that is not FHIR.",
        ),
        Defect(
            "xml-unsupported",
            "Afviser FHIR XML med HTTP 415.",
            "Refuses FHIR XML with HTTP 415.",
        ),
    )
}


class UnknownDefect(ValueError):
    """A defect name was given that the reference LPS does not know; see --list-defects."""


def check_names(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise UnknownDefect(
            f"unknown defect {', '.join(unknown)}; known: {', '.join(sorted(CATALOGUE))}"
        )
    return frozenset(names)
