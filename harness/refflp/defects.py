"""The reference FLP service's named performance defects (off by default, `--defect NAME`).

Each one is a realistic mistake that costs time under load, so the load SLOs have something to
catch: the service's health answer names the ones switched on.
"""

from __future__ import annotations

from dataclasses import dataclass

MISSING_INDEX = "missing-index"
GLOBAL_LOCK = "global-lock"
N_PLUS_ONE = "n-plus-one"


@dataclass(frozen=True)
class Defect:
    name: str
    operation: str  # the load operation whose SLO it is meant to break (harness.load.model ids)
    en: str
    da: str


CATALOGUE: dict[str, Defect] = {
    d.name: d
    for d in (
        Defect(
            MISSING_INDEX,
            "cockpit-list",
            "the cockpit and patient-view queries run without their indexes (full table scans)",
            "cockpit- og patientvisningens forespørgsler kører uden deres indeks (fuld skanning)",
        ),
        Defect(
            GLOBAL_LOCK,
            "plan-create",
            "one lock across all worker processes is held for the whole of every request",
            "én lås på tværs af alle arbejdsprocesser holdes under hele hver forespørgsel",
        ),
        Defect(
            N_PLUS_ONE,
            "cockpit-list",
            "the cockpit list loads each row's plan with a query and a connection of its own",
            "cockpitlisten henter hver rækkes plan med sin egen forespørgsel og forbindelse",
        ),
    )
}


class UnknownDefect(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown defect {name!r}; known: {', '.join(CATALOGUE)}")


def checked(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The defect names in catalogue order, each once; an unknown name is refused."""
    for name in names:
        if name not in CATALOGUE:
            raise UnknownDefect(name)
    return tuple(name for name in CATALOGUE if name in names)
