"""Capabilities and scope: what a SUT declares it implements, what a test case needs.

A SUT declares (its configuration's `capabilities:`, or the test agent's health answer) the
standards it implements, with version and directions, and the test agent operations it
offers. A protocol declares what its cases need (`needs:`), a case may add to it, and every
action adds the operations it calls. A case whose needs the declaration does not cover is
*Ikke omfattet* (not in scope): not run, not judged, never an error. Without any declaration
everything is in scope and every operation is claimed, so what the SUT lacks is a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

DIRECTIONS = ("send", "receive")
# Operations every SUT offers: without the health check kcert cannot talk to it at all.
ALWAYS = frozenset({"health"})


@dataclass(frozen=True)
class StandardClaim:
    """One standard the SUT implements, as the protocols name it (`standard:`)."""

    standard: str
    version: str = ""  # the version the SUT implements; "" when not said
    directions: tuple[str, ...] = DIRECTIONS

    def to_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard,
            "version": self.version,
            "directions": list(self.directions),
        }


@dataclass(frozen=True)
class Capabilities:
    """A SUT's declaration. `operations` None: every operation of the contract is claimed."""

    standards: tuple[StandardClaim, ...] = ()
    operations: frozenset[str] | None = None
    source: str = ""  # "sut-config" or "agent-health"

    def claim(self, standard: str) -> StandardClaim | None:
        for claim in self.standards:
            if claim.standard.casefold() == standard.casefold():
                return claim
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "standards": [c.to_dict() for c in self.standards],
            "operations": None if self.operations is None else sorted(self.operations),
        }

    @staticmethod
    def from_dict(data: dict[str, Any], source: str = "") -> Capabilities:
        """From a checked declaration (configuration, health answer or the run store)."""
        ops = data.get("operations")
        return Capabilities(
            standards=tuple(
                StandardClaim(
                    str(s["standard"]),
                    str(s.get("version") or ""),
                    tuple(s.get("directions") or DIRECTIONS),
                )
                for s in data.get("standards") or ()
            ),
            operations=None if ops is None else frozenset(str(o) for o in ops),
            source=source or str(data.get("source", "")),
        )


@dataclass(frozen=True)
class Needs:
    """What a protocol or test case needs of the SUT."""

    standard: str = ""
    direction: str = ""  # send | receive | "" (neither applies, e.g. the cockpit)
    versions: tuple[str, ...] = ()  # patterns (fnmatch) of the standard versions it tests
    operations: tuple[str, ...] = ()

    def plus(self, other: Needs) -> Needs:
        """`other` (a case's own needs) refines these: its standard and direction win, its
        versions replace, its operations add."""
        return Needs(
            standard=other.standard or self.standard,
            direction=other.direction or self.direction,
            versions=other.versions or self.versions,
            operations=tuple(dict.fromkeys((*self.operations, *other.operations))),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard,
            "direction": self.direction,
            "versions": list(self.versions),
            "operations": list(self.operations),
        }


_WHY = {
    "en": {
        "standard": "the SUT does not declare the standard {standard}",
        "direction": "the SUT declares {claim} ({directions}), not the direction {direction}",
        "version": "the SUT declares {standard} {version}; the case tests {versions}",
        "operations": "the SUT does not declare the operation(s) {operations}",
        "send": "send",
        "receive": "receive",
    },
    "da": {
        "standard": "SUT har ikke erklæret standarden {standard}",
        "direction": "SUT har erklæret {claim} ({directions}), ikke retningen {direction}",
        "version": "SUT har erklæret {standard} {version}; testcasen tester {versions}",
        "operations": "SUT har ikke erklæret testagent-operationen/-erne {operations}",
        "send": "afsendelse",
        "receive": "modtagelse",
    },
}


@dataclass(frozen=True)
class Scope:
    """The scope of one run: the declaration (None: everything) and the case selection."""

    capabilities: Capabilities | None = None
    manual_operations: frozenset[str] = field(default_factory=frozenset)  # done by a tester
    selection: tuple[str, ...] = ()  # --case/--requirement as given, for the report
    note: str = ""  # e.g. why a health answer's declaration was not used

    @property
    def declared(self) -> bool:
        return self.capabilities is not None

    def why_not(self, needs: Needs, lang: str = "en") -> str:
        """Empty when a case with these needs is in scope, else why it is not.

        English is what results.json and the run store keep; the report asks in its language.
        A claim without a version is taken to cover every version a case tests.
        """
        w = _WHY["da" if lang == "da" else "en"]
        caps = self.capabilities
        if caps is None:
            return ""
        if needs.standard:
            claim = caps.claim(needs.standard)
            if claim is None:
                return w["standard"].format(standard=needs.standard)
            if needs.direction and needs.direction not in claim.directions:
                return w["direction"].format(
                    claim=claim.standard,
                    directions=", ".join(w[d] for d in claim.directions),
                    direction=w[needs.direction],
                )
            if (
                needs.versions
                and claim.version
                and not any(fnmatchcase(claim.version, v) for v in needs.versions)
            ):
                return w["version"].format(
                    standard=needs.standard,
                    version=claim.version,
                    versions=", ".join(needs.versions),
                )
        if caps.operations is not None:
            offered = caps.operations | ALWAYS | self.manual_operations
            missing = [op for op in needs.operations if op not in offered]
            if missing:
                return w["operations"].format(operations=", ".join(missing))
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "declared": self.declared,
            "capabilities": None if self.capabilities is None else self.capabilities.to_dict(),
            "manual_operations": sorted(self.manual_operations),
            "selection": list(self.selection),
            "note": self.note,
        }

    @staticmethod
    def from_dict(data: dict[str, Any] | None) -> Scope:
        if not data:
            return Scope()
        caps = data.get("capabilities")
        return Scope(
            capabilities=None if caps is None else Capabilities.from_dict(caps),
            manual_operations=frozenset(data.get("manual_operations") or ()),
            selection=tuple(data.get("selection") or ()),
            note=str(data.get("note") or ""),
        )
