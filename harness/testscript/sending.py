"""The SUT sending a message on its own initiative: a TouchStone `create` with origin 1.

In MedCom's scripts the SUT (origin 1) POSTs a message Bundle to TouchStone's server
(destination 1); the asserts then judge `direction: request` (what the SUT sent) and
`direction: response` (the server's answer). kcert brings this about through the SUT's test
agent: `POST {agent}/outbox/send` with kcert's receiving peer (`harness.transport.peer`, on
127.0.0.1) as the receiver. The peer answers what arrives with kcert's own ok acknowledgement
(`harness.runner.peer_answers.fhir_ack`), and the operation becomes:

- request: the message the SUT sent (the inbound exchange's body, `Exchange.inbound`);
- response: the peer's answer (HTTP status and acknowledgement);
- the operation's `sourceId` fixture, which in these scripts is only a template of what the
  SUT is to send, is bound to the message the SUT sent, so variables taken from it later
  (MessageHeader.id, Communication.identifier of "the new message") name the real message;
  `requestId`/`responseId` work as for any operation.

What the test agent is asked for (the contract's `SendRequest`, 1.4.0):
- the patient of the earlier message (a reply or forward) or of the template fixture when the
  script names one (CPR identifier and name, and only a CPR in kcert's synthetic range), else
  the synthetic test person `kol-karen` (fixtures/persons.yaml); the receiver is the peer
  `kommune` (fixtures/peers.yaml);
- what the asserts want of the message (`asking`): reply/forward of an earlier message,
  attachments, category, topic, priority, Encounter, specific sender/recipient; a reply or
  forward with no earlier message in the script gets kcert's own CareCommunication delivered
  first;
- what the contract cannot ask for (the patient's address, say) is not asked for: the asserts
  that want it judge what the SUT sent, and fail if it is not there;
- any message other than a CareCommunication: "unsupported: …" naming why;
- a SUT without the outbox operation (404/405) is an error "unsupported by the SUT: …".
The attachments that arrive are compared with the ones asked for (`samples.check`); a
difference fails the operation (TESTSCRIPT-SENT).
"""

from __future__ import annotations

import json
import re
from typing import Any

import harness.standards  # noqa: F401  (the message kinds the agent sends, registered)
from harness.checks.diagnostics import sut_says
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.model.exchange import Exchange
from harness.model.kinds import KINDS, of_event
from harness.runner.actions import sut_party
from harness.runner.sendside_actions import responder_for, send_request
from harness.synthetic import synthetic_cpr_problem
from harness.testscript import samples
from harness.testscript.asking import ask, earlier_message
from harness.testscript.context import ActionError, Call, ScriptState, SutFailure, Unsupported
from harness.testscript.fixtures import Payload, read_payload
from harness.transport.peer import shared_peer

CARE_COMMUNICATION = "care-communication-message"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
DEFAULT_PERSON = "kol-karen"
DEFAULT_PEER = "kommune"
WAIT_S = 10.0  # how long kcert's peer waits for the SUT's message after the agent answered
ANSWER = "ok"
TEMPLATE = "messages/carecommunication.json.j2"  # kcert's own message, when one is needed
MIME_JSON = "application/fhir+json"
NOT_IMPLEMENTED = (404, 405)
ACTIVITY = re.compile(r"activity\.coding\.code\s*=\s*'([a-z-]+)'")
# what an assert asks of a message that answers or passes on an earlier one
EARLIER = ("role = 'revision'", "entity.what.reference")


def sut_sends(
    state: ScriptState,
    op: dict[str, Any],
    code: str,
    template: dict[str, Any] | None,
    template_event: str,
) -> Call:
    """Make the SUT send the message the operation stands for; raises Unsupported/ActionError.

    `template` is the operation's sourceId fixture when it can be read, `template_event` its
    MessageHeader event code ("" when it is no message).
    """
    event = template_event or _event(state, op, template)
    what = f"{code} of {event}"
    if isinstance(op.get("sourceId"), str):
        what += f" (fixture {op['sourceId']})"
    found = of_event(event)  # the message event's SendRequest.kind, as its standard registered
    if found is None:
        fhir = [k for k in KINDS.values() if k.event]
        raise Unsupported(
            f"SUT-initiated {what}: the test agent API (POST /outbox/send) can make the SUT "
            f"send only a {', '.join(k.event for k in fhir)} "
            f"(kind {', '.join(k.name for k in fhir)})"
        )
    kind = found.name
    flavour = _flavour(state, op, template)
    if flavour == "reply or forward":
        flavour = "reply-message"  # the asserts refer to an earlier message, name no activity
    arranged: list[Exchange] = []
    arranged_notes: list[str] = []
    if flavour != "new-message" and not state.thread and earlier_message(state)[0] is None:
        arranged, arranged_notes = _arrange_earlier(state, flavour)
    asking = ask(state, flavour)
    person, notes = _patient(state, op, template, asking.earlier)
    peer = load_peers()[DEFAULT_PEER]
    server = None if _replaying(state) else shared_peer(state.sut.peer)
    mark = server.expect(responder_for(kind, ANSWER, peer)) if server is not None else 0
    base = server.base_url if server is not None else "http://127.0.0.1:0"
    request = {**send_request(kind, person, peer, base), **asking.request_fields()}
    notes = [*arranged_notes, *notes, *asking.notes]
    agent = state.transport.request(
        "agent",
        "POST",
        "outbox/send",
        json.dumps(request, ensure_ascii=False).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    status = agent.status or 0
    if status in NOT_IMPLEMENTED:
        raise SutFailure(
            f"unsupported by the SUT: its test agent has no outbox operation (POST "
            f"{agent.url} answered HTTP {status}{_problem(agent)}), so it cannot be made to "
            f"send {event}",
            [agent],
        )
    if not 200 <= status < 300:
        raise SutFailure(
            f"the SUT's test agent did not send {event}: POST {agent.url} answered HTTP "
            f"{status}{_problem(agent)}",
            [agent],
        )
    arrived = _collect(state, server, mark)
    posts = [e for e in arrived if e.method == "POST"]
    if not posts:
        raise SutFailure(
            f"the SUT sent nothing to kcert's peer within {WAIT_S:g} s after its test agent "
            f"accepted POST outbox/send (HTTP {status})",
            [agent, *arrived],
        )
    first = posts[0]
    message = read_payload(
        first.request_body, _content_type(first.request_headers), "message sent by the SUT"
    )
    answer = read_payload(
        first.response_body, _content_type(first.response_headers), "kcert's acknowledgement"
    )
    header_id = _header_id(message.resource)
    notes.insert(0, f"asked the SUT's test agent: POST {agent.url}: HTTP {status}")
    notes.append(
        f"the SUT sent {event}"
        + (f" (MessageHeader.id {header_id})" if header_id else "")
        + f" to kcert's peer, which answered HTTP {first.status}"
        + (f" with acknowledgement {ANSWER}" if first.status == 200 else "")
    )
    if len(posts) > 1:
        notes.append(f"{len(posts)} requests arrived; the first is judged")
    if message.resource is not None and isinstance(op.get("sourceId"), str):
        state.fixtures[op["sourceId"]] = message
    if message.resource is not None:
        state.thread.append(message)
    problems: list[str] = []
    if asking.attachments:
        problems, checked = samples.check(asking.attachments, message.resource)
        notes.extend(checked)
    return Call(
        first.method,
        first.url,
        message,
        first.request_headers,
        first.status,
        answer,
        first.response_headers,
        first,
        notes,
        preceding=[*arranged, agent],
        following=[e for e in arrived if e is not first],
        problems=problems,
    )


# -- what the script asks the SUT to send --------------------------------------------------------


def _assert_texts(state: ScriptState) -> list[str]:
    """Every assert of the running test, as text (expressions, values, descriptions)."""
    texts = []
    for action in state.block.get("action", []) or []:
        spec = action.get("assert") if isinstance(action, dict) else None
        if isinstance(spec, dict):
            texts.append(json.dumps(spec, ensure_ascii=False))
    return texts


def _profiles_asked(state: ScriptState) -> list[str]:
    ids = {
        str((a.get("assert") or {}).get("validateProfileId"))
        for a in state.block.get("action", []) or []
        if isinstance(a, dict) and isinstance(a.get("assert"), dict)
    }
    return [
        str(p.get("reference"))
        for p in state.script.data.get("profile", [])
        if isinstance(p, dict) and p.get("id") in ids
    ]


def _event(state: ScriptState, op: dict[str, Any], template: dict[str, Any] | None) -> str:
    """Without a template: the message event the test's asserts and profiles ask for."""
    texts = " ".join(_assert_texts(state))
    profiles = " ".join(_profiles_asked(state)).lower()
    if f"'{CARE_COMMUNICATION}'" in texts or "carecommunication" in profiles:
        return CARE_COMMUNICATION
    rtype = str(op.get("resource") or "resource")
    source = op.get("sourceId")
    if not isinstance(source, str):
        why = "it names no template fixture"
    elif template is None:
        why = f"its template fixture {source!r} is not available"
    else:
        why = f"its template fixture {source!r} is no FHIR message"
    raise Unsupported(
        f"SUT-initiated {op.get('type', {}).get('code', 'create')} of {rtype}: kcert cannot "
        f"tell which message the SUT is to send ({why}, and the test's asserts name no "
        "message event the test agent can ask for)"
    )


def _flavour(state: ScriptState, op: dict[str, Any], template: dict[str, Any] | None) -> str:
    """new-message, reply-message or forward-message: what the test asks of the message."""
    texts = _assert_texts(state)
    for text in texts:
        match = ACTIVITY.search(text)
        if match:
            return match.group(1)
    words = " ".join(
        str(x) for x in (op.get("sourceId"), state.block.get("id"), state.block.get("name"))
    ).lower()
    refers = any(marker in text for text in texts for marker in EARLIER)
    for flavour in ("forward", "reply"):
        if flavour in words:
            return f"{flavour}-message"
    if refers:
        return "reply or forward"
    activity = _template_activity(template)
    return activity or "new-message"


def _template_activity(template: dict[str, Any] | None) -> str:
    for resource in _resources(template):
        if resource.get("resourceType") != "Provenance":
            continue
        for coding in (resource.get("activity") or {}).get("coding", []) or []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
    return ""


def _resources(bundle: dict[str, Any] | None) -> list[dict[str, Any]]:
    entries = (bundle or {}).get("entry") or []
    found = [e.get("resource") for e in entries if isinstance(e, dict)]
    return [r for r in found if isinstance(r, dict)]


def _patient(
    state: ScriptState,
    op: dict[str, Any],
    template: dict[str, Any] | None,
    earlier: Payload | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The patient of the earlier message (a reply or forward) or of the template fixture,
    when it has a synthetic CPR and a name; else a test person."""
    whose = f"fixture {op.get('sourceId')}"
    if earlier is not None and earlier.resource is not None:
        template, whose = earlier.resource, "the earlier message"
    for resource in _resources(template):
        if resource.get("resourceType") != "Patient":
            continue
        cpr = next(
            (
                str(i.get("value", ""))
                for i in resource.get("identifier", []) or []
                if isinstance(i, dict) and i.get("system") == CPR_SYSTEM
            ),
            "",
        )
        name = next((n for n in resource.get("name", []) or [] if isinstance(n, dict)), {})
        given = " ".join(str(g) for g in name.get("given", []) or [])
        family = str(name.get("family") or "")
        problem = synthetic_cpr_problem(cpr) if cpr else "it has no CPR identifier"
        if not problem and given and family:
            note = f"patient of {whose}: CPR {cpr[:6]}-xxxx"
            return {"cpr": cpr, "given": given, "family": family}, [note]
        why = problem or "it has no given and family name"
        person = load_persons()[DEFAULT_PERSON]
        return person, [f"the patient of {whose} is not used ({why}); {DEFAULT_PERSON}"]
    return load_persons()[DEFAULT_PERSON], [f"synthetic test person {DEFAULT_PERSON}"]


def _arrange_earlier(state: ScriptState, flavour: str) -> tuple[list[Exchange], list[str]]:
    """No earlier message in the script: kcert first delivers its own CareCommunication (from
    kcert's peer `kommune` about the default test person) for the SUT to answer or pass on."""
    rendered = TemplateRenderer().render(
        TEMPLATE,
        {
            "patient": load_persons()[DEFAULT_PERSON],
            "peer": load_peers()[DEFAULT_PEER],
            "sut": sut_party(state.sut),
            "vars": {},
        },
    )
    raw = json.dumps(rendered.resource, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": MIME_JSON, "Accept": MIME_JSON}
    exchange = state.transport.request("fhir", "POST", "$process-message", raw, headers)
    answer = read_payload(exchange.response_body, exchange.response_content_type, "answer")
    code = _ack_code(answer.resource)
    if code != "ok":
        raise ActionError(
            f"the script names no message for the SUT's {flavour}, and the CareCommunication "
            f"kcert delivered for it first was not taken (HTTP {exchange.status}, "
            f"acknowledgement {code or 'none'})",
            [exchange],
        )
    delivered = read_payload(raw, MIME_JSON, "kcert's CareCommunication")
    state.thread.append(delivered)
    note = (
        f"the script names no message for the SUT's {flavour}: kcert first delivered its own "
        f"CareCommunication (MessageHeader.id {_header_id(delivered.resource)}), acknowledged ok"
    )
    return [exchange], [note]


def _ack_code(bundle: dict[str, Any] | None) -> str:
    entries = (bundle or {}).get("entry") or [{}]
    header = (entries[0] or {}).get("resource") if isinstance(entries[0], dict) else None
    response = header.get("response") if isinstance(header, dict) else None
    return str(response.get("code") or "") if isinstance(response, dict) else ""


# -- the exchange ------------------------------------------------------------------------------


def _replaying(state: ScriptState) -> bool:
    return getattr(state.transport, "take_inbound", None) is not None


def _collect(state: ScriptState, server: Any, mark: int) -> list[Exchange]:
    if server is None:
        taken: list[Exchange] = state.transport.take_inbound()  # type: ignore[attr-defined]
        return taken
    got: list[Exchange] = server.wait(mark, 1, WAIT_S)
    return got


def _header_id(bundle: dict[str, Any] | None) -> str:
    entries = (bundle or {}).get("entry") or [{}]
    header = (entries[0] or {}).get("resource") if isinstance(entries[0], dict) else None
    return str(header.get("id") or "") if isinstance(header, dict) else ""


def _content_type(headers: dict[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")


def _problem(exchange: Exchange) -> str:
    """What the SUT said, quoted as every finding quotes it (harness.checks.diagnostics)."""
    said = sut_says(exchange)
    return f"; the SUT says: {said}" if said else ""
