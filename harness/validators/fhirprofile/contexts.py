"""Validation contexts: one FHIR package plus its dependency closure, as package.json declares it.

Closure rule: breadth first from the package, the nearest declaration of a package name wins
(a direct dependency shadows a different version of the same package deeper down), as npm and
Maven resolve conflicts. Declared versions are exact; `current`, `dev` or a `x` wildcard pick
the newest installed match. Every package built on FHIR R4 depends on the base definitions
(hl7.fhir.r4.core 4.0.1), whether or not it says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

PackageKey = tuple[str, str]
CORE: PackageKey = ("hl7.fhir.r4.core", "4.0.1")
_BASE_USER = ("the FHIR R4 base checks", "")
MAX_MEMBERS = 500
# Canonical bases of packages that are often declared but rarely installable here, so that a
# canonical outside them is not blamed on their absence (a fact of each package's IG).
WELL_KNOWN_CANONICALS = {
    "hl7.fhir.r4.core": "http://hl7.org/fhir/",
    "hl7.terminology.r4": "http://terminology.hl7.org/",
    "hl7.fhir.uv.extensions.r4": "http://hl7.org/fhir/StructureDefinition/",
    "hl7.fhir.uv.phd": "http://hl7.org/fhir/uv/phd/",
    "hl7.fhir.uv.ipa": "http://hl7.org/fhir/uv/ipa/",
    "hl7.fhir.uv.ips": "http://hl7.org/fhir/uv/ips/",
    "hl7.fhir.uv.xver-r5.r4": "http://hl7.org/fhir/5.0/",
    "ihe.iti.mhd": "https://profiles.ihe.net/ITI/MHD/",
    "hl7.fhir.us.core": "http://hl7.org/fhir/us/core/",
}


class _Package(Protocol):
    @property
    def dependencies(self) -> dict[str, str]: ...

    @property
    def fhir_versions(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class MissingPackage:
    """A dependency of the context that is not installed."""

    name: str
    version: str
    needed_by: PackageKey

    def __str__(self) -> str:
        by = " ".join(p for p in self.needed_by if p)
        return f"{self.name} {self.version}, needed by {by}"


@dataclass(frozen=True)
class ValidationContext:
    """Where canonicals resolve: `members` in resolution order (the package first)."""

    root: PackageKey | None
    members: tuple[PackageKey, ...]
    missing: tuple[MissingPackage, ...] = ()
    rank: Mapping[PackageKey, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        if self.root is None:
            return "FHIR R4 base (hl7.fhir.r4.core#4.0.1)"
        return f"{self.root[0]}#{self.root[1]}"

    @property
    def has_core(self) -> bool:
        return CORE in self.rank

    def describe(self) -> str:
        """One line for a report: the package, its installed dependencies, what is missing."""
        # the base context's label already names the base package
        root = self.root or CORE
        others = [f"{n}#{v}" for n, v in self.members if (n, v) != root]
        text = self.label + (f" with {', '.join(others)}" if others else "")
        if self.missing:
            text += "; missing: " + "; ".join(str(m) for m in self.missing)
        return text

    def missing_for(self, url: str, canonicals: Mapping[str, str]) -> tuple[MissingPackage, ...]:
        """The missing packages that could define `url`: those whose canonical base (known from
        another installed version of the same package) starts it, else every missing one."""
        if CROSS_VERSION.match(url):
            return (CROSS_VERSION_PACKAGE,)
        if not self.missing:
            return ()
        canonicals = {**WELL_KNOWN_CANONICALS, **canonicals}
        known = [m for m in self.missing if canonicals.get(m.name)]
        matching = [m for m in known if url.startswith(canonicals[m.name])]
        if matching:
            return tuple(matching)
        unknown = tuple(m for m in self.missing if not canonicals.get(m.name))
        return unknown or ()


# Extensions that carry elements of other FHIR releases (http://hl7.org/fhir/5.0/
# StructureDefinition/extension-DocumentReference.version): the reference validator knows them
# from the cross-version packages, which are not available here.
CROSS_VERSION = re.compile(r"^http://hl7\.org/fhir/\d\.\d/StructureDefinition/extension-")
CROSS_VERSION_PACKAGE = MissingPackage(
    "hl7.fhir.uv.xver", "r5.r4", ("cross-version extensions of other FHIR releases", "")
)


def closure(root: PackageKey | None, installed: Mapping[PackageKey, Any]) -> ValidationContext:
    """The context of `root` among the installed packages (name, version) -> package."""
    members: list[PackageKey] = []
    missing: list[MissingPackage] = []
    chosen: dict[str, str] = {}
    queue: list[PackageKey] = []
    if root is None:
        _want(CORE, _BASE_USER, installed, chosen, members, missing, queue)
    else:
        chosen[root[0]] = root[1]
        members.append(root)
        queue.append(root)
    while queue and len(members) < MAX_MEMBERS:
        current = queue.pop(0)
        package: _Package = installed[current]
        wanted = dict(package.dependencies)
        if not wanted.get(CORE[0]) and _on_r4(package):
            wanted[CORE[0]] = CORE[1]
        for name, declared in wanted.items():
            if name in chosen:
                continue  # nearest declaration wins
            version = _resolve(name, declared, installed)
            _want((name, version), current, installed, chosen, members, missing, queue)
    rank = {key: number for number, key in enumerate(members)}
    return ValidationContext(root, tuple(members), tuple(missing), rank)


def _want(
    key: PackageKey,
    by: PackageKey,
    installed: Mapping[PackageKey, Any],
    chosen: dict[str, str],
    members: list[PackageKey],
    missing: list[MissingPackage],
    queue: list[PackageKey],
) -> None:
    chosen[key[0]] = key[1]
    if key in installed:
        members.append(key)
        queue.append(key)
    else:
        missing.append(MissingPackage(key[0], key[1], by))


def _on_r4(package: _Package) -> bool:
    versions = package.fhir_versions
    return not versions or any(v.startswith("4.0") for v in versions)


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order versions numerically where they are numbers: 5.0.10 > 5.0.2 > 5.0.2-ballot."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.\-+]", version)
    )


_WILDCARD = re.compile(r"^(\d+(\.\d+)*)\.x$")


def _resolve(name: str, declared: str, installed: Mapping[PackageKey, Any]) -> str:
    """The version a declaration asks for; `current`/`dev`/`1.2.x` take the newest installed."""
    versions = [v for n, v in installed if n == name]
    if declared in ("current", "dev", "latest") and versions:
        return max(versions, key=version_key)
    wildcard = _WILDCARD.match(declared)
    if wildcard:
        prefix = wildcard.group(1) + "."
        matching = [v for v in versions if v.startswith(prefix)]
        if matching:
            return max(matching, key=version_key)
    return declared
