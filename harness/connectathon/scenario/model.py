"""A connectathon scenario as the executor, pairing and the matrix read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.connectathon.model import ScenarioInfo, ScenarioRole
from harness.model.i18n import Text
from harness.model.protocol import Protocol
from harness.testscript.script import Script
from harness.yamlsource import SourceError


class ScenarioError(SourceError):
    """A scenario file is broken: the message names file:line and the field at fault."""


class UnknownScenario(KeyError):
    """A scenario id was asked for that no scenario file has; the message lists the known."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ScenarioStep:
    step_id: str
    seq: int  # 1-based, in file order
    sender: str  # a role, or SIMULATED when kcert itself prepares the receiver
    receiver: str
    title: Text
    line: int
    case_id: str = ""  # the protocol case it runs in (a YAML scenario has one: its id)
    # True: the step is that whole case (a TestScript's setup, test or teardown); False:
    # the case's step of the same id
    whole_case: bool = False


@dataclass(frozen=True)
class Scenario:
    scenario_id: str
    version: str
    title: Text
    description: Text
    roles: tuple[ScenarioRole, ...]
    steps: tuple[ScenarioStep, ...]
    catches: tuple[str, ...]
    file: str  # as shown in messages: testcases/connectathon/x.yaml
    sha256: str
    # the runnable form: one protocol, one case (id = scenario id), one step per scenario step
    protocol: Protocol = field(repr=False, compare=False)
    # a scenario read from a TestScript: the script its protocol runs (harness.testscript)
    script: Script | None = field(default=None, repr=False, compare=False)

    def info(self) -> ScenarioInfo:
        return ScenarioInfo(
            scenario_id=self.scenario_id,
            title_da=self.title.da,
            title_en=self.title.en,
            roles=self.roles,
            catches=self.catches,
        )

    def role(self, name: str) -> ScenarioRole:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)

    def step(self, step_id: str) -> ScenarioStep:
        for step in self.steps:
            if step.step_id == step_id:
                return step
        raise KeyError(step_id)
