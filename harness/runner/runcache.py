"""What one run computes once and shares between its test cases (the population, parsed).

A run opens a scope (`run_scope`, entered by Runner.run); inside it `shared(key, make)` makes a
value once per key. Nothing outlives the run, so two runs in one process (pytest, the
connectathon service) never see each other's values, and a key names what the value was
made from (a file's path and SHA-256, a generator's parameters), never just a name. Outside a
run the value is made afresh each time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 16  # per run; a run names a handful of populations at most


class RunCache:
    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self.made = 0  # how many values were made (tests, benchmarks)

    def shared(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                value: T = self._values[key]
                return value
        value = make()
        with self._lock:
            self.made += 1
            if len(self._values) >= MAX_ENTRIES:
                self._values.pop(next(iter(self._values)))
            self._values[key] = value
        return value


_CURRENT: ContextVar[RunCache | None] = ContextVar("kcert_run_cache", default=None)


@contextmanager
def run_scope() -> Iterator[RunCache]:
    cache = RunCache()
    token = _CURRENT.set(cache)
    try:
        yield cache
    finally:
        _CURRENT.reset(token)


def shared(key: Hashable, make: Callable[[], T]) -> T:
    """`make()`, once per key within the current run; every time outside a run."""
    cache = _CURRENT.get()
    return make() if cache is None else cache.shared(key, make)


__all__ = ["RunCache", "run_scope", "shared"]
