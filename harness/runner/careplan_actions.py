"""Care-plan sharing and PRO steps: ask the SUT to share a plan with kcert's document
repository (the peer), send QRD documents, read one patient's plan back.

The repository is the session's peer server (harness.transport.peer): the SUT POSTs the
provide-and-register body (JSON metadata + base64 CDA) to the URL given in the share request;
the peer answers like a registry (Success / Failure) and keeps the request as evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import jinja2
import requests

from harness.checks.cpd_facts import (
    KCERT_CODES,
    SUBMISSION_NOTE,
    SubmissionError,
    read_cpd,
    read_submission,
)
from harness.checks.oracle_view import oracle_at
from harness.checks.registry import NotEvaluated
from harness.fixtures import FIXTURES_DIR
from harness.model.exchange import Exchange
from harness.population.model import MCS, Measurement, PatientRecord, Population, StartBack
from harness.runner.actions import ACTIONS, ActionContext, ActionError, ActionResult, builds_on
from harness.safeparse import PayloadError
from harness.transport.base import Stopwatch, redact_headers, redact_url
from harness.transport.capabilities import ExtraHeaders, InboundRecord
from harness.transport.peer import Reply, Responder
from harness.yamlsource import load_yaml

_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
REPOSITORY_PATH = "/kcert-repository/v1/documents"
WAIT_FOR_SUBMISSION_S = 10.0
VIEWER_TIMEOUTS_S = (5.0, 10.0)  # connect, read: kcert's own repository on loopback
MAX_FETCHED_BYTES = 10 * 1024 * 1024
QRD_TEMPLATE = "documents/qrd.xml.j2"
QUESTIONNAIRES = FIXTURES_DIR / "documents" / "questionnaires.yaml"


def repository_answer(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
    """What kcert's repository answers: Success for a readable submission, else Failure."""
    if method != "POST":
        return _registry(405, "Failure", ["the repository takes POST (provide and register)"])
    try:
        submission = read_submission(body)
        read_cpd(submission.document)  # hostile XML (DTD, entities, depth) is refused here
    except SubmissionError as exc:
        return _registry(400, "Failure", [str(exc)])
    except PayloadError as exc:
        return _registry(400, "Failure", [f"document: {exc}"])
    return _registry(200, "Success", [], submission.get("uniqueId"))


def _registry(status: int, word: str, errors: list[str], document_id: str = "") -> Reply:
    body: dict[str, Any] = {"status": word, "errors": errors}
    if document_id:
        body["documentId"] = document_id
    return Reply(status, "application/json", json.dumps(body).encode("utf-8"))


def _pick(ctx: ActionContext, params: dict[str, Any], as_of: str) -> str:
    """A patient of an oracle profile: by index, or the one with the most measurements."""
    if "same_patient_as" in params:
        earlier = builds_on(ctx, params["same_patient_as"], "it needs that step's patient")
        if "cpr" not in earlier.notes:
            raise ActionError(f"step {params['same_patient_as']} named no patient")
        return str(earlier.notes["cpr"])
    result = oracle_at(ctx.state, as_of)
    try:
        cprs = sorted(result.member_cprs(params["patient_in"]))
    except KeyError as exc:
        raise ActionError(str(exc.args[0])) from None
    if not cprs:
        raise ActionError(f"the oracle puts nobody in {params['patient_in']}: nobody to pick")
    if params.get("pick") == "richest":
        records = result.population.by_cpr()
        return max(cprs, key=lambda c: (sum(map(len, records[c].measurements.values())), c))
    index = int(params.get("index", 0))
    if index >= len(cprs):
        raise ActionError(f"{params['patient_in']} has only {len(cprs)} patients")
    return str(cprs[index])


_PATIENT = {
    "patient_in": {"type": "string", "description": "an oracle profile"},
    "pick": {"enum": ["index", "richest"]},
    "index": {"type": "integer", "minimum": 0},
    "same_patient_as": {"type": ["string", "integer"]},
}


@ACTIONS.register(
    "share-plan",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["as_of"],
        "properties": {"as_of": _DATE, **_PATIENT},
        "oneOf": [{"required": ["patient_in"]}, {"required": ["same_patient_as"]}],
    },
)
def share_plan(ctx: ActionContext, **params: Any) -> ActionResult:
    """Ask the SUT to share a patient's plan as DK-CPD with kcert's repository; collect it."""
    as_of = params["as_of"]
    cpr = _pick(ctx, params, as_of)
    replaying = isinstance(ctx.transport, InboundRecord)
    peer = None if replaying else ctx.peer_servers.server(ctx.sut.peer)
    base = peer.base_url if peer is not None else "http://127.0.0.1:0"
    body = json.dumps(
        {"repositoryUrl": f"{base}{REPOSITORY_PATH}", "asOf": as_of}, separators=(",", ":")
    ).encode("utf-8")
    mark = peer.expect(repository_answer) if peer is not None else 0
    exchange = ctx.transport.request(
        "agent",
        "POST",
        f"patients/{cpr}/plan/share",
        body,
        {"Content-Type": "application/json", "Accept": "application/json"},
    )
    inbound: list[Exchange]
    if isinstance(ctx.transport, InboundRecord):  # re-judging: what the SUT sent then stands
        inbound = list(ctx.transport.take_inbound())
    elif peer is not None:
        ok = exchange.status is not None and exchange.status < 300
        inbound = peer.wait(mark, 1, WAIT_FOR_SUBMISSION_S if ok else 0.0)
    notes: dict[str, Any] = {"cpr": cpr, "as_of": as_of}
    posted = [e for e in inbound if e.method == "POST"]
    if posted:
        notes[SUBMISSION_NOTE] = posted[-1].request_body
    return ActionResult(exchange, more=inbound, notes=notes)


# ---- a viewer fetches the shared plan from the repository ----------------------------------


def _serving(path: str, submission: bytes) -> Responder:
    """kcert's repository handing out what was registered: the submission at its path."""

    def respond(method: str, asked: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "GET":
            return _registry(405, "Failure", ["the repository hands out documents by GET"])
        if asked.split("?", 1)[0] != path:
            return _registry(404, "Failure", [f"no document at {asked}"])
        return Reply(200, "application/json", submission)

    return respond


@ACTIONS.register(
    "fetch-shared",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of"],
        "properties": {"of": {"type": ["string", "integer"]}},
    },
)
def fetch_shared(ctx: ActionContext, **params: Any) -> ActionResult:
    """A viewer fetches the plan an earlier step shared, from kcert's repository at the URL
    it is advertised at (through a recording proxy when one stands there)."""
    ref = params["of"]
    earlier = builds_on(ctx, ref, "fetching the shared plan needs it to have been shared")
    submission = earlier.notes.get(SUBMISSION_NOTE)
    if "cpr" not in earlier.notes:
        raise ActionError(f"step {ref} shared no plan")
    if not isinstance(submission, bytes):
        raise NotEvaluated(f"nothing arrived at kcert's repository in step {ref} to fetch")
    notes: dict[str, Any] = {"cpr": earlier.notes["cpr"], "as_of": earlier.notes["as_of"]}
    if isinstance(ctx.transport, InboundRecord):  # re-judging: the fetch as recorded
        inbound = list(ctx.transport.take_inbound())
        fetched = next((e for e in inbound if e.method == "GET" and e.status == 200), None)
        if fetched is not None:
            notes[SUBMISSION_NOTE] = fetched.response_body
        return ActionResult(inbound[0] if inbound else None, more=inbound[1:], notes=notes)
    try:
        document_id = str(read_submission(submission).get("uniqueId") or "document")
    except SubmissionError:
        document_id = "document"
    path = f"{REPOSITORY_PATH}/{quote(document_id, safe='')}"
    server = ctx.peer_servers.server(ctx.sut.peer)
    mark = server.expect(_serving(path, submission))
    # the step's headers (a connectathon instance's ids) go with kcert's own request here too
    headers = dict(ctx.transport.extra_headers) if isinstance(ctx.transport, ExtraHeaders) else {}
    exchange = viewer_get(f"{server.base_url}{path}", headers)
    if exchange.status == 200:
        notes[SUBMISSION_NOTE] = exchange.response_body
    return ActionResult(exchange, more=server.wait(mark, 1, 0.0), notes=notes)


def viewer_get(url: str, headers: dict[str, str]) -> Exchange:
    """One bounded GET by kcert's viewer to kcert's own repository; failing to reach it is
    kcert's fault (its peer, or the proxy in front of it), never the SUT's."""
    watch = Stopwatch()
    exchange = Exchange("GET", redact_url(url), redact_headers(headers), b"", started=watch.started)
    try:
        with requests.Session() as session:
            session.trust_env = False
            with session.get(
                url, headers=headers, timeout=VIEWER_TIMEOUTS_S, stream=True
            ) as answer:
                exchange.status = answer.status_code
                exchange.response_headers = redact_headers(dict(answer.headers))
                body = answer.raw.read(MAX_FETCHED_BYTES + 1, decode_content=True)
    except (requests.RequestException, OSError) as exc:
        raise ActionError(
            f"the viewer could not fetch from kcert's repository at {url}: {exc}"
        ) from None
    exchange.truncated = len(body) > MAX_FETCHED_BYTES
    exchange.response_body = body[:MAX_FETCHED_BYTES]
    exchange.duration_ms = watch.elapsed_ms()
    return exchange


# ---- PRO documents (QRD) in ------------------------------------------------------------------


@lru_cache(maxsize=1)
def questionnaires() -> dict[str, Any]:
    doc = load_yaml(QUESTIONNAIRES)
    return dict(doc.data)


@lru_cache(maxsize=1)
def _xml_templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(FIXTURES_DIR)),
        autoescape=True,  # XML: every value is escaped
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_qrd(
    kind: str,
    patient: PatientRecord,
    day: dt.date,
    answers: dict[str, str],
    custodian: dict[str, Any],
) -> tuple[bytes, str]:
    """A DK-QRD document of kcert's questionnaire `kind` with these answers; (bytes, id)."""
    spec = questionnaires()
    form = spec["questionnaires"][kind]
    items = []
    for item in form["items"]:
        scale = spec["scales"][item["scale"]]
        answer = str(answers.get(item["code"], ""))
        if answer not in scale:
            raise ActionError(
                f"{kind}: answer {item['code']} must be one of {', '.join(scale)}, got {answer!r}"
            )
        items.append({**item, "answer": answer, "answer_text": scale[answer]})
    unknown = set(answers) - {i["code"] for i in form["items"]}
    if unknown:
        raise ActionError(f"{kind} has no item {', '.join(sorted(unknown))}")
    doc_id = str(uuid.uuid4())
    context = {
        "codes": {"kcert": KCERT_CODES},
        "doc": {
            "id": doc_id,
            "time": day.strftime("%Y%m%d") + "120000+0100",
            "title": form["title"],
        },
        "patient": {
            "cpr": patient.cpr,
            "given": patient.given,
            "family": patient.family,
            "gender": {"female": "F", "male": "M"}.get(patient.gender, "UN"),
            "birth": patient.birth.strftime("%Y%m%d"),
        },
        "custodian": {"sor": custodian["sor"], "name": custodian["name"]},
        "form": {"id": form["form"]},
        "items": items,
    }
    text = _xml_templates().get_template(QRD_TEMPLATE).render(context)
    return text.encode("utf-8"), doc_id


def with_answers(
    population: Population, cpr: str, kind: str, day: dt.date, answers: dict[str, str]
) -> Population:
    """The population the oracle judges by once the SUT has the new answers."""

    def updated(p: PatientRecord) -> PatientRecord:
        if p.cpr != cpr:
            return p
        if kind == "startback":
            flags = [answers[f"SB{n}"] == "1" for n in range(1, 9)]
            flags.append(int(answers["SB9"]) >= 4)  # very much / extremely
            return dataclasses.replace(p, startbacks=[*p.startbacks, StartBack(day, tuple(flags))])
        cat = float(sum(int(answers[f"CAT{n}"]) for n in range(1, 9)))
        measurements = {k: list(v) for k, v in p.measurements.items()}
        measurements.setdefault((MCS, "MCS88137"), []).append(Measurement(day, cat, ""))
        measurements.setdefault((MCS, "MCS88021"), []).append(
            Measurement(day, float(answers["MRC"]), "")
        )
        return dataclasses.replace(p, measurements=measurements)

    return dataclasses.replace(population, patients=[updated(p) for p in population.patients])


@ACTIONS.register(
    "send-qrd",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["questionnaire", "as_of", "date", "answers", "patient_in"],
        "properties": {
            "questionnaire": {"enum": ["startback", "kol-cat-mrc"]},
            "as_of": _DATE,
            "date": _DATE,
            "answers": {
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^[0-9]$"},
            },
            **_PATIENT,
        },
    },
)
def send_qrd(ctx: ActionContext, **params: Any) -> ActionResult:
    """POST a QRD with these answers for a patient; the oracle takes the answers in too."""
    as_of = params["as_of"]
    cpr = _pick(ctx, params, as_of)
    population: Population | None = ctx.state.get("population")
    if population is None:
        raise ActionError("no population was loaded before this step (load-population)")
    patient = population.by_cpr()[cpr]
    try:
        day = dt.date.fromisoformat(params["date"])
    except ValueError:
        raise ActionError(f"{params['date']!r} is not a date") from None
    kind = params["questionnaire"]
    body, doc_id = render_qrd(kind, patient, day, params["answers"], ctx.peers["kommune"])
    exchange = ctx.transport.request(
        "agent",
        "POST",
        "documents",
        body,
        {"Content-Type": "application/xml; charset=utf-8", "Accept": "application/json"},
    )
    ctx.state["population"] = with_answers(population, cpr, kind, day, params["answers"])
    notes = {"cpr": cpr, "as_of": as_of, "questionnaire": kind, "document_id": doc_id}
    return ActionResult(exchange, notes=notes)


@ACTIONS.register(
    "read-plan",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of", "as_of"],
        "properties": {"of": {"type": ["string", "integer"]}, "as_of": _DATE},
    },
)
def read_plan(ctx: ActionContext, **params: Any) -> ActionResult:
    """Read the plan of the patient an earlier step named (for plans-match-oracle)."""
    earlier = builds_on(ctx, params["of"], "it needs that step's patient")
    if "cpr" not in earlier.notes:
        raise ActionError(f"step {params['of']} named no patient")
    cpr = str(earlier.notes["cpr"])
    exchange = ctx.transport.request("agent", "GET", f"patients/{cpr}/plan?asOf={params['as_of']}")
    return ActionResult(
        exchange, notes={"expected_cprs": [cpr], "as_of": params["as_of"], "cpr": cpr}
    )
