"""Typed run events: the engine emits them, progress displays and writers consume them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.model.protocol import Protocol, TestCase
from harness.model.result import CaseResult, RunResult


@dataclass(frozen=True)
class RunStarted:
    run: RunResult
    total_cases: int


@dataclass(frozen=True)
class CaseStarted:
    protocol: Protocol
    case: TestCase


@dataclass(frozen=True)
class CaseFinished:
    result: CaseResult


@dataclass(frozen=True)
class RunFinished:
    run: RunResult


Event = RunStarted | CaseStarted | CaseFinished | RunFinished
Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener for runs nobody watches."""
