"""The reference LPS's outbox: sends, reads the answer (acknowledgement or CTL receipt),
resends what was never acknowledged, and shows failures to the user."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from harness.reflps.identity import ClinicIdentity
from harness.reflps.outgoing import Compose, Party, Patient, care_communication, referral
from harness.safeparse import PayloadError, parse_json, parse_xml

SEND_TIMEOUT_S = 10.0
MAX_ATTEMPTS = 3
MAX_ANSWER_BYTES = 5 * 1024 * 1024
MAX_KEPT = 1000  # CareCommunications kept to answer or pass on (oldest forgotten first)
OIOXML_NS = "{http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/}"


@dataclass
class Outgoing:
    message_id: str
    kind: str  # carecommunication | referral
    endpoint: str
    body: bytes
    content_type: str
    status: str = "awaiting-ack"  # acknowledged | failed | rejected | awaiting-ack
    attempts: int = 0
    shown_to_user: bool = False
    answer: str = ""  # last acknowledgement code / receipt type seen
    problem: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "shownToUser": self.shown_to_user,
            "answer": self.answer,
            "problem": self.problem,
        }


@dataclass
class Outbox:
    me: ClinicIdentity
    defects: frozenset[str]
    messages: dict[str, Outgoing] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # CareCommunication Bundles received (and accepted) or sent, by MessageHeader.id: what a
    # reply or a forward can refer to
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.kept.clear()

    def keep(self, bundle: dict[str, Any]) -> None:
        """Remember a CareCommunication so it can be answered or passed on later."""
        entries = bundle.get("entry") or [{}]
        header = entries[0].get("resource") if isinstance(entries[0], dict) else None
        if not isinstance(header, dict) or not isinstance(header.get("id"), str):
            return
        if (header.get("eventCoding") or {}).get("code") != "care-communication-message":
            return
        with self.lock:
            self.kept[header["id"]] = bundle
            while len(self.kept) > MAX_KEPT:
                del self.kept[next(iter(self.kept))]

    def earlier(self, header_id: str = "", thread: str = "") -> dict[str, Any] | None:
        """A kept message by MessageHeader.id, or the latest of a thread (identifier)."""
        with self.lock:
            if header_id:
                return self.kept.get(header_id)
            for bundle in reversed(list(self.kept.values())):
                for entry in bundle.get("entry") or []:
                    res = entry.get("resource") if isinstance(entry, dict) else None
                    if not isinstance(res, dict) or res.get("resourceType") != "Communication":
                        continue
                    idents = [i for i in res.get("identifier") or [] if isinstance(i, dict)]
                    if thread in [i.get("value") for i in idents]:
                        found: dict[str, Any] = bundle
                        return found
        return None

    def send(
        self,
        kind: str,
        endpoint: str,
        to: Party,
        patient: Patient,
        package: str,
        text: str,
        compose: Compose | None = None,
    ) -> Outgoing:
        if kind == "referral":
            message_id, body = referral(self.me, to, patient, package, self.defects)
            item = Outgoing(message_id, kind, endpoint, body, "application/xml; charset=utf-8")
        else:
            message_id, body = care_communication(self.me, to, patient, text, self.defects, compose)
            item = Outgoing(message_id, kind, endpoint, body, "application/fhir+json")
            sent = json.loads(body)  # its own output, just built
            if isinstance(sent, dict):
                self.keep(sent)
        with self.lock:
            self.messages[message_id] = item
        self._deliver(item)
        return item

    def retry(self) -> list[Outgoing]:
        """What a resend timer does when it fires: the same message again, byte for byte."""
        if "no-resend" in self.defects:
            return []
        with self.lock:
            due = [
                m
                for m in self.messages.values()
                if m.status == "awaiting-ack" and m.attempts < MAX_ATTEMPTS
            ]
        for item in due:
            self._deliver(item)
        return due

    def find(self, message_id: str = "") -> list[Outgoing]:
        with self.lock:
            return [
                m for m in self.messages.values() if not message_id or m.message_id == message_id
            ]

    def _deliver(self, item: Outgoing) -> None:
        item.attempts += 1
        request = urllib.request.Request(
            item.endpoint,
            data=item.body,
            method="POST",
            headers={"Content-Type": item.content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as answer:
                status, body = answer.status, answer.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            item.problem = f"HTTP {exc.code}"
            return
        except (urllib.error.URLError, OSError) as exc:
            item.problem = f"not delivered: {exc}"
            return
        if status == 202 or not body.strip():
            return  # delivered, but no acknowledgement yet: the resend timer will act
        if item.kind == "referral":
            self._receipt(item, body)
        else:
            self._acknowledgement(item, body)

    def _acknowledgement(self, item: Outgoing, body: bytes) -> None:
        try:
            ack = parse_json(body)
        except PayloadError:
            item.problem = "unreadable acknowledgement"
            return
        header: dict[str, Any] = {}
        if isinstance(ack, dict):
            entries = ack.get("entry") or []
            if entries and isinstance(entries[0], dict):
                header = entries[0].get("resource") or {}
        response = header.get("response") if isinstance(header, dict) else None
        if not isinstance(response, dict) or response.get("identifier") != item.message_id:
            item.problem = "acknowledgement for another message"
            return
        code = str(response.get("code", ""))
        item.answer = code
        if code == "ok" or (code == "fatal-error" and "fatal-ack-as-ok" in self.defects):
            item.status = "acknowledged"
        elif code == "fatal-error":
            item.status = "failed"
            item.shown_to_user = True  # the GP sees the refusal; a fatal error is not resent
        # transient-error: stays awaiting-ack and is resent

    def _receipt(self, item: Outgoing, body: bytes) -> None:
        try:
            root = parse_xml(body)
        except PayloadError:
            item.problem = "unreadable receipt"
            return
        kinds = {child.tag.removeprefix(OIOXML_NS) for child in root if isinstance(child.tag, str)}
        if "PositiveReceipt" in kinds:
            item.status, item.answer = "acknowledged", "positive"
        elif kinds & {"NegativeReceipt", "NegativeVansReceipt"}:
            item.status, item.answer = "rejected", "negative"
            item.shown_to_user = True


def outbox_json(items: list[Outgoing]) -> bytes:
    return json.dumps({"total": len(items), "messages": [m.public() for m in items]}).encode()
