"""kcert's locustfile: the FLP virtual users and the one load shape the plan names.

Started by kcert as `python -m locust -f harness/load/swarm/locustfile.py` with KCERT_LOAD_PLAN
naming the plan file (harness.load.plan); a remote worker (`kcert load worker`) gets the
master's plan through the `--kcert-plan` option the master's spawn messages carry. Locust
refuses a locustfile with more than one LoadTestShape, so exactly one concrete shape class is
defined here, chosen by the plan (a plateau when this process has no plan yet: only the
master runs the shape, and the master always has the plan file).
"""

from __future__ import annotations

from typing import Any

from locust import events

from harness.load.swarm import runtime
from harness.load.swarm.shapes import SHAPES
from harness.load.swarm.users import FlpUser

__all__ = ["FlpUser", "KcertShape"]

_initial = runtime.read_initial()
_plan = runtime.plan()


class KcertShape(SHAPES[_plan.shape if _plan else "plateau"]):  # type: ignore[misc]
    """The shape of this run (see harness.load.swarm.shapes)."""


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _plan_option(parser: Any, **_: Any) -> None:
    parser.add_argument(
        "--kcert-plan",
        type=str,
        default=_initial,
        help="kcert's load plan (JSON); set from KCERT_LOAD_PLAN, sent to the workers",
        include_in_web_ui=False,
    )


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _adopt_plan(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    runtime.adopt(getattr(options, "kcert_plan", "") or runtime.plan_text())
