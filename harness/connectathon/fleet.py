"""A fleet of reference LPS instances on loopback: the vendors of a demo or a benchmark.

Each member is the reference LPS in its own child process, on its own free 127.0.0.1 port,
with its own defect set and its own SQLite file, started the one way kcert starts it
(`harness.sut.reference.running_reference`). The members start side by side (the start-up is
mostly a Python import, so a fleet of six is up in about the time of two), every wait is
bounded, and every member is stopped when the fleet's `with` block ends, however it ends.

What a member yields is what a registered system needs: its registration mapping, the SUT
configuration inline (`configuration:`) as `SutChoice.from_registration` takes it, pointing at
that member's port. The defects are not in the registration (a configured SUT has none; they
are what the reference LPS was started with) but on the member, for the plan that expects
them to be caught.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from harness.sut.config import SutConfig
from harness.sut.reference import ReferenceStartError, running_reference

MAX_MEMBERS = 50  # a fleet is a demo or a benchmark on one machine, never more
START_WORKERS = 4  # members started at once (2 cores: more only queue on the CPU)
START_ATTEMPTS = 2  # per member
FLEET_START_TIMEOUT_S = 120.0  # the whole fleet healthy, or it is stopped and says which
STOP_WAIT_S = 15.0  # one member's stop: terminate, 5 s, kill, 5 s (running_reference)


class FleetError(RuntimeError):
    """The fleet could not be started; the text names the member at fault and why."""


@dataclass(frozen=True)
class MemberSpec:
    """One reference LPS to start: who it plays (vendor, product) and its defects."""

    name: str  # a short id, e.g. "vendor-a"; unique in the fleet
    vendor: str
    product: str = "kcert reference LPS"
    version: str = "1.0"
    defects: tuple[str, ...] = ()
    only: str = "all"  # "carecommunication": an LPS of that scope


@dataclass(frozen=True)
class FleetMember:
    spec: MemberSpec
    config: SutConfig  # as kcert would use it directly
    registration: dict[str, Any] = field(repr=False)  # `configuration:` inline

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def defects(self) -> tuple[str, ...]:
        return self.spec.defects

    @property
    def base_url(self) -> str:
        return self.config.endpoints["agent"].removesuffix("/kcert-agent/v1")

    @property
    def health_url(self) -> str:
        return f"{self.config.endpoints['agent']}/health"


def registration_for(spec: MemberSpec, config: SutConfig) -> dict[str, Any]:
    """The registration of a running member: its SUT configuration inline, the vendor's names
    in place of the reference LPS's own (six vendors, one implementation)."""
    return {
        "configuration": {
            "name": spec.product,
            "vendor": spec.vendor,
            "version": spec.version,
            "transport": "http",
            "endpoints": dict(config.endpoints),
            "identity": {"sor": config.sor, "gln": config.gln, "name": config.org_name},
            "timeouts": {"read": config.read_timeout},
        }
    }


def check_specs(specs: Sequence[MemberSpec]) -> None:
    if not specs:
        raise FleetError("a fleet needs at least one member")
    if len(specs) > MAX_MEMBERS:
        raise FleetError(f"a fleet has at most {MAX_MEMBERS} members, not {len(specs)}")
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FleetError(f"fleet member name(s) used twice: {', '.join(twice)}")


class _Keeper:
    """One member's own thread: it starts the member's process, keeps it until the fleet
    stops, then stops it. The process is tied to the thread that started it (on Linux it is
    ended when that thread ends, so kcert leaves no orphan even when killed), so the
    starting thread must live as long as the member does."""

    def __init__(
        self, spec: MemberSpec, gate: threading.Semaphore, stop: threading.Event, deadline: float
    ) -> None:
        self.spec = spec
        self.gate = gate
        self.stop = stop
        self.deadline = deadline
        self.ready = threading.Event()
        self.config: SutConfig | None = None
        self.error = ""
        self.stop_error: BaseException | None = None
        self.thread = threading.Thread(target=self._keep, name=f"kcert-fleet-{spec.name}")
        self.thread.daemon = True

    def _keep(self) -> None:
        manager = self._start()
        self.ready.set()
        if manager is None:
            return
        self.stop.wait()
        try:
            manager.__exit__(None, None, None)
        except Exception as exc:  # kept for the fleet to raise once every member is stopped
            self.stop_error = exc

    def _start(self) -> AbstractContextManager[SutConfig] | None:
        with self.gate:  # a few at a time: the start-up is CPU-bound
            for attempt in range(START_ATTEMPTS):
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    self.error = "not started in time"
                    return None
                manager = running_reference(self.spec.defects, only=self.spec.only)
                try:
                    self.config = manager.__enter__()
                    return manager
                except (ReferenceStartError, OSError) as exc:
                    # members pick their free ports side by side: a port taken in between
                    # is the likely cause of a first failure, so it is tried once more
                    self.error = str(exc)
                    if attempt + 1 == START_ATTEMPTS:
                        return None
        return None


@contextlib.contextmanager
def running_fleet(
    specs: Sequence[MemberSpec], timeout_s: float = FLEET_START_TIMEOUT_S
) -> Iterator[list[FleetMember]]:
    """Start every member (in the order given), yield them once all answer their health URL,
    stop every one on exit. A member that does not come up stops the whole fleet."""
    check_specs(specs)
    stop = threading.Event()
    gate = threading.Semaphore(START_WORKERS)
    deadline = time.monotonic() + timeout_s
    keepers = [_Keeper(spec, gate, stop, deadline) for spec in specs]
    try:
        for keeper in keepers:
            keeper.thread.start()
        for keeper in keepers:
            # each start is bounded by running_reference itself; this bounds the whole fleet
            keeper.ready.wait(max(0.0, deadline - time.monotonic()) + STOP_WAIT_S)
        errors = [
            f"{k.spec.name}: {k.error or 'not started in time'}"
            for k in keepers
            if k.config is None
        ]
        if errors:
            raise FleetError("reference LPS fleet did not start: " + "; ".join(errors))
        members = []
        for keeper in keepers:
            assert keeper.config is not None  # no error means every member started
            members.append(
                FleetMember(
                    keeper.spec, keeper.config, registration_for(keeper.spec, keeper.config)
                )
            )
        yield members
    finally:
        stop.set()
        for keeper in keepers:
            if keeper.thread.is_alive():
                keeper.thread.join(STOP_WAIT_S)
        failed = next((k.stop_error for k in keepers if k.stop_error is not None), None)
        if failed is not None:
            raise FleetError(f"a fleet member did not stop cleanly: {failed}")
