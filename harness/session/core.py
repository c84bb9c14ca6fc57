"""A certification session: SUT lifecycle + runner, shared by the CLI and the pytest plugin.

The session owns what its SUT needs for the run: the reference LPS it started, the transport,
and kcert's peer servers (`PeerServers`: started on first use by the actions that make the SUT
send, each with its own port and responder); `close()` stops them all. Nothing is global, so
two sessions test two SUTs at the same time in one process.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from harness.dates import now_iso
from harness.model.protocol import Protocol, TestCase
from harness.model.result import CaseResult, ProtocolResult, RunResult
from harness.runner.attended import AnswerSource
from harness.runner.engine import Runner, RunOptions
from harness.runner.events import CaseStarted, Event, Listener, ignore
from harness.session.sut import SutChoice
from harness.sut.config import SutConfig
from harness.sut.peer_config import PeerConfig
from harness.sut.reference import reference_config, running_reference
from harness.transport.base import Transport
from harness.transport.capabilities import ExtraHeaders
from harness.transport.http import HttpTransport
from harness.transport.inprocess import InProcessTransport
from harness.transport.peer import PeerServers
from harness.transport.replay import ReplayTransport

__all__ = ["CertificationSession", "SutChoice"]


@dataclass
class CertificationSession:
    """Starts the SUT on first use, runs test cases, stops the SUT at close()."""

    choice: SutChoice
    listener: Listener = ignore
    answers: AnswerSource | None = None
    replay: ReplayTransport | None = None  # re-judging: recorded answers instead of a SUT
    # on every request kcert makes to the SUT in this session (a connectathon instance's id)
    headers: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)
    _runner: Runner | None = None
    _transport: Transport | None = None
    peers: PeerServers = field(default_factory=PeerServers)  # this session's peer servers
    results: list[tuple[Protocol, CaseResult]] = field(default_factory=list)
    started: str = field(default_factory=now_iso)

    def runner(self) -> Runner:
        if self._runner is None:
            sut, transport = self._open()
            if self.headers and isinstance(transport, ExtraHeaders):
                transport.extra_headers = dict(self.headers)
            self._transport = transport
            self._runner = Runner(
                transport,
                sut,
                listener=self._listen,
                answers=self.answers,
                peer_servers=self.peers,
            )
            self._runner.check_reachable()
        return self._runner

    def _listen(self, event: Event) -> None:
        if self.replay is not None and isinstance(event, CaseStarted):
            self.replay.begin_case(event.protocol.id, event.case.id)
        self.listener(event)

    def _open(self) -> tuple[SutConfig, Transport]:
        if self.replay is not None:
            return self.replay.config, self.replay
        choice = self.choice
        if choice.reference and choice.transport == "inprocess":
            from harness.reflps.app import create_app

            config = reference_config("http://reference.invalid", choice.defects, "inprocess")
            return config, InProcessTransport(config, create_app(choice.defects))
        if choice.reference:
            config = self._stack.enter_context(running_reference(choice.defects))
            return config, HttpTransport(config)
        config = choice.configured(credentials=True)
        if config.peer != PeerConfig():
            # A configured peer listens from the start: an address that is taken or not this
            # machine's stops the run before its first case (PeerError), not in every case.
            self.peers.server(config.peer)
        return config, HttpTransport(config)

    def run_case(self, protocol: Protocol, case: TestCase) -> CaseResult:
        result = self.runner().run_case(protocol, case)
        self.results.append((protocol, result))
        return result

    def run_result(self, options: RunOptions) -> RunResult:
        """The results so far as one run, grouped by protocol in the order they ran."""
        run = self.runner().new_run(options, self.started)
        run.finished = now_iso()
        by_id: dict[str, ProtocolResult] = {}
        for protocol, case in self.results:
            if protocol.id not in by_id:
                by_id[protocol.id] = ProtocolResult(protocol)
                run.protocols.append(by_id[protocol.id])
            by_id[protocol.id].cases.append(case)
        return run

    def close(self) -> None:
        try:
            if self._transport is not None:
                self._transport.close()
        finally:
            try:
                self.peers.close()
            finally:
                self._stack.close()
