"""Attended steps: where a tester's answer comes from, and how it becomes a step result."""

from __future__ import annotations

from typing import Protocol as TypingProtocol
from typing import runtime_checkable

from harness.model.answer import ManualAnswer
from harness.model.finding import Finding, Location
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Protocol, Step, TestCase
from harness.model.result import StepResult

MANUAL_RULE = "MANUAL-OBSERVATION"


@runtime_checkable
class Pausable(TypingProtocol):
    """A display that must step aside while a tester is asked (the progress display)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class AnswerSource(TypingProtocol):
    """Gives the tester's answer to a manual step, or None while nobody has answered.

    `preset`: the answers known before the run (kept with it in the run store); `attach`: the
    display running while answers are asked, for a source that asks at the terminal."""

    @property
    def preset(self) -> list[ManualAnswer]: ...

    def answer(self, protocol: Protocol, case: TestCase, step: Step) -> ManualAnswer | None: ...

    def attach(self, display: Pausable) -> None: ...


class AnswerBook:
    """Answers known in advance (an answers file, or the run store), keyed by case and step."""

    def __init__(self, answers: list[ManualAnswer] | None = None) -> None:
        self.by_key: dict[tuple[str, str], ManualAnswer] = {}
        for answer in answers or []:
            self.add(answer)

    def add(self, answer: ManualAnswer) -> None:
        self.by_key[(answer.case_id, answer.step_id)] = answer

    def answer(self, protocol: Protocol, case: TestCase, step: Step) -> ManualAnswer | None:
        return self.by_key.get((case.id, step.id))

    def __len__(self) -> int:
        return len(self.by_key)

    def attach(self, display: Pausable) -> None:
        """Nobody is asked: no display to step aside for."""

    @property
    def preset(self) -> list[ManualAnswer]:
        """Every answer known in advance, to be kept with the run."""
        return list(self.by_key.values())


class FirstOf:
    """Ask several sources in order (an answers file first, then the tester at a prompt)."""

    def __init__(self, *sources: AnswerSource) -> None:
        self.sources = sources

    @property
    def preset(self) -> list[ManualAnswer]:
        return [a for s in self.sources for a in s.preset]

    def attach(self, display: Pausable) -> None:
        for source in self.sources:
            source.attach(display)

    def answer(self, protocol: Protocol, case: TestCase, step: Step) -> ManualAnswer | None:
        for source in self.sources:
            found = source.answer(protocol, case, step)
            if found is not None:
                return found
        return None


def answered_step(step: Step, answer: ManualAnswer, duration_ms: float = 0.0) -> StepResult:
    """OK passes; F1-F4 is a finding of that severity carrying the tester's note."""
    severity = answer.severity
    findings = []
    if severity is not Severity.OK:
        who = f"{answer.tester}: " if answer.tester else ""
        findings.append(
            Finding(
                MANUAL_RULE,
                severity,
                f"{who}{answer.note or 'observation differs from the expected'}",
                Location(str(step.source), "yaml"),
                step_id=step.id,
            )
        )
    return StepResult(
        step,
        Outcome.FAIL if findings else Outcome.PASS,
        findings,
        message=answer.note,
        duration_ms=duration_ms,
        answer=answer,
    )


def pending_step(step: Step) -> StepResult:
    return StepResult(step, Outcome.PENDING, message="manual step awaits a tester")


def manual_steps(protocols: list[Protocol]) -> list[tuple[Protocol, TestCase, Step]]:
    return [(p, c, s) for p in protocols for c in p.cases for s in c.steps if s.manual]
