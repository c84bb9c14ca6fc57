"""`contract-fuzz`: schemathesis against the SUT's LPS test agent API, bounded and reproducible.

schemathesis sends its own requests (generated from the contract), so they are summarised
as one evidence file instead of one file per request; every failure keeps its curl line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.checks.diagnostics import quote_answer
from harness.model.exchange import Exchange
from harness.runner.actions import ACTIONS, ActionContext, ActionError, ActionResult
from harness.runner.fuzzcases import DEFAULT_SEED, UnknownOperation, fuzz_cases
from harness.transport.base import Stopwatch, TransportError
from harness.transport.capabilities import HttpSession, InProcessApp, SideChannelRecord

CONTRACT = Path(__file__).resolve().parent.parent / "contract" / "lps-test-agent-api.yaml"
AGENT_PREFIX = "/kcert-agent/v1"


def _target(ctx: ActionContext, schema: Any) -> dict[str, Any]:
    """How schemathesis reaches the SUT: the in-process app, or the agent's base URL."""
    if isinstance(ctx.transport, InProcessApp):
        schema.app = ctx.transport.app
        return {}
    agent = ctx.sut.endpoint("agent").rstrip("/")
    if not agent.endswith(AGENT_PREFIX):
        raise ActionError(
            f"contract-fuzz needs the agent at <base>{AGENT_PREFIX} (the contract's layout); "
            f"the SUT configuration says {agent}"
        )
    kwargs: dict[str, Any] = {"base_url": agent[: -len(AGENT_PREFIX)]}
    if isinstance(ctx.transport, HttpSession):
        kwargs["session"] = ctx.transport.session  # the SUT's auth and TLS settings
    return kwargs


@ACTIONS.register(
    "contract-fuzz",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "pattern": "^(GET|POST) /"},
            },
            "max_examples": {"type": "integer", "minimum": 1, "maximum": 50},
            "seed": {"type": "integer", "minimum": 0},
        },
    },
)
def contract_fuzz(ctx: ActionContext, **params: Any) -> ActionResult:
    """Generated requests per operation; record status codes and contract failures."""
    if isinstance(ctx.transport, SideChannelRecord):
        # re-judging: the recorded summary stands for the calls
        recorded = ctx.transport.take_recorded("FUZZ")
        try:
            recorded_failures = json.loads(recorded.response_body)["failures"]
        except (ValueError, KeyError, TypeError):
            raise ActionError("the recorded contract-fuzz summary is unreadable") from None
        return ActionResult(recorded, notes={"fuzz_failures": recorded_failures})
    import schemathesis
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_path(CONTRACT)
    call_kwargs = _target(ctx, schema)
    watch = Stopwatch()
    statuses: dict[str, dict[str, int]] = {}
    failures: list[dict[str, str]] = []

    def call_and_judge(case: Any, label: str, counts: dict[str, int]) -> None:
        try:
            response = case.call(**call_kwargs)
        except OSError as exc:  # requests' connection errors: the SUT is not reachable
            raise TransportError(f"contract-fuzz could not reach the SUT: {exc}") from None
        code = str(response.status_code)
        counts[code] = counts.get(code, 0) + 1
        try:
            # A body can fit the loose schema and still not be valid data for the SUT:
            # refusing it with a documented 4xx is right, so that check is left out.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
        except FailureGroup as group:
            if len(failures) < 50:
                failures.append(
                    {
                        "operation": label,
                        "status": code,
                        "problem": str(group).strip().splitlines()[0][:300],
                        "detail": str(group)[:1500],
                        "curl": case.as_curl_command(),
                        "says": quote_answer(
                            str(response.headers.get("content-type", "")),
                            bytes(response.content or b""),
                        ),
                    }
                )

    # The same cases every run (a fixed seed), generated once per contract version (fuzzcases).
    try:
        cases = fuzz_cases(
            schema,
            CONTRACT.read_bytes(),
            params["operations"],
            params.get("max_examples", 20),
            params.get("seed", DEFAULT_SEED),
        )
    except UnknownOperation as exc:
        raise ActionError(f"the contract has no operation {exc}") from None
    for label, batch in cases.items():
        counts = statuses.setdefault(label, {})
        for case in batch:
            call_and_judge(case, label, counts)
    summary = {"contract": CONTRACT.name, "calls": statuses, "failures": failures}
    body = json.dumps(summary, indent=1, ensure_ascii=False).encode("utf-8")
    exchange = Exchange(
        "FUZZ",
        "contract:" + ",".join(params["operations"]),
        {},
        b"",
        status=200,
        response_headers={"Content-Type": "application/json"},
        response_body=body,
        started=watch.started,
    )
    exchange.duration_ms = watch.elapsed_ms()
    return ActionResult(exchange, notes={"fuzz_failures": failures})
