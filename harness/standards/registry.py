"""The standards registry: one `register(Standard(...))` per standard folder.

Registering a standard files everything it owns in the registries the engine already reads:
its rule titles in the rules catalogue (`harness.checks.rules`), its message kinds in
`harness.model.kinds`, its native invariants in the profile validator's table
(`harness.validators.fhirprofile.medcom`), its defects' catalogue entries here. A name, rule id,
kind, native or defect claimed twice is a `StandardError` naming both claimants, raised at
import time, before anything runs. Its checks register themselves with `CHECKS` when the
standard's package imports its checks module(s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from harness.checks import CHECKS, rules
from harness.model import kinds
from harness.standards.model import DefectEntry, Standard
from harness.validators.fhirprofile import medcom


class StandardError(ValueError):
    """A standard (or something it owns) was registered twice, or looked up but never."""


class Standards:
    def __init__(self) -> None:
        self._by_name: dict[str, Standard] = {}
        self._defects: dict[str, tuple[Standard, DefectEntry]] = {}

    def register(self, standard: Standard) -> Standard:
        """File `standard` and what it owns; all conflicts are checked before anything is
        filed, so a refused standard leaves the registries as they were."""
        self._refuse_conflicts(standard)
        self._by_name[standard.name] = standard
        rules.register_rules(standard.name, standard.rules)
        for kind in standard.kinds:
            kinds.register_kind(_owned(kind, standard))
        medcom.register_context_natives(standard.name, standard.natives)
        for defect in standard.defects:
            self._defects[defect.name] = (standard, defect)
        return standard

    def _refuse_conflicts(self, standard: Standard) -> None:
        name = standard.name
        if name in self._by_name:
            raise StandardError(
                f"standard {name!r} is registered twice: by {self._by_name[name].package} "
                f"and by {standard.package}"
            )
        for rule_id in standard.rules:
            owner = rules.owner_of(rule_id)
            if owner is not None:
                raise StandardError(
                    f"rule {rule_id} is claimed by both {_who(owner)} and standard {name!r}"
                )
        names = [k.name for k in standard.kinds]
        for kind in standard.kinds:
            if kind.standard and kind.standard != name:
                raise StandardError(
                    f"message kind {kind.name!r} names standard {kind.standard!r} but is "
                    f"registered by {name!r}"
                )
            if names.count(kind.name) > 1:
                raise StandardError(f"message kind {kind.name!r} is claimed twice by {name!r}")
            if kind.name in kinds.KINDS:
                raise StandardError(
                    f"message kind {kind.name!r} is claimed by both standard "
                    f"{kinds.KINDS[kind.name].standard!r} and standard {name!r}"
                )
        for expression in standard.natives:
            owner = medcom.native_owner(expression)
            if owner is not None:
                raise StandardError(
                    f"native invariant {expression[:60]!r} is claimed by both {_who(owner)} "
                    f"and standard {name!r}"
                )
        seen: set[str] = set()
        for defect in standard.defects:
            if defect.name in self._defects or defect.name in seen:
                other = self._defects[defect.name][0].name if defect.name in self._defects else name
                raise StandardError(
                    f"defect {defect.name!r} is claimed by both standard {other!r} and "
                    f"standard {name!r}"
                )
            seen.add(defect.name)

    def get(self, name: str) -> Standard:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise StandardError(f"unknown standard {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def defects(self) -> dict[str, tuple[Standard, DefectEntry]]:
        """Every registered defect entry by name, with the standard that files it."""
        return dict(self._defects)

    def checks_of(self, standard: Standard) -> list[str]:
        """The names of the checks its folder registered with CHECKS."""
        prefix = standard.package + "."
        return sorted(
            e.name for e in CHECKS if getattr(e.func, "__module__", "").startswith(prefix)
        )

    def of_protocol(self, file_name: str) -> Standard | None:
        """The standard that names this protocol file (a file name under testcases/)."""
        return next((s for s in self if file_name in s.protocols), None)

    def __iter__(self) -> Iterator[Standard]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def _owned(kind: kinds.MessageKind, standard: Standard) -> kinds.MessageKind:
    return dataclasses.replace(kind, standard=standard.name)


def _who(owner: str) -> str:
    return f"standard {owner!r}" if owner else "kcert's generic catalogue"


STANDARDS = Standards()
register = STANDARDS.register
