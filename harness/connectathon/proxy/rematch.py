"""Steps found after the fact: an exchange matched to an instance by address and time, while
the instance's steps were not yet in the store (the executor saves them when the instance
ends), gets its step once they are.

The recorder keeps each such exchange as pending (bounded); `rematch` looks again, for one
instance or all, and amends the stored exchange. Amendments go through one lock shared with
every later write of the same exchange (the validation worker's, a skipped-validation note),
so a write from memory never puts back the exchange without its step.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from harness.connectathon.api import StoreApi
from harness.connectathon.model import InstanceStep, RecordedExchange, TestInstance
from harness.connectathon.proxy.matching import step_of

MAX_PENDING = 10_000  # exchanges waiting for their step; beyond, the oldest are given up


@dataclass(frozen=True)
class Pending:
    exchange_id: str
    instance_id: str
    target: str
    role: str
    source: str
    when: dt.datetime


class StepAmendments:
    """The steps found later, applied to every write of an exchange under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._found: OrderedDict[str, tuple[str, str]] = OrderedDict()  # id -> (step, source)
        self._pending: OrderedDict[str, Pending] = OrderedDict()

    def wait_for_step(self, pending: Pending) -> None:
        with self.lock:
            self._pending[pending.exchange_id] = pending
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)

    def apply(self, exchange: RecordedExchange) -> RecordedExchange:
        """`exchange` with the step found for it (call holding `lock`)."""
        found = self._found.get(exchange.exchange_id)
        if found is None:
            return exchange
        return replace(exchange, step_id=found[0], source=found[1])

    def rematch(
        self, store: StoreApi, instance_id: str | None = None, timeout: float = 10.0
    ) -> int:
        """Look again for the steps of pending exchanges (of `instance_id`, or all); the
        number of exchanges amended. Bounded by `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.lock:
            waiting = [p for p in self._pending.values() if instance_id in (None, p.instance_id)]
        seen: dict[str, tuple[TestInstance, list[InstanceStep]] | None] = {}
        amended = 0
        for pending in waiting:
            if time.monotonic() >= deadline:
                break
            if pending.instance_id not in seen:
                try:
                    instance = store.instance(pending.instance_id)
                    seen[pending.instance_id] = (instance, store.steps(pending.instance_id))
                except KeyError:
                    seen[pending.instance_id] = None
            known = seen[pending.instance_id]
            if known is None or not known[1]:
                continue  # no steps saved yet: still pending
            found = step_of(
                known[0], known[1], pending.target, pending.role, pending.source, pending.when
            )
            with self.lock:
                self._pending.pop(pending.exchange_id, None)  # steps saved: one look decides
                if found is None:
                    continue
                self._found[pending.exchange_id] = found
                while len(self._found) > MAX_PENDING:
                    self._found.popitem(last=False)
                try:
                    stored = store.exchange(pending.exchange_id)
                except KeyError:
                    continue
                store.record_exchange(self.apply(stored))
            amended += 1
        return amended
