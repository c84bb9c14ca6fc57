"""From a capture to a stored `RecordedExchange`: matched, redacted, masked, then validated.

Connection threads hand captures to a few recorder threads through a bounded queue, so
storing never delays the answer a client is waiting for (several threads, because a store
operation on PostgreSQL opens its own connection and waits on the network); when the queue
is full the connection thread stores the capture itself (slower, never lost). The stored
copy has credentials redacted (harness.redact) and real-format CPR numbers masked
(harness.checks.realcpr, with a REAL-CPR finding); the live validator judges the bytes as
received, kept in memory only.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from harness.checks.realcpr import RULE as REAL_CPR
from harness.checks.realcpr import find_real_cprs, mask_real_cprs, mask_text
from harness.connectathon.api import StoreApi
from harness.connectathon.model import Endpoint, RecordedExchange
from harness.connectathon.proxy.capture import Capture
from harness.connectathon.proxy.matching import match_exchange
from harness.connectathon.proxy.rules import UNMATCHED
from harness.connectathon.proxy.validation import (
    Originals,
    ValidationWorker,
    finding,
    skipped_finding,
)
from harness.redact import redact_headers, redact_url

log = logging.getLogger(__name__)
MAX_PROBLEMS = 20  # the last store failures kept for the proxy's stats


def header_map(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Headers as the store keeps them: names as sent, repeats joined with ", "."""
    joined: dict[str, str] = {}
    for name, value in headers:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def _masked(body: bytes, direction: str) -> tuple[bytes, list[dict[str, Any]]]:
    hits = find_real_cprs(body)
    if not hits:
        return body, []
    shown = ", ".join(sorted({hit.masked for hit in hits})[:5])
    return mask_real_cprs(body), [
        finding(
            REAL_CPR,
            "F2",
            f"the {direction} body holds {len(hits)} real-format CPR number(s) ({shown}); "
            "only kcert's synthetic test persons may be used; masked in the record",
            direction,
        )
    ]


def _stored_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: mask_text(value) for name, value in redact_headers(headers).items()}


@dataclass
class RecorderStats:
    recorded: int = 0
    failures: int = 0
    synchronous: int = 0  # stored by a connection thread because the queue was full
    validation_skipped: int = 0
    problems: list[str] = field(default_factory=list)


_STOP = object()


class Recorder:
    """Matches, stores and hands on to validation every capture of one proxy."""

    def __init__(
        self,
        store: StoreApi,
        session_id: str,
        endpoints: dict[str, Endpoint],
        capacity: int,
        validation: ValidationWorker | None,
        threads: int = 1,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.endpoints = endpoints
        self.validation = validation
        self.queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self.stats = RecorderStats()
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, name=f"kcert-proxy-record-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def submit(self, capture: Capture) -> None:
        """From a connection thread: queued, or stored right here when the queue is full."""
        try:
            self.queue.put_nowait(capture)
        except queue.Full:
            with self._lock:
                self.stats.synchronous += 1
            self.record(capture)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is _STOP:
                    return
                assert isinstance(item, Capture)
                self.record(item)
            finally:
                self.queue.task_done()

    def stop(self, timeout: float) -> None:
        """Store what is queued, for at most `timeout` s."""
        deadline = time.monotonic() + timeout
        for _ in self.threads:
            with contextlib.suppress(queue.Full):
                self.queue.put(_STOP, timeout=max(deadline - time.monotonic(), 0.01))
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0.01))

    def record(self, capture: Capture) -> RecordedExchange | None:
        endpoint = self.endpoints[capture.endpoint_id]
        try:
            exchange, originals = self._exchange(capture, endpoint)
            if self.validation is None:
                exchange.findings.append(skipped_finding("live validation is off for this proxy"))
                self.store.record_exchange(exchange)
            else:
                self.store.record_exchange(exchange)
                if not self.validation.offer(exchange, originals):
                    with self._lock:
                        self.stats.validation_skipped += 1
                    why = (
                        f"the validation queue is full ({self.validation.capacity} exchanges "
                        "waiting, ProxyLimits.validation_queue)"
                    )
                    exchange = replace(
                        exchange, findings=[*exchange.findings, skipped_finding(why)]
                    )
                    self.store.record_exchange(exchange)
        except Exception as exc:  # the store is down: counted and logged, forwarding goes on
            log.exception("recording an exchange on %s failed", capture.endpoint_id)
            with self._lock:
                self.stats.failures += 1
                self.stats.problems = [*self.stats.problems, str(exc)][-MAX_PROBLEMS:]
            return None
        with self._lock:
            self.stats.recorded += 1
        return exchange

    def _exchange(self, capture: Capture, endpoint: Endpoint) -> tuple[RecordedExchange, Originals]:
        request_headers = header_map(capture.request_headers)
        response_headers = header_map(capture.response_headers)
        matched = match_exchange(
            self.store,
            self.session_id,
            endpoint.system_id,
            endpoint.role,
            request_headers,
            capture.started_at,
        )
        request_body, cpr_request = _masked(capture.request_body, "request")
        response_body, cpr_response = _masked(capture.response_body, "response")
        error = capture.error
        if error and capture.answered:
            error = f"{error} (the proxy answered {capture.answered})"
        findings = cpr_request + cpr_response
        if matched.match == "unmatched" and matched.note:
            findings.append(finding(UNMATCHED, "OK", f"unmatched: {matched.note}"))
        exchange = RecordedExchange(
            exchange_id=capture.exchange_id,
            session_id=self.session_id,
            endpoint_id=endpoint.endpoint_id,
            source=matched.source,
            target=endpoint.system_id,
            method=capture.method,
            path=mask_text(redact_url(capture.target)),
            request_headers=_stored_headers(request_headers),
            request_body=request_body,
            status=capture.status,
            response_headers=_stored_headers(response_headers),
            response_body=response_body,
            started=capture.started,
            elapsed_ms=capture.elapsed_ms,
            error=mask_text(error),
            instance_id=matched.instance_id,
            step_id=matched.step_id,
            match=matched.match,
            findings=findings,
        )
        originals = Originals(
            capture.request_body,
            request_headers,
            capture.request_truncated,
            capture.response_body,
            response_headers,
            capture.response_truncated,
        )
        return exchange, originals
