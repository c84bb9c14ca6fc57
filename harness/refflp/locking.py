"""The global-lock defect: one file lock shared by every worker process, held for the whole
request (taken before the handler runs, released after the answer is sent)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

# Requests waiting for the lock wait in threads of their own, so the lock holder still finds a
# thread for its handler (anyio's default limiter serves the handlers).
WAITERS = 256
EXEMPT = ("/flp/v1/health",)  # the launcher must still see the service come up


class GlobalLock:
    """ASGI middleware: every request but health takes an exclusive flock on `path`."""

    def __init__(self, app: Any, path: Path) -> None:
        self.app = app
        self.path = path
        self._limiter = anyio.CapacityLimiter(WAITERS)

    def _acquire(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
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
