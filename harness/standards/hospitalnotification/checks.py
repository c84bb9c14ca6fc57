"""HospitalNotification's own checks: the stay the SUT shows after the notifications kcert sent
(test agent `GET /hospital-stays`), and the validation context the acknowledgement lacks
without MedCom's HospitalNotification package.

The acknowledgement itself is judged by the shared `ack` and `same-ack` checks, as for every
MedCom message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks import profiles
from harness.checks.registry import CHECKS, CheckContext, NotEvaluated, StepRecord, root_reason
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.safeparse import PayloadError, parse_json

CPR = "urn:oid:1.2.208.176.1.2"
MESSAGE_PROFILE = (
    "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/"
    "medcom-hospitalNotification-message"
)
STATES = ["acute-ambulant", "admitted", "on-leave", "discharged", "deceased", "cancelled"]
EFFECTS = ["applied", "out-of-order", "cancelled", "cancellation", "revised"]
_STEP = {"type": ["string", "integer"]}


def sent_stay(record: StepRecord) -> tuple[str, str]:
    """(episode-of-care identifier, patient CPR) of the notification a step sent."""
    resource = record.sent.resource if record.sent else {}
    episode = cpr = ""
    for entry in resource.get("entry", []):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            continue
        if res.get("resourceType") == "Encounter":
            for item in res.get("episodeOfCare", []) or []:
                value = ((item or {}).get("identifier") or {}).get("value")
                episode = episode or (str(value) if value else "")
        if res.get("resourceType") == "Patient":
            for ident in res.get("identifier", []) or []:
                if isinstance(ident, dict) and ident.get("system") == CPR:
                    cpr = str(ident.get("value", ""))
    return episode, cpr


def _stays(ctx: CheckContext) -> list[dict[str, Any]] | Finding:
    if ctx.exchange.status != 200:
        return ctx.bad_status("200", "AGENT-HTTP", "the test agent's hospital stays")
    try:
        data = parse_json(ctx.exchange.response_body)
        stays = data["stays"]
        if not isinstance(stays, list) or not all(isinstance(s, dict) for s in stays):
            raise TypeError("stays is not a list of objects")
        for stay in stays:
            notes = stay.get("notifications", [])
            if not isinstance(notes, list) or not all(isinstance(n, dict) for n in notes):
                raise TypeError("notifications is not a list of objects")
    except (PayloadError, KeyError, TypeError):
        return ctx.bad_answer(
            "AGENT-FORMAT",
            "test agent answer is not {'stays': [...]} as the LPS test agent API says",
            "/stays",
        )
    return stays


@CHECKS.register(
    "hospital-stay",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of"],
        "properties": {
            "of": _STEP,
            "present": {"type": "boolean"},
            "patient": {"type": "boolean"},
            "state": {"enum": STATES},
            "effects": {"type": "array", "items": {"enum": EFFECTS}},
            "start": {"type": "string"},
        },
    },
)
def hospital_stay(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The stay of the notification step `of` sent, as the SUT shows it: there at all
    (`present`, default true; with `patient`, no stay of the notification's patient may be
    shown either), in `state`, built from notifications whose effects are `effects` (in order
    of arrival), starting at `start`."""
    ref = str(params["of"])
    record = ctx.earlier.get(ref)
    if record is None or record.sent is None:
        raise NotEvaluated(f"step {ref} sent no HospitalNotification whose stay to look up")
    if record.root is not None:
        raise NotEvaluated(
            f"the stay of step {ref}'s notification, but {root_reason(record.root)}", record.root
        )
    episode, cpr = sent_stay(record)
    if not episode:
        raise NotEvaluated(f"the notification of step {ref} names no episode of care")
    got = _stays(ctx)
    if isinstance(got, Finding):
        yield got
        return
    mine = [(i, s) for i, s in enumerate(got) if s.get("episodeOfCare") == episode]
    if not params.get("present", True):
        if params.get("patient"):
            mine += [(i, s) for i, s in enumerate(got) if cpr and s.get("patientCpr") == cpr]
        for index, stay in mine[:1]:
            yield ctx.finding(
                "HN-STAY-SHOWN",
                f"the SUT shows a stay ({stay.get('state')!r}) from the notification of step "
                f"{ref}, which it should not have loaded",
                f"/stays/{index}",
                "json-pointer",
            )
        return
    if not mine:
        yield ctx.finding(
            "HN-STAY-MISSING",
            f"the SUT shows no stay with the episode of care {episode!r} of step {ref}'s "
            f"notification ({len(got)} stay(s) shown)",
            "/stays",
            "json-pointer",
        )
        return
    index, stay = mine[-1]
    where = f"/stays/{index}"
    if stay.get("patientCpr") != cpr:
        yield ctx.finding(
            "HN-STAY-PATIENT",
            "the stay is shown for another CPR than the notification's patient",
            f"{where}/patientCpr",
            "json-pointer",
        )
    if "state" in params and stay.get("state") != params["state"]:
        yield ctx.finding(
            "HN-STAY-STATE",
            f"the stay is shown as {stay.get('state')!r}, expected {params['state']!r}",
            f"{where}/state",
            "json-pointer",
        )
    if "effects" in params:
        effects = [n.get("effect") for n in stay.get("notifications", [])]
        if effects != params["effects"]:
            yield ctx.finding(
                "HN-STAY-HISTORY",
                f"the stay's notifications did {effects} (in order of arrival), expected "
                f"{params['effects']}",
                f"{where}/notifications",
                "json-pointer",
            )
    if "start" in params and stay.get("start") != params["start"]:
        yield ctx.finding(
            "HN-STAY-START",
            f"the stay is shown as starting {stay.get('start')!r}, expected {params['start']!r}",
            f"{where}/start",
            "json-pointer",
        )


@CHECKS.register("hospitalnotification-context", {"type": "object", "additionalProperties": False})
def hospitalnotification_context(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The acknowledgement's HospitalNotification context: the acknowledgement version that
    belongs with a HospitalNotification comes from MedCom's HospitalNotification package
    (its MessageDefinition). Without it, that part of the judgement is a named not-run: the
    `ack` check still validates the answer against the acknowledgement profile."""
    found = profiles.validator()
    if found is None:
        yield ctx.pack_missing(ctx.exchange, "fhir-package", "HospitalNotification context")
        return
    if not found.index.defining(MESSAGE_PROFILE):
        yield ctx.finding(
            "PACK-MISSING",
            "HospitalNotification context: not run: pack missing (no installed FHIR package "
            f"defines {MESSAGE_PROFILE}): the acknowledgement version that belongs with a "
            "HospitalNotification is not known; the acknowledgement was judged without it (its "
            "FHIR-CONTEXT remark names the context used)",
            "",
            "",
            Severity.OK,
        )
