"""The profile index: every StructureDefinition, ValueSet and CodeSystem of the installed packages,
found by canonical URL and version, with compiled element trees and expansions cached."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.validators.fhirprofile.elements import ElementTree, build_tree
from harness.validators.fhirprofile.packages import Package, read_package
from harness.validators.fhirprofile.terminology import Expansion, expand

PackageKey = tuple[str, str]  # (name, version)


@dataclass(frozen=True)
class Artifact:
    """One conformance resource and the package it came from."""

    resource: dict[str, Any] = field(repr=False)
    url: str
    version: str
    package: PackageKey


@dataclass(eq=False)
class Profile:
    """A StructureDefinition ready for validation."""

    url: str
    version: str
    type: str
    kind: str
    base: str
    package: PackageKey
    tree: ElementTree

    @property
    def canonical(self) -> str:
        return f"{self.url}|{self.version}"


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order versions numerically where they are numbers: 5.0.10 > 5.0.2 > 5.0.2-ballot."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.\-+]", version)
    )


def split_canonical(canonical: str) -> tuple[str, str | None]:
    url, _, version = canonical.partition("|")
    return url, version or None


class ProfileIndex:
    """Built once; validating many resources shares it (and its caches)."""

    def __init__(self, packages: Iterable[Package]) -> None:
        self.packages: dict[PackageKey, Package] = {}
        self._by_url: dict[str, list[Artifact]] = {}
        for package in packages:
            self.packages[package.key] = package
            for resource in package.resources:
                url = resource.get("url")
                if not isinstance(url, str):
                    continue
                artifact = Artifact(resource, url, str(resource.get("version", "")), package.key)
                self._by_url.setdefault(url, []).append(artifact)
        self._closure: dict[PackageKey, frozenset[PackageKey]] = {}
        self._profiles: dict[int, Profile] = {}
        self._expansions: dict[int, Expansion] = {}
        self._found: dict[tuple[str, PackageKey | None], Artifact | None] = {}
        # profile() answers by (canonical, context), read without the lock: a validation asks
        # thousands of times per Bundle, and an answer never changes once given
        self._profile_answers: dict[tuple[str, PackageKey | None], Profile | None] = {}
        self._lock = threading.RLock()  # caches fill lazily; keep them consistent across threads

    @classmethod
    def from_packages(cls, paths: Iterable[Path]) -> ProfileIndex:
        """Each path is a package .tgz, an unpacked package folder or an installed pack folder."""
        return cls(read_package(Path(p)) for p in paths)

    # -- canonical resolution ------------------------------------------------------------------

    def canonical_bases(self) -> tuple[str, ...]:
        return tuple(sorted({p.canonical for p in self.packages.values() if p.canonical}))

    def dependencies(self, package: PackageKey) -> frozenset[PackageKey]:
        """The package and everything it depends on (transitively) that is installed."""
        if package not in self._closure:
            found: set[PackageKey] = set()
            todo = [package]
            while todo:
                key = todo.pop()
                if key in found or key not in self.packages:
                    continue
                found.add(key)
                todo += list(self.packages[key].dependencies.items())
            self._closure[package] = frozenset(found)
        return self._closure[package]

    def find(self, canonical: str, context: PackageKey | None = None) -> Artifact | None:
        """Resolve `url|version`; without a version prefer what the context package depends on,
        then the highest version installed."""
        key = (canonical, context)
        if key not in self._found:  # validation asks the same few questions over and over
            self._found[key] = self._find(canonical, context)
        return self._found[key]

    def _find(self, canonical: str, context: PackageKey | None) -> Artifact | None:
        url, version = split_canonical(canonical)
        candidates = self._by_url.get(url, [])
        if not candidates:
            return None
        if version is not None:
            exact = [a for a in candidates if a.version == version]
            if not exact:  # "5" or "5.0" asks for any 5.x
                exact = [a for a in candidates if a.version.startswith(version + ".")]
            if exact:
                candidates = exact
        if context is not None and len(candidates) > 1:
            wanted = self.dependencies(context)
            preferred = [a for a in candidates if a.package in wanted]
            if preferred:
                candidates = preferred
        return max(candidates, key=lambda a: (version_key(a.version), version_key(a.package[1])))

    def resource(self, canonical: str, context: PackageKey | None = None) -> dict[str, Any] | None:
        found = self.find(canonical, context)
        return found.resource if found else None

    # -- compiled views ------------------------------------------------------------------------

    def profile(self, canonical: str, context: PackageKey | None = None) -> Profile | None:
        key = (canonical, context)
        if key in self._profile_answers:
            return self._profile_answers[key]
        answer = self._profile(canonical, context)
        self._profile_answers[key] = answer
        return answer

    def _profile(self, canonical: str, context: PackageKey | None) -> Profile | None:
        artifact = self.find(canonical, context)
        if artifact is None or artifact.resource.get("resourceType") != "StructureDefinition":
            return None
        key = id(artifact.resource)
        with self._lock:
            cached = self._profiles.get(key)
            if cached is None:
                sd = artifact.resource
                cached = Profile(
                    url=artifact.url,
                    version=artifact.version,
                    type=str(sd.get("type", "")),
                    kind=str(sd.get("kind", "")),
                    base=str(sd.get("baseDefinition", "")),
                    package=artifact.package,
                    tree=build_tree(sd),
                )
                self._profiles[key] = cached
        return cached

    def expansion(self, canonical: str, context: PackageKey | None = None) -> Expansion | None:
        artifact = self.find(canonical, context)
        if artifact is None or artifact.resource.get("resourceType") != "ValueSet":
            return None
        key = id(artifact.resource)
        with self._lock:
            cached = self._expansions.get(key)
            if cached is None:
                package = artifact.package
                cached = expand(artifact.resource, lambda c: self.resource(c, package))
                self._expansions[key] = cached
        return cached

    def derives_from(self, profile_url: str, ancestor_url: str, context: PackageKey | None) -> bool:
        """Whether `profile_url` is `ancestor_url` or constrains it (via baseDefinition)."""
        ancestor = split_canonical(ancestor_url)[0]
        current: str | None = split_canonical(profile_url)[0]
        seen: set[str] = set()
        while current and current not in seen:
            if current == ancestor:
                return True
            seen.add(current)
            found = self.resource(current, context)
            current = split_canonical(str(found.get("baseDefinition", "")))[0] if found else None
        return False

    def warm(self) -> None:
        """Compile every profile and expansion now rather than on first use."""
        for artifacts in self._by_url.values():
            for artifact in artifacts:
                canonical = f"{artifact.url}|{artifact.version}"
                kind = artifact.resource.get("resourceType")
                if kind == "StructureDefinition" and artifact.resource.get("snapshot"):
                    self.profile(canonical, artifact.package)
                elif kind == "ValueSet":
                    self.expansion(canonical, artifact.package)
