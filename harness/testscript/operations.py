"""TestScript operations: requests kcert sends to the SUT, or serves as the SUT's server.

Two roles, chosen per script (see `Script.client_mode`):
- the SUT is the FHIR server (no operation names an `origin`): kcert is the client and sends
  every operation to the SUT's FHIR endpoint (or, through `url`, to another SUT endpoint);
- the SUT is the client (MedCom's TouchStone scripts: `origin` 1 is the SUT): kcert plays the
  server. Operations without origin are kcert's own and act on its mailbox (create, update,
  delete of fixtures). A `read` by the SUT of a message in the mailbox is the SUT receiving
  it: kcert delivers it with `POST {fhir}/$process-message`. A message the SUT itself sends is
  received only where kcert already holds it (the acknowledgement the SUT returned to a
  delivery); any other message the SUT sends, kcert asks its test agent for and receives on
  its peer (`sending`).
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qsl

from harness.dates import now_iso
from harness.fhir.fhirpath import FhirPathError, evaluate
from harness.model.exchange import Exchange
from harness.runner.actions import ActionError
from harness.testscript.context import Call, ScriptState, Unsupported
from harness.testscript.fixtures import Payload, read_payload
from harness.testscript.sending import sut_sends

MIME = {"json": "application/fhir+json", "xml": "application/fhir+xml"}
ACK_EVENT = "acknowledgement-message"
MAILBOX = "kcert-mailbox:"
WRITES = ("create", "update", "updateCreate", "transaction", "batch", "process-message")
DELETES = ("delete", "deleteCondSingle", "deleteCondMultiple")
KNOWN = (
    "create",
    "read",
    "vread",
    "update",
    "updateCreate",
    "search",
    "history",
    "transaction",
    "batch",
    "capabilities",
    "process-message",
    *DELETES,
)


def operation_code(op: dict[str, Any]) -> str:
    code = str((op.get("type") or {}).get("code") or "")
    if code == "$process-message":
        return "process-message"
    if not code and op.get("method"):
        return "method:" + str(op["method"]).upper()
    return code


def perform(state: ScriptState, op: dict[str, Any]) -> Call:
    """Carry out one operation; raises Unsupported or ActionError when it cannot."""
    code = operation_code(op)
    if not code:
        raise Unsupported("operation without type or method")
    if code not in KNOWN and not code.startswith("method:"):
        raise Unsupported(f"operation {code}")
    if state.script.client_mode():
        call = sut_initiated(state, op, code) if "origin" in op else mailbox(state, op, code)
    else:
        call = to_sut(state, op, code)
    for key, store in (("responseId", state.responses), ("requestId", state.requests)):
        if isinstance(op.get(key), str):
            store[op[key]] = call
    state.last = call
    return call


# -- kcert as the client: the SUT is the server --------------------------------------------------


def _mime(value: Any, default: str = "json") -> str:
    text = str(value or default)
    return MIME.get(text, text)


def _fmt(mime: str) -> str:
    return "xml" if "xml" in mime else "json"


def _target_id(state: ScriptState, op: dict[str, Any]) -> tuple[str, str]:
    """(id, versionId) of the resource an operation addresses by targetId or sourceId."""
    for key in ("targetId", "sourceId"):
        ref = op.get(key)
        if isinstance(ref, str):
            resource = state.payload(ref).resource or {}
            rid = str(resource.get("id") or "")
            if not rid and ref in state.responses:
                location = _location(state.responses[ref])
                rid = location[0]
            version = str((resource.get("meta") or {}).get("versionId") or "")
            if rid:
                return rid, version
    raise ActionError("the operation names no resource id (params, targetId or sourceId)")


def _location(call: Call) -> tuple[str, str]:
    for key, value in call.response_headers.items():
        if key.lower() in ("location", "content-location"):
            parts = value.rstrip("/").split("/")
            if "_history" in parts:
                at = parts.index("_history")
                return parts[at - 1], parts[at + 1] if at + 1 < len(parts) else ""
            return parts[-1], ""
    return "", ""


def _request_line(state: ScriptState, op: dict[str, Any], code: str) -> tuple[str, str]:
    rtype = str(op.get("resource") or "")
    params = state.substitute(str(op.get("params") or ""))
    if code.startswith("method:"):
        return code.split(":", 1)[1], rtype + params
    if code == "create":
        return "POST", rtype + params
    if code in ("transaction", "batch"):
        return "POST", params
    if code == "process-message":
        return "POST", "$process-message" + params
    if code == "capabilities":
        return "GET", "metadata"
    if code == "search":
        return "GET", rtype + params
    method = {"read": "GET", "vread": "GET", "history": "GET", "update": "PUT"}.get(code, "")
    method = method or ("PUT" if code == "updateCreate" else "DELETE")
    if params:
        return method, rtype + params
    rid, version = _target_id(state, op)
    if code == "vread":
        if not version:
            raise ActionError("vread needs a versionId (params or the target's meta.versionId)")
        return method, f"{rtype}/{rid}/_history/{version}"
    if code == "history":
        return method, f"{rtype}/{rid}/_history"
    return method, f"{rtype}/{rid}"


_URL_METHODS = {
    "create": "POST",
    "update": "PUT",
    "updateCreate": "PUT",
    "transaction": "POST",
    "batch": "POST",
    "process-message": "POST",
    **{code: "DELETE" for code in DELETES},
}


def _route(state: ScriptState, url: str) -> tuple[str, str]:
    """(endpoint name, path) for an operation's `url`: only the SUT's own endpoints."""
    for name, base in sorted(state.sut.endpoints.items(), key=lambda kv: -len(kv[1])):
        if url.startswith(base.rstrip("/")):
            return name, url[len(base.rstrip("/")) :].lstrip("/")
    if "://" not in url:
        return "fhir", url.lstrip("/")
    raise Unsupported(f"operation url {url} outside the SUT's configured endpoints")


def to_sut(state: ScriptState, op: dict[str, Any], code: str) -> Call:
    endpoint = "fhir"
    if isinstance(op.get("url"), str):
        endpoint, path = _route(state, state.substitute(op["url"]))
        method = _URL_METHODS.get(code) or code.partition(":")[2] or "GET"
    else:
        method, path = _request_line(state, op, code)
    content_type = _mime(op.get("contentType"))
    headers = {"Accept": _mime(op.get("accept"))}
    body = b""
    request: Payload | None = None
    if isinstance(op.get("sourceId"), str) and method in ("POST", "PUT", "PATCH"):
        request = state.payload(op["sourceId"])
        if code == "update" or code == "updateCreate":
            request = _with_id(request, path.rstrip("/").split("/")[-1])
        body = request.body(_fmt(content_type))
        headers["Content-Type"] = content_type
    for item in op.get("requestHeader", []) or []:
        if isinstance(item, dict) and isinstance(item.get("field"), str):
            headers[item["field"]] = state.substitute(str(item.get("value", "")))
    exchange = state.transport.request(endpoint, method, path, body, headers)
    response = read_payload(exchange.response_body, exchange.response_content_type, "response")
    return Call(
        method,
        exchange.url,
        request,
        exchange.request_headers,
        exchange.status,
        response,
        exchange.response_headers,
        exchange,
    )


def _with_id(payload: Payload, rid: str) -> Payload:
    if payload.resource is None or not rid or payload.resource.get("id") == rid:
        return payload
    resource = copy.deepcopy(payload.resource)
    resource["id"] = rid
    return Payload(resource, json.dumps(resource).encode(), "json", payload.name)


# -- kcert as the server: its mailbox ------------------------------------------------------------


def _local(
    method: str, target: str, request: Payload | None, status: int, response: Payload | None
) -> Call:
    """A call kcert answered itself; recorded like an exchange so the report shows it."""
    body = request.raw if request else b""
    answer = response.raw if response else b""
    ct = MIME.get(response.fmt, "") if response else ""
    exchange = Exchange(
        method,
        MAILBOX + target,
        {"Content-Type": MIME.get(request.fmt, "")} if request else {},
        body,
        status=status,
        response_headers={"Content-Type": ct} if ct else {},
        response_body=answer,
        started=now_iso("milliseconds"),
    )
    return Call(
        method,
        exchange.url,
        request,
        exchange.request_headers,
        status,
        response,
        exchange.response_headers,
        exchange,
    )


def _params_id(state: ScriptState, op: dict[str, Any]) -> str:
    params = state.substitute(str(op.get("params") or ""))
    return params.lstrip("/").split("?")[0].split("/")[0] if params.startswith("/") else ""


def mailbox(state: ScriptState, op: dict[str, Any], code: str) -> Call:
    rtype = str(op.get("resource") or "")
    if code in ("create", "update", "updateCreate"):
        if not isinstance(op.get("sourceId"), str):
            raise ActionError(f"{code} needs a sourceId (the fixture to place on the server)")
        fixture = state.payload(op["sourceId"])
        rid = _params_id(state, op) or str((fixture.resource or {}).get("id") or state.new_id())
        stored = _with_id(fixture, rid)
        rtype = rtype or str((stored.resource or {}).get("resourceType", ""))
        existed = (rtype, rid) in state.mailbox
        state.mailbox[(rtype, rid)] = stored
        status = 200 if existed and code != "create" else 201
        return _local(
            "PUT" if code != "create" else "POST", f"{rtype}/{rid}", stored, status, stored
        )
    if code in DELETES:
        params = state.substitute(str(op.get("params") or ""))
        gone = _delete(state, rtype, params)
        return _local("DELETE", f"{rtype}{params}", None, 204 if gone else 200, None)
    if code == "read":
        rid = _params_id(state, op) or _target_id(state, op)[0]
        found = state.mailbox.get((rtype, rid))
        return _local("GET", f"{rtype}/{rid}", None, 200 if found else 404, found)
    raise Unsupported(f"{code} by the test engine against the server kcert plays (its mailbox)")


def _delete(state: ScriptState, rtype: str, params: str) -> int:
    if params.startswith("/"):
        return 1 if state.mailbox.pop((rtype, params.strip("/")), None) else 0
    conditions = parse_qsl(params.lstrip("?"), keep_blank_values=True)
    doomed = []
    for key, payload in state.mailbox.items():
        if key[0] != rtype:
            continue
        if all(_matches(payload, name, value) for name, value in conditions):
            doomed.append(key)
    for key in doomed:
        del state.mailbox[key]
    return len(doomed)


def _matches(payload: Payload, name: str, value: str) -> bool:
    expressions = {
        "_id": "id",
        "message.destination-uri": "Bundle.entry[0].resource.destination.endpoint",
    }
    if name not in expressions:
        raise Unsupported(f"conditional delete on kcert's mailbox by search parameter {name}")
    try:
        found = evaluate(payload.resource, expressions[name]) if payload.resource else []
    except FhirPathError:
        return False
    return value in [str(v) for v in found]


# -- what the SUT does (origin set) --------------------------------------------------------------


def event_of(resource: dict[str, Any] | None) -> str:
    if (
        not resource
        or resource.get("resourceType") != "Bundle"
        or resource.get("type") != "message"
    ):
        return ""
    entries = resource.get("entry") or [{}]
    header = (entries[0] or {}).get("resource") or {}
    event = header.get("eventCoding") or {}
    return str(event.get("code") or "") if header.get("resourceType") == "MessageHeader" else ""


def ack_code(resource: dict[str, Any] | None) -> str:
    if event_of(resource) != ACK_EVENT or resource is None:
        return ""
    header = resource["entry"][0]["resource"]
    return str((header.get("response") or {}).get("code") or "")


def sut_initiated(state: ScriptState, op: dict[str, Any], code: str) -> Call:
    rtype = str(op.get("resource") or "resource")
    if code in ("read", "vread"):
        return deliver(state, op, rtype)
    if code in WRITES:
        template = _template(state, op)
        delivered = state.last_delivery
        answer = delivered.response.resource if delivered and delivered.response else None
        if event_of(template) == ACK_EVENT and ack_code(answer) and delivered is not None:
            # The SUT's acknowledgement already came back as the answer to the delivery.
            assert delivered.response is not None
            return _local(
                "POST",
                f"{rtype} (acknowledgement returned by the SUT)",
                delivered.response,
                201,
                None,
            )
        return sut_sends(state, op, code, template, event_of(template))
    raise Unsupported(f"SUT-initiated {code} of {rtype}")


def _template(state: ScriptState, op: dict[str, Any]) -> dict[str, Any] | None:
    source = op.get("sourceId")
    if not isinstance(source, str):
        return None
    try:
        return state.payload(source).resource
    except ActionError:
        return None  # only a template: the SUT supplies the body


def deliver(state: ScriptState, op: dict[str, Any], rtype: str) -> Call:
    """The SUT reading a message from kcert's mailbox: kcert delivers it to the SUT."""
    rid = _params_id(state, op)
    if not rid and (op.get("targetId") or op.get("sourceId")):
        rid = _target_id(state, op)[0]
    stored = state.mailbox.get((rtype, rid))
    if stored is None:
        raise ActionError(
            f"the SUT is to read {rtype}/{rid or '?'}, but the script placed no such resource "
            "on the server kcert plays"
        )
    if not event_of(stored.resource):
        raise Unsupported(
            f"SUT-initiated read of {rtype}/{rid}: kcert can hand the SUT only FHIR messages "
            "(Bundle of type message), by $process-message"
        )
    fmt = _fmt(_mime(op.get("accept"), stored.fmt or "json"))
    headers = {"Content-Type": MIME[fmt], "Accept": MIME[fmt]}
    exchange = state.transport.request(
        "fhir", "POST", "$process-message", stored.body(fmt), headers
    )
    response = read_payload(exchange.response_body, exchange.response_content_type, "response")
    call = Call(
        "POST",
        exchange.url,
        stored,
        exchange.request_headers,
        exchange.status,
        response,
        exchange.response_headers,
        exchange,
    )
    code = ack_code(response.resource)
    if code:
        call.notes.append(f"the SUT answered the delivered message with acknowledgement {code}")
    if code == "ok":
        state.thread.append(stored)  # the SUT took it: a later reply or forward may name it
    state.last_delivery = call
    return call
