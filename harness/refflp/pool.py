"""A small per-process pool of database connections (SQLite or PostgreSQL).

Each worker process opens its own connections (none crosses a fork); at most `size` are in
use at once and a request waits a bounded time for one, so a burst queues instead of opening
a connection per request.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

WAIT_S = 30.0


class Closeable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closeable)


class PoolExhausted(RuntimeError):
    """No connection became free within WAIT_S."""


class Pool(Generic[C]):
    def __init__(self, factory: Callable[[], C], size: int) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[C] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))

    @contextmanager
    def connection(
        self, broken: type[BaseException] | tuple[type[BaseException], ...]
    ) -> Iterator[C]:
        """A connection for the block; discarded, not returned, when `broken` was raised."""
        if not self._slots.acquire(timeout=WAIT_S):
            raise PoolExhausted(f"no database connection free within {WAIT_S:.0f} s")
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._factory()
            try:
                yield conn
            except broken:
                conn.close()
                raise
            except BaseException:
                self._idle.put(conn)
                raise
            self._idle.put(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
