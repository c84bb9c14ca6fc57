"""A small profile and rate table for the swarm's tests, built in code (no profile file)."""

from __future__ import annotations

from harness.load.model import OPERATIONS, Bounds, LoadProfile, OperationRate, RateTable

SHARES = {
    "plan-create": 0.15,
    "plan-update": 0.2,
    "plan-read-minlaege": 0.2,
    "plan-read-sundhed": 0.15,
    "cockpit-list": 0.2,
    "plan-share": 0.1,
}


def small_profile(
    max_users: int = 50, max_rate: float = 200.0, max_run_time_s: float = 120.0
) -> LoadProfile:
    return LoadProfile(
        id="swarm-test",
        version="1",
        title_da="Swarm-test",
        title_en="Swarm test",
        figures={},
        operations=OPERATIONS,
        slos={},
        think_time_s=(0.2, 0.4),
        bounds=Bounds(max_users=max_users, max_rate_per_s=max_rate, max_run_time_s=max_run_time_s),
        stress_factor=2.0,
    )


def small_rates(total_normal: float = 20.0, peak_factor: float = 1.5) -> RateTable:
    return RateTable(
        profile_id="swarm-test",
        profile_version="1",
        stress_factor=2.0,
        rates=tuple(
            OperationRate(
                operation=op,
                normal_per_s=total_normal * share,
                peak_per_s=total_normal * share * peak_factor,
                stress_per_s=total_normal * share * 2.0,
                arithmetic=(),
            )
            for op, share in SHARES.items()
        ),
    )
