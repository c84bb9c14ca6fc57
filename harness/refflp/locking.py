"""The global-lock defect: one file lock shared by every worker process, held for the whole
request (taken before the handler runs, released after the answer is sent).

It is taken the way lock files usually are: try, and when it is held sleep and try again,
backing off on SQLite's own busy-handler schedule (1 ms … 100 ms). Requests are serialised
across all workers, and one that finds the lock held waits in whole sleeps and may lose the
race to a newcomer (no queue, no fairness): the latency tail grows with the load.

It is a capacity defect: the service carries at most one request at a time, whatever its
workers. At the demo's peak (~90 req/s of ~3 ms each) the lock is a quarter busy and the
tails stay within the SLOs (plan-create's p99 ~200 ms against ~30 ms without the lock); the
stress shape's spike (×3) crosses what one request at a time can carry, and plan-create's p95
goes to seconds. Measured, not slept: no artificial delay is added anywhere.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

# Requests waiting for the lock wait in threads of their own, so the lock holder still finds a
# thread for its handler (anyio's default limiter serves the handlers).
WAITERS = 256
EXEMPT = ("/flp/v1/health",)  # the launcher must still see the service come up
BACKOFF_MS = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100)  # sqlite3's sqliteDefaultBusyCallback
MAX_WAIT_S = 60.0  # then the request takes the lock blocking, rather than fail


class GlobalLock:
    """ASGI middleware: every request but health takes an exclusive flock on `path`."""

    def __init__(self, app: Any, path: Path) -> None:
        self.app = app
        self.path = path
        self._limiter = anyio.CapacityLimiter(WAITERS)

    def _acquire(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + MAX_WAIT_S
        attempt = 0
        while time.monotonic() < deadline:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    os.close(fd)
                    raise
            time.sleep(BACKOFF_MS[min(attempt, len(BACKOFF_MS) - 1)] / 1000)
            attempt += 1
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        fd = await anyio.to_thread.run_sync(self._acquire, limiter=self._limiter)
        try:
            await self.app(scope, receive, send)
        finally:
            os.close(fd)  # closing the descriptor releases the flock
