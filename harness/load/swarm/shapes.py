"""The load shapes: Locust LoadTestShape classes driven by the plan's stages.

All four read the same stage list (`LoadPlan.stages`), which the engine builds per shape:
`plateau` one level held (normal), `ramp` steps up to the peak and holds it (peak), `spike` a
base, a burst at the stress rate and the base again (stress), `soak` one level held for long
(soak). They differ in name, so the report and Locust's log say which ran, and in how fast
users are started. They are abstract here: the locustfile makes exactly one concrete subclass,
as Locust refuses a locustfile with more than one.
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from harness.load.swarm import runtime


class StagedShape(LoadTestShape):
    abstract: ClassVar[bool] = True
    # --run-time is honoured as a second stop (the stages end the run first).
    use_common_options: ClassVar[bool] = True
    spawn_factor: ClassVar[float] = 1.0  # × the plan's spawn rate

    def tick(self) -> tuple[int, float] | None:
        plan = runtime.plan()
        if plan is None:
            return None
        stage = plan.stage_at(self.get_run_time())  # type: ignore[no-untyped-call]
        if stage is None:
            return None
        return stage.users, max(0.1, plan.spawn_rate * self.spawn_factor)


class Plateau(StagedShape):
    abstract = True


class Ramp(StagedShape):
    abstract = True


class Spike(StagedShape):
    abstract = True
    spawn_factor = 5.0  # a spike arrives fast


class Soak(StagedShape):
    abstract = True


SHAPES: dict[str, type[StagedShape]] = {
    "plateau": Plateau,
    "ramp": Ramp,
    "spike": Spike,
    "soak": Soak,
}
