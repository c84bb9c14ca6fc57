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
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from harness.sut.config import SutConfig
from harness.sut.reference import ReferenceStartError, running_reference

MAX_MEMBERS = 50  # a fleet is a demo or a benchmark on one machine, never more
START_WORKERS = 4  # members started at once (2 cores: more only queue on the CPU)
START_ATTEMPTS = 2  # per member
FLEET_START_TIMEOUT_S = 120.0  # the whole fleet healthy, or it is stopped and says which


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


@contextlib.contextmanager
def running_fleet(
    specs: Sequence[MemberSpec], timeout_s: float = FLEET_START_TIMEOUT_S
) -> Iterator[list[FleetMember]]:
    """Start every member (in the order given), yield them once all answer their health URL,
    stop every one on exit. A member that does not come up stops the whole fleet."""
    check_specs(specs)
    started: list[AbstractContextManager[SutConfig] | None] = [None] * len(specs)
    configs: list[SutConfig | None] = [None] * len(specs)
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + timeout_s

    def start(index: int) -> None:
        spec = specs[index]
        if time.monotonic() > deadline:
            with lock:
                errors.append(f"{spec.name}: not started within {timeout_s:.0f} s")
            return
        config: SutConfig | None = None
        for attempt in range(START_ATTEMPTS):
            manager = running_reference(spec.defects, only=spec.only)
            try:
                config = manager.__enter__()
                break
            except (ReferenceStartError, OSError) as exc:
                # members pick their free ports side by side: a port taken in between is
                # the likely cause of a first failure, so it is tried once more
                if attempt + 1 == START_ATTEMPTS or time.monotonic() > deadline:
                    with lock:
                        errors.append(f"{spec.name}: {exc}")
                    return
        assert config is not None
        with lock:
            started[index] = manager
            configs[index] = config

    try:
        with ThreadPoolExecutor(max_workers=min(START_WORKERS, len(specs))) as pool:
            list(pool.map(start, range(len(specs))))
        if errors:
            raise FleetError("reference LPS fleet did not start: " + "; ".join(sorted(errors)))
        members = []
        for spec, config in zip(specs, configs, strict=True):
            assert config is not None  # no error means every member started
            members.append(FleetMember(spec, config, registration_for(spec, config)))
        yield members
    finally:
        _stop(started)


def _stop(started: list[AbstractContextManager[SutConfig] | None]) -> None:
    """Stop every started member (each waits at most a few seconds for its process); the
    first failure is raised after all were tried, so none is left running."""
    first: BaseException | None = None
    for manager in reversed(started):
        if manager is None:
            continue
        try:
            manager.__exit__(None, None, None)
        except Exception as exc:  # every member must be stopped regardless
            first = first or exc
    if first is not None:
        raise first
