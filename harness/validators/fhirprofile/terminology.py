"""Expand the ValueSets the packages carry into code sets, as far as that is possible offline."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Finds a ValueSet or CodeSystem resource by canonical (url or url|version); None = not installed.
Lookup = Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class Expansion:
    """The codes a ValueSet allows. `open_systems` are systems whose membership cannot be
    decided offline (filters, CodeSystems that are not installed or only fragments)."""

    url: str
    codes: frozenset[tuple[str, str]]
    open_systems: frozenset[str]
    missing: tuple[str, ...]  # canonicals that were needed but are not installed
    complete: bool = True  # False when an imported ValueSet is missing: absence proves nothing

    def contains(self, system: str | None, code: str) -> bool | None:
        """True/False when decidable; None when the answer depends on what is not installed."""
        if system is None:  # a plain `code` element: the system is implied by the binding
            if any(c == code for _, c in self.codes):
                return True
            return None if self.open_systems or not self.complete else False
        if (system, code) in self.codes:
            return True
        return None if system in self.open_systems or not self.complete else False

    @property
    def systems(self) -> frozenset[str]:
        return frozenset(s for s, _ in self.codes) | self.open_systems


def expand(value_set: dict[str, Any], lookup: Lookup) -> Expansion:
    return _Expander(lookup).expand(value_set, ())


class _Expander:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.open: set[str] = set()
        self.missing: list[str] = []
        self.complete = True

    def expand(self, value_set: dict[str, Any], seen: tuple[str, ...]) -> Expansion:
        url = str(value_set.get("url", ""))
        codes: set[tuple[str, str]] = set()
        expansion = value_set.get("expansion")
        if isinstance(expansion, dict) and expansion.get("contains"):
            codes |= set(_contains(expansion["contains"]))
        else:
            compose = value_set.get("compose", {})
            for include in compose.get("include", []):
                codes |= self._include(include, (*seen, url))
            for exclude in compose.get("exclude", []):
                codes -= self._include(exclude, (*seen, url))
        return Expansion(
            url, frozenset(codes), frozenset(self.open), tuple(self.missing), self.complete
        )

    def _include(self, include: dict[str, Any], seen: tuple[str, ...]) -> set[tuple[str, str]]:
        system = include.get("system")
        parts: list[set[tuple[str, str]]] = []
        if isinstance(system, str):
            version = include.get("version")
            if include.get("concept"):
                parts.append({(system, str(c.get("code"))) for c in include["concept"]})
            elif include.get("filter"):
                self.open.add(system)  # is-a / regex filters need the full terminology
                parts.append(set())
            else:
                parts.append(self._whole_system(system, version))
        for imported in include.get("valueSet", []):
            canonical = str(imported)
            if canonical.partition("|")[0] in {s.partition("|")[0] for s in seen}:
                continue  # a ValueSet that includes itself, directly or not
            found = self.lookup(canonical)
            if found is None:
                self.missing.append(canonical)
                self.complete = False
                parts.append(set())
                continue
            parts.append(set(self.expand(found, seen).codes))
        if not parts:
            return set()
        result = parts[0]
        for other in parts[1:]:  # several sources in one include are intersected
            result &= other
        return result

    def _whole_system(self, system: str, version: Any) -> set[tuple[str, str]]:
        canonical = f"{system}|{version}" if version else system
        code_system = self.lookup(canonical)
        if code_system is None:
            self.missing.append(system)
            self.open.add(system)
            return set()
        if code_system.get("content") not in (None, "complete"):
            self.open.add(system)  # a fragment or example: absent codes may still be valid
        return {(system, code) for code in _concepts(code_system.get("concept", []))}


def _concepts(concepts: Iterable[dict[str, Any]]) -> Iterable[str]:
    for concept in concepts:
        if "code" in concept:
            yield str(concept["code"])
        yield from _concepts(concept.get("concept", []))


def _contains(contains: Iterable[dict[str, Any]]) -> Iterable[tuple[str, str]]:
    for item in contains:
        if "system" in item and "code" in item:
            yield (str(item["system"]), str(item["code"]))
        yield from _contains(item.get("contains", []))
