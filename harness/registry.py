"""One generic registry for named plug-ins (actions, checks); a name is registered once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """A plug-in name was registered twice or looked up but never registered."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    func: T
    params_schema: dict[str, Any]
    doc: str


class Registry(Generic[T]):
    """Named plug-ins with a JSON Schema for their parameters, checked at collection."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, params_schema: dict[str, Any]) -> Callable[[T], T]:
        def decorate(func: T) -> T:
            if name in self._entries:
                other = self._entries[name].func
                raise RegistryError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{getattr(other, '__module__', '?')}.{getattr(other, '__name__', '?')}"
                )
            doc = (getattr(func, "__doc__", None) or "").strip().splitlines()
            self._entries[name] = Entry(name, func, params_schema, doc[0] if doc else "")
            return func

        return decorate

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
