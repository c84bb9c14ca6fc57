"""What Locust's processes need to run one load test: the plan kcert writes as JSON.

kcert's process builds a `LoadPlan` from the profile, the rate table, the target and the command
line, writes it with `to_json()` and starts Locust with `KCERT_LOAD_PLAN=<file>`; the locustfile
(harness/load/swarm/) reads it back with `from_json()`, which validates every field, so a
hand-edited or truncated plan stops Locust with a clear reason instead of a strange load.
Standard library only: both sides import it (the Locust side under gevent's patches).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

PLAN_ENV = "KCERT_LOAD_PLAN"  # the environment variable naming the plan file for Locust
PLAN_FORMAT = "kcert-load-plan/1"
SHAPE_KINDS = ("ramp", "plateau", "spike", "soak")
PACKAGES = ("kol", "lbp")
# A profile's shape -> the Locust LoadTestShape that drives it.
SHAPE_FOR: dict[str, str] = {"normal": "plateau", "peak": "ramp", "stress": "spike", "soak": "soak"}
MAX_PLAN_BYTES = 1024 * 1024
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PlanError(ValueError):
    """A plan file that cannot drive a run; the message names the field."""


@dataclass(frozen=True)
class Stage:
    """Until `until_s` seconds into the run: `users` virtual users offering `rate_per_s`."""

    until_s: float
    users: int
    rate_per_s: float


@dataclass(frozen=True)
class LoadPlan:
    base_url: str
    weights: dict[str, float]  # operation id -> share of the requests (sums to 1)
    rate_per_s: float  # the shape's total target rate at its plateau
    think_time_s: tuple[float, float]
    users: int  # at the plateau
    spawn_rate: float  # users started per second
    shape: str  # one of SHAPE_KINDS
    stages: tuple[Stage, ...]
    run_time_s: float
    seed: int
    max_users: int
    max_rate_per_s: float
    max_run_time_s: float
    # Header values as written in the target file: `${ENV}` references are resolved by whoever
    # sends (`resolve_headers`), so no token is ever written into the plan file.
    headers: dict[str, str] = field(default_factory=dict)
    clinics: int = 50  # the virtual users' clinics (SOR codes kcert makes up)
    patients_per_user: int = 4
    expected_latency_s: float = 0.05
    format: str = PLAN_FORMAT

    def stage_at(self, elapsed_s: float) -> Stage | None:
        """The stage in force `elapsed_s` seconds into the run, None once the run is over."""
        for stage in self.stages:
            if elapsed_s < stage.until_s:
                return stage
        return None

    def to_json(self) -> str:
        data = asdict(self)
        data["think_time_s"] = list(self.think_time_s)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> LoadPlan:
        if len(text) > MAX_PLAN_BYTES:
            raise PlanError(f"plan larger than {MAX_PLAN_BYTES} bytes")
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlanError(f"plan is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise PlanError("plan: not a JSON object")
        return _validated(data)


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in data:
        raise PlanError(f"plan: {name}: missing")
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise PlanError(f"plan: {name}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _number(data: dict[str, Any], name: str, low: float, high: float = math.inf) -> float:
    value = float(_field(data, name, (int, float)))
    if not (low <= value <= high) or math.isnan(value):
        raise PlanError(f"plan: {name}: {value} outside {low}..{high}")
    return value


def _validated(data: dict[str, Any]) -> LoadPlan:
    from harness.load.model import OPERATIONS

    if data.get("format") != PLAN_FORMAT:
        raise PlanError(f"plan: format: expected {PLAN_FORMAT!r}, got {data.get('format')!r}")
    known = set(LoadPlan.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise PlanError(f"plan: {unknown[0]}: unknown field")
    base_url = _field(data, "base_url", str)
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise PlanError(f"plan: base_url: not an http(s) URL: {base_url!r}")
    weights_raw = _field(data, "weights", dict)
    weights: dict[str, float] = {}
    for op, weight in weights_raw.items():
        if op not in OPERATIONS:
            raise PlanError(f"plan: weights.{op}: unknown operation")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise PlanError(f"plan: weights.{op}: not a weight >= 0: {weight!r}")
        weights[op] = float(weight)
    if not any(weights.values()):
        raise PlanError("plan: weights: no operation has a weight")
    think = _field(data, "think_time_s", list)
    if len(think) != 2 or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) for t in think
    ):
        raise PlanError("plan: think_time_s: expected [min, max] seconds")
    if not 0 <= think[0] <= think[1] <= 3600:
        raise PlanError(f"plan: think_time_s: need 0 <= min <= max <= 3600, got {think}")
    max_users = int(_number(data, "max_users", 1, 1_000_000))
    max_rate = _number(data, "max_rate_per_s", 0.001)
    max_run = _number(data, "max_run_time_s", 1)
    rate = _number(data, "rate_per_s", 0, max_rate)
    users = int(_number(data, "users", 1, max_users))
    run_time = _number(data, "run_time_s", 1, max_run)
    shape = _field(data, "shape", str)
    if shape not in SHAPE_KINDS:
        raise PlanError(f"plan: shape: {shape!r} is not one of {', '.join(SHAPE_KINDS)}")
    stages: list[Stage] = []
    previous = 0.0
    for index, raw in enumerate(_field(data, "stages", list)):
        where = f"stages[{index}]"
        if not isinstance(raw, dict):
            raise PlanError(f"plan: {where}: not an object")
        until = _number(raw, "until_s", 0.001, max_run + 1e-6)
        if until <= previous:
            raise PlanError(f"plan: {where}.until_s: {until} does not follow {previous}")
        previous = until
        stages.append(
            Stage(
                until_s=until,
                users=int(_number(raw, "users", 0, max_users)),
                rate_per_s=_number(raw, "rate_per_s", 0, max_rate),
            )
        )
    if not stages:
        raise PlanError("plan: stages: empty")
    headers = _field(data, "headers", dict)
    for name, value in headers.items():
        if not isinstance(value, str):
            raise PlanError(f"plan: headers.{name}: not a string")
    return LoadPlan(
        base_url=base_url.rstrip("/"),
        weights=weights,
        rate_per_s=rate,
        think_time_s=(float(think[0]), float(think[1])),
        users=users,
        spawn_rate=_number(data, "spawn_rate", 0.001, 100_000),
        shape=shape,
        stages=tuple(stages),
        run_time_s=run_time,
        seed=int(_field(data, "seed", int)),
        max_users=max_users,
        max_rate_per_s=max_rate,
        max_run_time_s=max_run,
        headers=dict(headers),
        clinics=int(_number(data, "clinics", 1, 100_000)),
        patients_per_user=int(_number(data, "patients_per_user", 1, 100)),
        expected_latency_s=_number(data, "expected_latency_s", 0, 60),
    )


def env_references(value: str) -> list[str]:
    """The `${NAME}` environment variables a header value refers to."""
    return _ENV_REF.findall(value)


def resolve_headers(
    headers: dict[str, str], environ: dict[str, str] | os._Environ[str] | None = None
) -> dict[str, str]:
    """The headers with their `${NAME}` references replaced from the environment.

    A reference to an unset variable is a PlanError naming the variable (never its value)."""
    env = os.environ if environ is None else environ
    resolved: dict[str, str] = {}
    for name, value in headers.items():
        missing = [ref for ref in env_references(value) if ref not in env]
        if missing:
            raise PlanError(f"headers.{name}: environment variable {missing[0]} is not set")
        resolved[name] = _ENV_REF.sub(lambda m: env[m.group(1)], value)
    return resolved
