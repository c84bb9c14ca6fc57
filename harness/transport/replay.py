"""Replay transport: answers each request with the exchange a recorded run got, no SUT needed.

Re-judging runs the same protocol steps again; the runner's renderer is seeded with the
recorded run's id and case start times, so the requests come out as they were sent. Each
case gets its own queue of recorded exchanges, consumed in order; `begin_case` switches
queues (the session calls it when a case starts).
"""

from __future__ import annotations

import dataclasses
from collections import deque

from harness.model.exchange import Exchange
from harness.sut.config import SutConfig
from harness.transport.base import TransportError, join_url, redact_url

CaseKey = tuple[str, str]


class ReplayTransport:
    name = "replay"

    def __init__(self, config: SutConfig, recorded: dict[CaseKey, list[Exchange]]) -> None:
        self.config = config
        self.recorded = recorded
        self.queue: deque[Exchange] = deque()
        self.current: CaseKey = ("", "")
        self.body_differences: list[str] = []  # requests whose bytes differ from the record

    def begin_case(self, protocol_id: str, case_id: str) -> None:
        self.current = (protocol_id, case_id)
        self.queue = deque(self.recorded.get(self.current, []))

    def take_recorded(self, method: str) -> Exchange:
        """The next recorded exchange that kcert made without HTTP (fuzz summary, exports)."""
        if not self.queue or self.queue[0].method != method:
            raise TransportError(self._diverged(f"{method} (recorded without HTTP)"))
        return self._copy(self.queue.popleft())

    def take_inbound(self) -> list[Exchange]:
        """The recorded requests the SUT made to kcert's peer at this point of the case."""
        taken = []
        while self.queue and self.queue[0].inbound:
            taken.append(self._copy(self.queue.popleft()))
        return taken

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        url = redact_url(join_url(self.config.endpoint(endpoint), path))
        if self.current == ("", "") and endpoint == "agent" and path == "health":
            # The reachability probe before the first case: the recorded SUT was there.
            return Exchange(method, url, {}, b"", status=200)
        if not self.queue or (self.queue[0].method, self.queue[0].url) != (method, url):
            raise TransportError(self._diverged(f"{method} {url}"))
        recorded = self.queue.popleft()
        if recorded.request_body != body:
            self.body_differences.append(f"{self.current[1]}: {method} {url}")
        return self._copy(recorded)

    def _diverged(self, asked: str) -> str:
        expected = (
            f"{self.queue[0].method} {self.queue[0].url}" if self.queue else "no further request"
        )
        return (
            f"replay of {self.current[1]} diverged from the recorded run: "
            f"asked {asked}, recorded {expected}"
        )

    @staticmethod
    def _copy(exchange: Exchange) -> Exchange:
        return dataclasses.replace(exchange, evidence={})

    def close(self) -> None:
        self.queue.clear()
