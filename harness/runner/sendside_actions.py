"""Send-side actions: make the SUT send (through its test agent) to kcert's peer, which
answers with an acknowledgement or a receipt, or deliberately with nothing.

In a replay (re-judging) the peer is not started: the recorded inbound requests stand in.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from harness.model.exchange import Exchange
from harness.model.kinds import KIND_NAMES, kind_of
from harness.runner.actions import (
    ACTIONS,
    ActionContext,
    ActionError,
    ActionResult,
    builds_on,
    lookup,
)
from harness.runner.peer_answers import ctl_receipt, fhir_ack, read_message
from harness.safeparse import PayloadError, parse_json
from harness.transport.capabilities import InboundRecord
from harness.transport.peer import PeerServer, Reply, Responder

FHIR_ANSWERS = ("ok", "fatal-error", "none")
RECEIPTS = ("positive", "negative", "none")


def responder_for(kind: str, answer: str, peer: dict[str, Any]) -> Responder:
    """How kcert's peer answers what arrives in this step."""

    def respond(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST":
            return Reply(405, "text/plain", b"POST only\n")
        if answer == "none":
            return Reply(202)  # taken in, but no acknowledgement: the SUT must resend later
        if kind_of(kind).syntax == "oioxml":
            return Reply(200, "application/xml", ctl_receipt(body, answer == "positive", peer))
        message = read_message(body)
        if message is None:
            return Reply(400, "text/plain", b"not a FHIR JSON message\n")
        return Reply(200, "application/fhir+json", fhir_ack(message, answer, peer))

    return respond


def _inbound(
    ctx: ActionContext, kind: str, answer: str, peer: dict[str, Any]
) -> tuple[PeerServer | None, int]:
    """The session's peer armed for this step (None in a replay) and its mark."""
    if isinstance(ctx.transport, InboundRecord):
        return None, 0
    server = ctx.peer_servers.server(ctx.sut.peer)
    return server, server.expect(responder_for(kind, answer, peer))


def _collect(
    ctx: ActionContext, server: PeerServer | None, mark: int, count: int, wait_s: float
) -> list[Exchange]:
    if isinstance(ctx.transport, InboundRecord):  # re-judging: what arrived then stands
        return ctx.transport.take_inbound()
    if server is None:
        return []
    return server.wait(mark, count, wait_s)


def send_request(
    kind: str, person: dict[str, str], peer: dict[str, Any], peer_base: str
) -> dict[str, Any]:
    """The test agent's `POST /outbox/send` body: this patient, to kcert's peer."""
    return {
        "kind": kind,
        "patient": {"cpr": person["cpr"], "given": person["given"], "family": person["family"]},
        "receiver": {
            "endpoint": peer_base + kind_of(kind).path,
            "sor": str(peer["sor"]),
            "gln": str(peer["gln"]),
            "name": str(peer["name"]),
        },
    }


_SEND_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "answer"],
    "properties": {
        "kind": {"enum": KIND_NAMES},  # the standards' kinds (harness.model.kinds), live
        "person": {"type": "string"},
        "peer": {"type": "string"},
        "package": {"enum": ["kol", "lrs"]},
        "answer": {"enum": sorted(set(FHIR_ANSWERS) | set(RECEIPTS))},
        "wait_s": {"type": "number", "minimum": 0.1, "maximum": 30},
    },
}


@ACTIONS.register("trigger-send", _SEND_SCHEMA)
def trigger_send(ctx: ActionContext, **params: Any) -> ActionResult:
    """Ask the SUT to send a message of `kind` to kcert's peer, which answers `answer`."""
    kind = params["kind"]
    answer = params["answer"]
    allowed = RECEIPTS if kind_of(kind).syntax == "oioxml" else FHIR_ANSWERS
    if answer not in allowed:
        raise ActionError(f"answer {answer!r} does not fit {kind}; use one of {allowed}")
    person = lookup(ctx.persons, params.get("person", "kol-karen"), "person")
    peer = lookup(ctx.peers, params.get("peer", "kommune"), "peer")
    server, mark = _inbound(ctx, kind, answer, peer)
    base = server.base_url if server is not None else "http://127.0.0.1:0"
    request = send_request(kind, person, peer, base)
    request["package"] = params.get("package", "kol")
    exchange = ctx.transport.request(
        "agent",
        "POST",
        "outbox/send",
        json.dumps(request, ensure_ascii=False).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    inbound = _collect(ctx, server, mark, 1, _wait(exchange, float(params.get("wait_s", 10))))
    return ActionResult(
        exchange,
        person=person,
        peer=peer,
        more=inbound,
        notes={
            "kind": kind,
            "message_id": _message_id(exchange),
            "answer": answer,
            "arrived": sum(e.method == "POST" for e in inbound),
        },
    )


@ACTIONS.register(
    "trigger-retry",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of", "answer"],
        "properties": {
            "of": {"type": ["string", "integer"]},
            "answer": {"enum": sorted(set(FHIR_ANSWERS) | set(RECEIPTS))},
            "wait_s": {"type": "number", "minimum": 0.1, "maximum": 30},
        },
    },
)
def trigger_retry(ctx: ActionContext, **params: Any) -> ActionResult:
    """Fire the SUT's resend timer; collect whatever it sends again within `wait_s`."""
    ref = params["of"]
    earlier = builds_on(ctx, ref, "a resend needs the original send request to have been taken")
    if "kind" not in earlier.notes:
        raise ActionError(f"step {ref} made the SUT send nothing to resend")
    kind = earlier.notes["kind"]
    server, mark = _inbound(ctx, kind, params["answer"], earlier.peer)
    exchange = ctx.transport.request("agent", "POST", "outbox/retry")
    inbound = _collect(ctx, server, mark, 1, _wait(exchange, float(params.get("wait_s", 3))))
    return ActionResult(
        exchange,
        person=earlier.person,
        peer=earlier.peer,
        more=inbound,
        notes={**earlier.notes, "retry_of": str(params["of"])},
    )


@ACTIONS.register(
    "read-outbox",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of"],
        "properties": {"of": {"type": ["string", "integer"]}},
    },
)
def read_outbox(ctx: ActionContext, **params: Any) -> ActionResult:
    """Ask the test agent what became of the message an earlier step made the SUT send."""
    ref = params["of"]
    earlier = builds_on(ctx, ref, "the outbox lookup needs the send request to have been taken")
    if "kind" not in earlier.notes:
        raise ActionError(f"step {ref} made the SUT send nothing")
    query = urlencode({"messageId": earlier.notes.get("message_id", "")})
    exchange = ctx.transport.request("agent", "GET", f"outbox?{query}")
    return ActionResult(exchange, person=earlier.person, peer=earlier.peer, notes=earlier.notes)


def _wait(exchange: Exchange, wait_s: float) -> float:
    """How long to wait for the SUT to send: not at all once its agent refused the request
    (whatever arrived already is still collected)."""
    ok = exchange.status is not None and 200 <= exchange.status < 300
    return wait_s if ok else 0.0


def _message_id(exchange: Exchange) -> str:
    try:
        data = parse_json(exchange.response_body)
        return str(data["messages"][0]["messageId"])
    except (PayloadError, KeyError, IndexError, TypeError):
        return ""
