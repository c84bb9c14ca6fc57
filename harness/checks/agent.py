"""Expectations on test agent answers: what the SUT says it stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks.registry import CHECKS, CheckContext
from harness.model.finding import Finding
from harness.safeparse import PayloadError, parse_json


@CHECKS.register(
    "received",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["count"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "event": {"type": "string"},
            "activity": {"type": "string"},
            "patient": {"type": "boolean"},
        },
    },
)
def received(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The SUT stored the message exactly `count` times, with the right patient and event."""
    if ctx.exchange.status != 200:
        yield ctx.bad_status("200", "AGENT-HTTP", "the test agent's message lookup")
        return
    try:
        data = parse_json(ctx.exchange.response_body)
        messages = data["messages"]
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise TypeError("messages is not a list of objects")
    except (PayloadError, KeyError, TypeError):
        yield ctx.bad_answer(
            "AGENT-FORMAT",
            "test agent answer is not {'messages': [...]} as the LPS test agent API says",
            "/messages",
        )
        return
    if len(messages) != params["count"]:
        yield ctx.finding(
            "AGENT-COUNT",
            f"the SUT stored the message {len(messages)} time(s), expected {params['count']}",
            "/messages",
            "json-pointer",
        )
    expected: dict[str, Any] = {k: params[k] for k in ("event", "activity") if k in params}
    if params.get("patient") and ctx.person:
        expected["patientCpr"] = ctx.person.get("cpr", "")
    for index, message in enumerate(messages):
        for key, value in expected.items():
            got = message.get(key) if isinstance(message, dict) else None
            if got != value:
                shown = "another CPR" if key == "patientCpr" else repr(got)
                yield ctx.finding(
                    "AGENT-FIELD",
                    f"stored message has {key} {shown}, expected "
                    f"{'the sent patient' if key == 'patientCpr' else repr(value)}",
                    f"/messages/{index}/{key}",
                    "json-pointer",
                )
