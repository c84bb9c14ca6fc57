"""Two SUTs tested at the same time in one process: each session owns its peers.

Two reference LPS processes (real HTTP on loopback, each on its own free port), one clean and
one with the `send-missing-topic` defect, each run through its own `CertificationSession` in
its own thread over the send-side protocol (every case makes the SUT send to kcert's peer).
Both verdicts must be what each SUT deserves, and each session's peer must have seen only
its own SUT's messages.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from harness.fixtures import REPO_ROOT
from harness.loader.protocols import load_all
from harness.model.exchange import Exchange
from harness.model.outcome import Outcome
from harness.model.result import CaseResult
from harness.session import CertificationSession, SutChoice

JOIN_S = 180.0  # each thread is joined with a bound: a hung session fails the test, not CI


@dataclass
class Lane:
    choice: SutChoice
    session: CertificationSession = field(init=False)
    results: list[CaseResult] = field(default_factory=list)
    received: list[Exchange] = field(default_factory=list)  # what this session's peers saw
    peer_urls: list[str] = field(default_factory=list)
    failure: BaseException | None = None
    began: float = 0.0
    ended: float = 0.0

    def __post_init__(self) -> None:
        self.session = CertificationSession(self.choice)


def _run(lane: Lane, start: threading.Barrier) -> None:
    protocols, errors = load_all([REPO_ROOT / "testcases" / "carecommunication-send.yaml"])
    try:
        assert not errors, errors
        lane.session.runner()  # start the SUT first, so both lanes send at the same time
        start.wait(timeout=60)
        lane.began = time.monotonic()
        for protocol in protocols:
            for case in protocol.cases:
                lane.results.append(lane.session.run_case(protocol, case))
        lane.ended = time.monotonic()
        lane.received = [e for server in lane.session.peers.running for e in server.received]
        lane.peer_urls = [server.bound_url for server in lane.session.peers.running]
    except BaseException as exc:  # reported by the main thread
        lane.failure = exc
        start.abort()
    finally:
        lane.session.close()


def _inbound(lane: Lane) -> list[bytes]:
    return [e.request_body for c in lane.results for s in c.steps for e in s.exchanges if e.inbound]


def test_two_suts_at_once_each_with_its_own_peer() -> None:
    clean = Lane(SutChoice.from_options("reference", None))
    broken = Lane(SutChoice.from_options("reference", None, ["send-missing-topic"]))
    start = threading.Barrier(2)
    threads = [
        threading.Thread(target=_run, args=(lane, start), daemon=True) for lane in (clean, broken)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert not any(t.is_alive() for t in threads), "a session did not finish within the bound"
    for lane in (clean, broken):
        assert lane.failure is None, repr(lane.failure)

    # the two runs overlapped in time (both SUTs were under test at once)
    assert clean.began < broken.ended and broken.began < clean.ended

    # both verdicts right: the clean SUT passes every case, the defect is caught where it is
    assert [c.outcome for c in clean.results] == [Outcome.PASS] * 3, [
        (c.case.id, [f.message for f in c.findings if f.is_problem]) for c in clean.results
    ]
    # every message the broken SUT sends lacks its topic: each case fails on that invariant
    assert [c.outcome for c in broken.results] == [Outcome.FAIL] * 3
    for case in broken.results:
        problems = [f for f in case.findings if f.is_problem]
        assert {f.rule_id for f in problems} == {"SEND-INVARIANT"}, case.case.id
        assert any("topic" in f.message for f in problems), [f.message for f in problems]

    # each session had its own peer server, on its own port
    assert len(clean.peer_urls) == 1 and len(broken.peer_urls) == 1
    assert clean.peer_urls != broken.peer_urls
    assert all(url.startswith("http://127.0.0.1:") for url in clean.peer_urls + broken.peer_urls)

    # no cross-talk: what each peer received is exactly what its own run judged
    for lane, other in ((clean, broken), (broken, clean)):
        seen = sorted(e.request_body for e in lane.received if not e.error)
        assert seen and seen == sorted(_inbound(lane))
        assert not set(seen) & set(_inbound(other))
        assert all(e.url.startswith(lane.peer_urls[0]) for e in lane.received)
