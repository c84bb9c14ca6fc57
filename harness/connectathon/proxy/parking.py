"""Kept-alive client connections waiting for their next request, watched by one thread.

A parked connection holds no pool thread: one selector watches them all, hands a connection
back to the pool when its socket becomes readable (`resume`) and ends it when it has waited
longer than its deadline (`expire`: `idle_timeout` between requests, `read_timeout` for the
first one).
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable

from harness.connectathon.proxy.forwarding import Forwarder

TICK = 0.5  # the longest the thread sleeps without looking at deadlines and stop()


class Parking:
    def __init__(
        self, resume: Callable[[Forwarder], None], expire: Callable[[Forwarder], None]
    ) -> None:
        self.resume = resume
        self.expire = expire
        self.selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self.selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._incoming: queue.SimpleQueue[tuple[Forwarder, float]] = queue.SimpleQueue()
        self._parked: dict[Forwarder, float] = {}  # forwarder -> deadline (monotonic)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kcert-proxy-parking", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def park(self, forwarder: Forwarder, timeout: float) -> None:
        forwarder.idle.set()
        self._incoming.put((forwarder, time.monotonic() + timeout))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def _take_incoming(self) -> None:
        while True:
            try:
                forwarder, deadline = self._incoming.get_nowait()
            except queue.Empty:
                return
            try:
                self.selector.register(forwarder.client, selectors.EVENT_READ, forwarder)
            except (ValueError, OSError):  # closed meanwhile
                self.expire(forwarder)
                continue
            self._parked[forwarder] = deadline

    def _release(self, forwarder: Forwarder) -> None:
        self._parked.pop(forwarder, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.selector.unregister(forwarder.client)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._take_incoming()
            now = time.monotonic()
            soonest = min(self._parked.values(), default=now + TICK)
            events = self.selector.select(max(0.0, min(soonest - now, TICK)))
            for key, _ in events:
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_read.recv(4096)
                    continue
                forwarder = key.data
                self._release(forwarder)
                forwarder.idle.clear()  # busy from here: settle() waits for its turn
                self.resume(forwarder)
            now = time.monotonic()
            for forwarder in [f for f, deadline in self._parked.items() if deadline <= now]:
                self._release(forwarder)
                self.expire(forwarder)

    def stop(self) -> None:
        """End every parked connection (and those on their way in)."""
        self._stop.set()
        self._wake()
        self.thread.join(TICK * 4)
        self._take_incoming()
        for forwarder in list(self._parked):
            self._release(forwarder)
            self.expire(forwarder)
        self.selector.close()
        self._wake_read.close()
        self._wake_write.close()

    def __len__(self) -> int:
        return len(self._parked)
