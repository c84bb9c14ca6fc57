"""The demo's vendors: two clean, four whose defects come from the scenarios' catches."""

from __future__ import annotations

import pytest

from harness.connectathon.demoplan import DemoPlanError, demo_plan, touched
from harness.connectathon.model import ScenarioInfo, ScenarioRole

ROLES = (ScenarioRole("lps", simulated=False), ScenarioRole("viewer", simulated=True))


def _scenario(sid: str, *catches: str) -> ScenarioInfo:
    return ScenarioInfo(sid, sid, sid, ROLES, catches=catches)


SCENARIOS = [
    _scenario("cpd-share", "cpd-missing-goal-section", "cpd-wrong-cpr-root"),
    _scenario("referral", "referral-bad-gln", "fatal-ack-as-ok"),
    _scenario("carecomm", "ack-wrong-reference", "fatal-ack-as-ok"),
    _scenario("pro", "qrd-ignored"),
    _scenario("plain"),
]


def test_two_clean_vendors_and_four_with_defects_from_the_catches() -> None:
    plan = demo_plan(SCENARIOS)
    assert len(plan) == 6
    assert len({v.system_id for v in plan}) == 6
    assert [v.clean for v in plan] == [True, True, False, False, False, False]
    assert all(v.expected_failed == () for v in plan[:2])
    caught = {d for s in SCENARIOS for d in s.catches}
    for vendor in plan[2:]:
        assert set(vendor.defects) <= caught
        assert vendor.expected_failed == touched(vendor.defects, SCENARIOS)
        assert vendor.expected_failed  # each defective vendor fails somewhere
        assert "plain" not in vendor.expected_failed
    # narrow defects first, each on a scenario not shown failing yet; the last fails twice
    assert plan[2].expected_failed == ("cpd-share",)
    assert plan[3].expected_failed == ("referral",)
    assert plan[4].expected_failed == ("carecomm",)
    assert len(plan[5].defects) == 2
    assert "pro" in plan[5].expected_failed
    # a defect two scenarios catch makes its system fail both
    assert touched(["fatal-ack-as-ok"], SCENARIOS) == ("referral", "carecomm")
    assert plan[5].member().defects == plan[5].defects


def test_the_plan_is_deterministic() -> None:
    assert demo_plan(SCENARIOS) == demo_plan(list(SCENARIOS))


def test_few_catches_are_reused_and_none_is_an_error() -> None:
    plan = demo_plan([_scenario("only", "qrd-ignored"), _scenario("plain")])
    assert all(v.defects == ("qrd-ignored",) for v in plan[2:])
    assert all(v.expected_failed == ("only",) for v in plan[2:])
    with pytest.raises(DemoPlanError, match="catches"):
        demo_plan([_scenario("plain")])
