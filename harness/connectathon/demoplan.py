"""The demo's six vendors: two clean reference LPS instances and four with defect sets.

The defects are drawn from the scenarios' own `catches` (the reference-LPS defects a scenario
must fail on), so what the demo should show follows from the scenario files: a defective
system fails exactly the scenarios whose catches name one of its defects and is verified on
every other; a clean one is verified everywhere. Nothing here is random: the same scenarios
give the same plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.connectathon.fleet import MemberSpec
from harness.connectathon.model import ScenarioInfo

LPS_ROLE = "lps"
CLEAN_VENDORS = 2
DEFECTIVE_VENDORS = 4
# (system id, vendor, product): synthetic companies, none of them real
VENDORS: tuple[tuple[str, str, str], ...] = (
    ("alfa-lps", "Alfa Journal ApS", "Alfa Klinik"),
    ("bravo-lps", "Bravo Sundhed A/S", "Bravo Praksis"),
    ("charlie-lps", "Charlie Data ApS", "Charlie Journal"),
    ("delta-lps", "Delta Medico A/S", "Delta LPS"),
    ("echo-lps", "Echo Systems ApS", "Echo Praksis"),
    ("foxtrot-lps", "Foxtrot IT A/S", "Foxtrot Klinik"),
)


class DemoPlanError(ValueError):
    """The scenarios cannot give the demo its defective vendors; the text says why."""


@dataclass(frozen=True)
class DemoVendor:
    system_id: str
    vendor: str
    product: str
    defects: tuple[str, ...]
    expected_failed: tuple[str, ...]  # scenario ids this system must fail, in scenario order
    roles: tuple[str, ...] = (LPS_ROLE,)

    @property
    def clean(self) -> bool:
        return not self.defects

    def member(self) -> MemberSpec:
        return MemberSpec(
            name=self.system_id, vendor=self.vendor, product=self.product, defects=self.defects
        )


def touched(defects: Sequence[str], scenarios: Sequence[ScenarioInfo]) -> tuple[str, ...]:
    """The scenarios whose catches name one of `defects`: where such a system must fail."""
    wanted = set(defects)
    return tuple(s.scenario_id for s in scenarios if wanted & set(s.catches))


def defect_sets(scenarios: Sequence[ScenarioInfo]) -> list[tuple[str, ...]]:
    """Four defect sets, each touching different scenarios where the scenarios allow it.

    The first three vendors each get one defect, caught by as few scenarios as possible and
    by a scenario the others do not touch yet; the fourth gets two defects of two further
    scenarios (a system that fails twice), or of what remains.
    """
    catchers = [s for s in scenarios if s.catches]
    if not catchers:
        raise DemoPlanError("no scenario names a defect it catches (catches:); no demo vendors")
    # every catchable defect once, in scenario order, with the scenarios it touches
    defects: list[str] = []
    for scenario in catchers:
        defects += [d for d in scenario.catches if d not in defects]
    reach = {d: touched([d], scenarios) for d in defects}
    used_defects: set[str] = set()
    used_scenarios: set[str] = set()

    def pick() -> str | None:
        free = [d for d in defects if d not in used_defects]
        if not free:
            return None
        # fewest scenarios touched that are already shown failing, then narrowest, then order
        best = min(
            free,
            key=lambda d: (len(set(reach[d]) & used_scenarios), len(reach[d]), defects.index(d)),
        )
        used_defects.add(best)
        used_scenarios.update(reach[best])
        return best

    sets: list[tuple[str, ...]] = []
    for index in range(DEFECTIVE_VENDORS):
        wanted = 2 if index == DEFECTIVE_VENDORS - 1 else 1
        chosen = [d for d in (pick() for _ in range(wanted)) if d is not None]
        if not chosen:
            # fewer catchable defects than vendors: reuse from the start, still deterministic
            chosen = [defects[index % len(defects)]]
        sets.append(tuple(chosen))
    return sets


def demo_plan(scenarios: Sequence[ScenarioInfo]) -> list[DemoVendor]:
    """The six vendors: two clean, then four defective, each with the scenarios it must fail."""
    sets: list[tuple[str, ...]] = [()] * CLEAN_VENDORS + defect_sets(scenarios)
    plan = []
    for (system_id, vendor, product), defects in zip(VENDORS, sets, strict=True):
        plan.append(DemoVendor(system_id, vendor, product, defects, touched(defects, scenarios)))
    return plan
