"""Protocols as data: protocol -> test cases -> steps -> action and expectations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.model.scope import Needs


@dataclass(frozen=True)
class Source:
    """Where a protocol element was written, for messages that name file and line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Action:
    """What a step does to the SUT: a registered action kind with its parameters."""

    kind: str
    params: dict[str, Any]
    source: Source


@dataclass(frozen=True)
class Expectation:
    """A registered check on the step's exchange; severity overrides the test case's."""

    kind: str
    params: dict[str, Any]
    source: Source
    severity: Severity | None = None


@dataclass(frozen=True)
class Step:
    """One row of a MedCom step table, plus the machine-run part."""

    id: str
    handling: Text
    testdata: str
    expected: Text
    action: Action | None
    expectations: tuple[Expectation, ...]
    source: Source
    manual: bool = False


@dataclass(frozen=True)
class TestCase:
    """A test case proves national requirements; a failure carries its MedCom severity."""

    __test__ = False  # not a pytest test class

    id: str
    title: Text
    requirements: tuple[str, ...]
    severity: Severity
    steps: tuple[Step, ...]
    source: Source
    description: Text = field(default_factory=Text)
    # everything the case needs of the SUT: the protocol's needs, the case's own, and the
    # operations its actions call (the loader merges them)
    needs: Needs = field(default_factory=Needs)


@dataclass(frozen=True)
class Protocol:
    """One YAML file under testcases/: a versioned protocol for one standard or capability."""

    id: str
    version: str
    title: Text
    standard: str
    capability: str
    cases: tuple[TestCase, ...]
    source: Source
    sha256: str = ""
    needs: Needs = field(default_factory=Needs)  # as written at protocol level
    # The cases run in order on one shared state (a TestScript: its setup, tests and
    # teardown): a resume runs such a protocol again whole unless every one of its cases was
    # recorded (the state they share is not in the store). Its set-up case, when it does not
    # pass, stops the other cases but the tear-down, which say why.
    shares_state: bool = False
    setup_case: str = ""
    teardown_case: str = ""
