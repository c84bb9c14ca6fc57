"""Two SUTs tested at the same time in one process: each session owns its peers.

Two reference LPS processes (real HTTP on loopback, each on its own free port), one clean and
one with the `send-missing-topic` defect, each run through its own `CertificationSession` in
its own thread over the send-side protocol (every case makes the SUT send to kcert's peer).
Both verdicts must be what each SUT deserves, and each session's peer must have seen only
its own SUT's messages. The same for two configured SUTs (configuration files) whose `peer:`
sections name two different loopback addresses: each session listens where its SUT's
configuration says.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.fixtures import REPO_ROOT
from harness.loader.protocols import load_all
from harness.model.exchange import Exchange
from harness.model.outcome import Outcome
from harness.model.result import CaseResult
from harness.session import CertificationSession, SutChoice
from harness.sut.reference import running_reference

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


def _together(*lanes: Lane) -> None:
    """Run the lanes in threads at the same time; joined within a bound."""
    start = threading.Barrier(len(lanes))
    threads = [threading.Thread(target=_run, args=(lane, start), daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert not any(t.is_alive() for t in threads), "a session did not finish within the bound"
    for lane in lanes:
        assert lane.failure is None, repr(lane.failure)
    # the runs overlapped in time (both SUTs were under test at once)
    assert all(a.began < b.ended for a in lanes for b in lanes)


def _no_cross_talk(lane: Lane, other: Lane) -> None:
    """What this lane's peer received is exactly what its own run judged, nothing of the
    other's, and all of it at this lane's own peer address."""
    seen = sorted(e.request_body for e in lane.received if not e.error)
    assert seen and seen == sorted(_inbound(lane))
    assert not set(seen) & set(_inbound(other))
    assert all(e.url.startswith(lane.peer_urls[0]) for e in lane.received)


def test_two_suts_at_once_each_with_its_own_peer() -> None:
    clean = Lane(SutChoice.from_options("reference", None))
    broken = Lane(SutChoice.from_options("reference", None, ["send-missing-topic"]))
    _together(clean, broken)

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

    _no_cross_talk(clean, broken)
    _no_cross_talk(broken, clean)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def test_two_configured_suts_at_once_each_on_the_peer_its_configuration_names(
    tmp_path: Path,
) -> None:
    """Two configuration files (the --sut-config path), each naming its own peer address
    (`peer: bind/advertise` on 127.0.0.2 and 127.0.0.3, fixed ports): each session listens
    exactly there, and each SUT's messages arrive only there."""
    with running_reference() as first, running_reference() as second:
        lanes = []
        for host, reference in (("127.0.0.2", first), ("127.0.0.3", second)):
            port = _free_port(host)
            path = tmp_path / f"sut-{host}.yaml"
            path.write_text(
                f"name: LPS at {host}\nvendor: Vendor A/S\nversion: '1'\n"
                f"endpoints:\n  fhir: {reference.endpoints['fhir']}\n"
                f"  agent: {reference.endpoints['agent']}\n"
                f"identity:\n  sor: '{reference.sor}'\n  gln: '{reference.gln}'\n"
                f"peer:\n  bind: {host}:{port}\n  advertise: http://{host}:{port}\n",
                encoding="utf-8",
            )
            lanes.append(Lane(SutChoice.from_options(None, path)))
        _together(*lanes)
    for lane, host in zip(lanes, ("127.0.0.2", "127.0.0.3"), strict=True):
        assert [c.outcome for c in lane.results] == [Outcome.PASS] * 3, [
            (c.case.id, [f.message for f in c.findings if f.is_problem]) for c in lane.results
        ]
        assert len(lane.peer_urls) == 1 and lane.peer_urls[0].startswith(f"http://{host}:")
    _no_cross_talk(lanes[0], lanes[1])
    _no_cross_talk(lanes[1], lanes[0])
