"""What a reply or forward takes over from the earlier message it answers or passes on.

MedCom CareCommunication threads: the answer repeats the earlier message segments (payloads)
and the earlier Provenance instances, so the receiver sees the whole thread; every resource
those refer to (who wrote a segment, which organisation assigned its identifier) comes along,
so each reference resolves inside the new Bundle. The reference LPS's own reading of the
standard, not a copy of anyone's code.
"""

from __future__ import annotations

import copy
from typing import Any

MAX_DEPTH = 4  # references followed from a carried segment (role -> practitioner -> org)
BASE = "https://reflps.kcert.invalid/fhir/"


def rebased(entry: dict[str, Any]) -> dict[str, Any]:
    """A copy of an earlier entry under the new Bundle's base, so that its relative
    references (`Organization/x`) and the ones to it resolve the same way there."""
    out = copy.deepcopy(entry)
    res = out["resource"]
    if not str(out.get("fullUrl", "")).startswith("urn:") and isinstance(res.get("id"), str):
        out["fullUrl"] = f"{BASE}{res.get('resourceType')}/{res['id']}"
    return out


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    found = bundle.get("entry") or []
    return [e for e in found if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _refs(value: Any) -> list[str]:
    """Every `reference` string anywhere inside `value`."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                out.append(item)
            else:
                out.extend(_refs(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_refs(item))
    return out


def reference_to(entry: dict[str, Any]) -> str:
    """How the new Bundle refers to a carried entry: its urn fullUrl, else type/id."""
    full, res = str(entry.get("fullUrl", "")), entry["resource"]
    if full.startswith("urn:"):
        return full
    return f"{res.get('resourceType')}/{res.get('id')}" if isinstance(res.get("id"), str) else ""


class Earlier:
    """An earlier CareCommunication Bundle (one the LPS received or sent)."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self.entries = _entries(bundle)
        self.by_ref: dict[str, dict[str, Any]] = {}
        for entry in self.entries:
            res = entry["resource"]
            if isinstance(res.get("id"), str):
                self.by_ref[f"{res.get('resourceType')}/{res['id']}"] = entry
            if isinstance(entry.get("fullUrl"), str):
                self.by_ref[entry["fullUrl"]] = entry
        header = self.entries[0]["resource"] if self.entries else {}
        self.header_id = str(header.get("id") or "")
        found = self._first("Communication")
        self.communication: dict[str, Any] = found["resource"] if found else {}

    def _first(self, rtype: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e["resource"].get("resourceType") == rtype), None)

    @property
    def thread(self) -> str:
        for ident in self.communication.get("identifier") or []:
            if isinstance(ident, dict) and ident.get("value"):
                return str(ident["value"])
        return ""

    @property
    def category(self) -> str:
        for cat in self.communication.get("category") or []:
            for coding in (cat or {}).get("coding") or []:
                if isinstance(coding, dict) and coding.get("code"):
                    return str(coding["code"])
        return ""

    @property
    def topic(self) -> str:
        return str((self.communication.get("topic") or {}).get("text") or "")

    @property
    def patient_entry(self) -> dict[str, Any] | None:
        entry = self._first("Patient")
        return rebased(entry) if entry is not None else None

    @property
    def patient_ref(self) -> str:
        entry = self._first("Patient")
        return reference_to(entry) if entry is not None else ""

    @property
    def encounter(self) -> dict[str, Any] | None:
        """The earlier Encounter when it carries an episode-of-care identifier."""
        entry = self._first("Encounter")
        if entry is None:
            return None
        episodes = entry["resource"].get("episodeOfCare") or []
        has_id = any(isinstance(e, dict) and e.get("identifier") for e in episodes)
        return rebased(entry) if has_id else None

    def payloads(self, text_only: bool = False) -> list[dict[str, Any]]:
        found = [p for p in self.communication.get("payload") or [] if isinstance(p, dict)]
        if text_only:
            found = [p for p in found if "contentString" in p]
        return copy.deepcopy(found)

    def provenances(self) -> list[dict[str, Any]]:
        return [
            rebased(e) for e in self.entries if e["resource"].get("resourceType") == "Provenance"
        ]

    def referenced_by(
        self, carried: list[dict[str, Any]], present: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The earlier entries the carried segments and Provenances refer to, not yet present."""
        have = {str(e.get("fullUrl")) for e in present}
        have |= {f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}" for e in present}
        wanted = _refs(carried) + _refs([p["resource"] for p in self.provenances()])
        out: list[dict[str, Any]] = []
        for _ in range(MAX_DEPTH):
            more: list[str] = []
            for ref in wanted:
                entry = self.by_ref.get(ref)
                if entry is None or entry["resource"].get("resourceType") in (
                    "MessageHeader",
                    "Patient",
                ):
                    continue
                res = entry["resource"]
                key = f"{res.get('resourceType')}/{res.get('id')}"
                if key in have or str(entry.get("fullUrl")) in have:
                    continue
                have |= {key, str(entry.get("fullUrl"))}
                out.append(rebased(entry))
                more.extend(_refs(res))
            if not more:
                break
            wanted = more
        return out
