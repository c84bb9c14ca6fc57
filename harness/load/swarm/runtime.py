"""The plan this Locust process runs, and when its run started (the Locust side only).

The master (and a local run) reads the plan file named by KCERT_LOAD_PLAN at import. A worker
started by `kcert load worker` on another machine has no file: it gets the master's plan text
through Locust's own channel, the custom option `--kcert-plan` that the master's spawn message
carries to every worker (`adopt` at test_start).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.load.plan import PLAN_ENV, LoadPlan, PlanError

_state: dict[str, object] = {"plan": None, "text": "", "started": time.monotonic()}


def read_initial() -> str:
    """The plan text from KCERT_LOAD_PLAN, or "" when this process has none (a remote worker)."""
    name = os.environ.get(PLAN_ENV, "")
    if not name:
        return ""
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{PLAN_ENV}={name}: cannot read the plan: {exc.strerror}") from None
    adopt(text)
    return text


def adopt(text: str) -> None:
    if not text:
        return
    if text != _state["text"]:
        _state["plan"] = LoadPlan.from_json(text)
        _state["text"] = text
    _state["started"] = time.monotonic()


def plan() -> LoadPlan | None:
    value = _state["plan"]
    return value if isinstance(value, LoadPlan) else None


def plan_text() -> str:
    return str(_state["text"])


def elapsed_s() -> float:
    """Seconds since this process's test started (the shape's clock runs on the master)."""
    started = _state["started"]
    assert isinstance(started, float)
    return time.monotonic() - started
