"""What a TestScript asks the SUT to send, as fields of the test agent's SendRequest (1.4.0).

MedCom's scripts say what the message must contain only through their asserts, so kcert reads
them (expressions, values, descriptions, the test's and script's names):
- reply or forward (Provenance activity, a `revision` entity, the test's name) of the earlier
  message named by the variable the asserts compare with (`${messageHeaderid-…}`), else the
  script's latest message: `replyTo` / `forward` with its MessageHeader.id;
- a forward of part of a thread (the asserts count fewer payloads than the earlier message
  and the new segment would make): `include: text`;
- attachments: a MIME type asked for (`contentType = 'image/png'`), a link (`content.url`),
  several (`data.count() > 1`), or as many as the payload counts leave for new ones;
- `category` asked for by value, or changed against the earlier message's (`!= ${category…}`);
  a changed topic; `priority` (with category regarding-referral, the only one it is allowed
  with); an Encounter with an episode-of-care identifier when the asserts want one and no
  earlier message has it (a reply carries the earlier one itself: that is what is tested);
- a specific sender (the sender extension) and recipient;
- a patient without CPR (`Patient.identifier.system != CPR`): kcert's synthetic X-eCPR.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from harness.runner.actions import ActionError
from harness.testscript.context import ScriptState
from harness.testscript.fixtures import Payload
from harness.testscript.samples import FORMATS, Asked, link, sample

CATEGORY_CHOICES = ("carecoordination", "examination-results", "other")
NEW_TOPIC = "Nyt emne: opfølgning fra lægen"
SENDER_TEAM = "Lægerne i Referenceklinikken"
RECIPIENT_TEAM = "Hjemmeplejen, team syd"
# kcert's synthetic patient without CPR: a replacement number in the X-eCPR format
REPLACEMENT_PATIENT = {"xEcpr": "0101907KC1", "given": "Xenia", "family": "Erstatning"}
_NOT_CPR = re.compile(r"Patient\)\.identifier\.system\s*!=\s*'urn:oid:1\.2\.208\.176\.1\.2'")
_VAR = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")
_CONTENT_TYPE = re.compile(r"contentType\s*=\s*'([a-z]+/[a-z.+-]+)'")
_CATEGORY_IS = re.compile(r"category\.coding\.code\s*=\s*'([a-z-]+)'")
_CATEGORY_NOT = re.compile(r"category\.coding\.code\s*!=\s*'\$\{([A-Za-z0-9_.-]+)\}'")
_PAYLOADS = re.compile(r"ofType\(Communication\)\.payload\.count\(\)\s*=\s*'?(\d+)'?")
_DATA = re.compile(r"payload\.content\.data\.count\(\)\s*(=|>)\s*'?(\d+)'?")


@dataclass
class Asking:
    """The SendRequest fields beyond kind/patient/receiver, and what kcert noted about them."""

    fields: dict[str, Any] = field(default_factory=dict)
    attachments: list[Asked] = field(default_factory=list)
    earlier: Payload | None = None
    notes: list[str] = field(default_factory=list)

    def request_fields(self) -> dict[str, Any]:
        out = dict(self.fields)
        if self.attachments:
            out["attachments"] = [a.request() for a in self.attachments]
        return out


def assert_specs(state: ScriptState) -> list[dict[str, Any]]:
    return [
        a["assert"]
        for a in state.block.get("action", []) or []
        if isinstance(a, dict) and isinstance(a.get("assert"), dict)
    ]


def _texts(state: ScriptState) -> str:
    return " ".join(json.dumps(spec, ensure_ascii=False) for spec in assert_specs(state))


def _expressions(state: ScriptState) -> list[str]:
    return [str(s.get("expression") or "") for s in assert_specs(state)]


def _value(state: ScriptState, name: str) -> str:
    try:
        return state.variable(name)
    except ActionError:
        return ""


def _communication(payload: Payload | None) -> dict[str, Any]:
    for entry in ((payload.resource if payload else None) or {}).get("entry") or []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Communication":
            return res
    return {}


def header_id(payload: Payload | None) -> str:
    entries = ((payload.resource if payload else None) or {}).get("entry") or [{}]
    first = entries[0].get("resource") if isinstance(entries[0], dict) else None
    return str(first.get("id") or "") if isinstance(first, dict) else ""


def earlier_message(state: ScriptState) -> tuple[Payload | None, str]:
    """(the message a reply/forward refers to, how kcert chose it)."""
    for expression in _expressions(state):
        if "entity.what.reference" not in expression:
            continue
        for name in _VAR.findall(expression):
            definition = next(
                (v for v in state.script.data.get("variable", []) if v.get("name") == name), None
            )
            source = definition.get("sourceId") if definition else None
            if not isinstance(source, str):
                continue
            try:
                found = state.payload(source)
            except ActionError:
                continue
            if header_id(found):
                return found, f"the message of fixture {source} (variable ${{{name}}})"
    if state.thread:
        return state.thread[-1], "the latest message of this script"
    return None, ""


def _attachment_count(state: ScriptState, earlier: Payload | None, include: str) -> int | None:
    """New attachments the payload counts leave room for, or None when they say nothing."""
    texts = " ".join(_expressions(state))
    total = _PAYLOADS.search(texts)
    if total is None:
        return None
    payloads = [p for p in _communication(earlier).get("payload") or [] if isinstance(p, dict)]
    carried = [p for p in payloads if include == "all" or "contentString" in p]
    return int(total.group(1)) - len(carried) - 1  # the new text segment


def _wants_attachment(state: ScriptState, texts: str) -> bool:
    words = f"{state.script.id} {state.block.get('id', '')} {state.block.get('name', '')}"
    markers = ("payload.content.data", "content.creation", "contentAttachment")
    return (
        "attachment" in words.lower()
        or any(m in texts for m in markers)
        or bool(_CONTENT_TYPE.search(texts))
    )


def ask(state: ScriptState, activity: str) -> Asking:
    """What to ask the SUT for, from the running test's asserts."""
    texts = _texts(state)
    asking = Asking()
    include = "all"
    if activity in ("reply-message", "forward-message"):
        earlier, how = earlier_message(state)
        if earlier is None:
            raise ActionError(
                f"the SUT is to send a {activity}, but no earlier CareCommunication of this "
                "script was received or sent by the SUT to refer to"
            )
        asking.earlier = earlier
        ident = header_id(earlier)
        if activity == "forward-message":
            more = _attachment_count(state, earlier, "all")
            fewer = _attachment_count(state, earlier, "text")
            if more is not None and more < 0 and fewer is not None and fewer >= 0:
                include = "text"  # the asserts count only the text segments going along
            asking.fields["forward"] = {"messageHeaderId": ident, "include": include}
        else:
            asking.fields["replyTo"] = {"messageHeaderId": ident}
        asking.notes.append(
            f"{activity} to MessageHeader.id {ident}: {how}"
            + ("; only its text segments go along" if include == "text" else "")
        )
    _categories(state, texts, asking)
    if asking.earlier is not None and _topic_changes(state):
        asking.fields["topic"] = NEW_TOPIC
    if ".priority" in texts:
        asking.fields["priority"] = "asap"
        asking.fields.setdefault("category", "regarding-referral")
    if "episodeOfCare" in texts and not _has_episode(asking.earlier):
        episode = state.new_id()
        asking.fields["encounter"] = {"episodeOfCareIdentifier": {"value": episode}}
    if _NOT_CPR.search(texts):
        asking.fields["patient"] = dict(REPLACEMENT_PATIENT)
        asking.notes.append(
            f"asked for a patient without CPR: X-eCPR {REPLACEMENT_PATIENT['xEcpr']} (synthetic)"
        )
    if "medcom-core-sender-extension" in texts:
        asking.fields["specificSender"] = {"careTeam": SENDER_TEAM}
    if "recipient.exists()" in texts:
        asking.fields["specificRecipient"] = {"careTeam": RECIPIENT_TEAM}
    _attachments(state, texts, asking, include)
    return asking


def _topic_changes(state: ScriptState) -> bool:
    """An assert that the topic differs (from the earlier message's, or between two)."""
    for spec in assert_specs(state):
        where = f"{spec.get('expression', '')} {spec.get('compareToSourceExpression', '')}"
        differs = spec.get("operator") == "notEquals" or "!=" in where
        if "topic" in where and differs:
            return True
    return False


def _categories(state: ScriptState, texts: str, asking: Asking) -> None:
    wanted = _CATEGORY_IS.search(texts)
    if wanted:
        asking.fields["category"] = wanted.group(1)
        return
    changed = _CATEGORY_NOT.search(texts)
    if changed:
        before = _value(state, changed.group(1))
        asking.fields["category"] = next(c for c in CATEGORY_CHOICES if c != before)


def _has_episode(earlier: Payload | None) -> bool:
    for entry in ((earlier.resource if earlier else None) or {}).get("entry") or []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Encounter":
            return any(
                isinstance(e, dict) and e.get("identifier") for e in res.get("episodeOfCare") or []
            )
    return False


def _attachments(state: ScriptState, texts: str, asking: Asking, include: str) -> None:
    if not _wants_attachment(state, texts) and "content.url" not in texts:
        return
    kinds = [t for t in _CONTENT_TYPE.findall(texts) if t in FORMATS]
    if "content.url" in texts:
        asking.attachments.append(link("Link til forløbsplanen"))
    data = _DATA.search(" ".join(_expressions(state)))
    count = max(1, len(kinds))
    if data and data.group(1) == ">":
        count = max(count, int(data.group(2)) + 1)
    room = _attachment_count(state, asking.earlier, include) if asking.earlier else None
    if room is not None:
        count = room  # a reply or forward: the payload count says how many are new
    if "content.url" in texts and not kinds and not data:
        count = 0
    order = [*kinds, *(t for t in ("application/pdf", "image/png") if t not in kinds)]
    for n in range(max(0, count)):
        kind = order[n % len(order)]
        asking.attachments.append(sample(kind, f"Bilag {n + 1} ({kind.split('/')[1]})"))
    if asking.attachments:
        asking.notes.append(
            "asked for attachments: "
            + ", ".join(a.content_type or "link" for a in asking.attachments)
        )
