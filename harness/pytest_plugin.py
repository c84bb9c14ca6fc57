"""pytest front door: `pytest testcases/ --sut reference` runs the same engine as `kcert certify`.

Thin glue: collection turns protocol YAML into items, each item runs one test case through
`CertificationSession`. This is the only kcert module that imports pytest.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from harness.loader.answers import load_answers
from harness.loader.protocols import load_protocol
from harness.model.outcome import Outcome
from harness.model.protocol import Protocol, TestCase
from harness.model.result import CaseResult
from harness.runner.attended import AnswerBook
from harness.session import CertificationSession, SutChoice
from harness.session.sut import PYTEST_NAMES, SutChoiceError
from harness.sut.reference import ReferenceStartError
from harness.yamlsource import SourceError

SESSION_KEY = pytest.StashKey[CertificationSession]()
CHOICE_KEY = pytest.StashKey[SutChoice]()
ANSWERS_KEY = pytest.StashKey[AnswerBook]()
PROTOCOL_MARKER = b"kcert-protocol:"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kcert", "kcert certification")
    group.addoption("--sut", choices=["reference"], help="test the embedded reference LPS")
    group.addoption("--sut-config", type=Path, help="YAML file describing the SUT")
    group.addoption("--defect", action="append", default=[], help="reference LPS defect")
    group.addoption(
        "--kcert-transport",
        choices=["http", "inprocess"],
        default="http",
        help="reference LPS over loopback HTTP (default) or in-process",
    )
    group.addoption("--kcert-report", type=Path, help="write a kcert report under this folder")
    group.addoption("--kcert-lang", choices=["da", "en"], default="da")
    group.addoption(
        "--kcert-answers", type=Path, help="YAML answers to manual steps (else they are skipped)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(id): national requirement a kcert test case proves"
    )
    sut = config.getoption("--sut", None)
    sut_config = config.getoption("--sut-config", None)
    if not sut and not sut_config:
        return
    try:
        # the one validation, credentials included (token variable, readable certificate
        # files), before any SUT is started or reached
        choice = SutChoice.from_options(
            sut,
            sut_config,
            tuple(config.getoption("--defect") or ()),
            config.getoption("--kcert-transport"),
            names=PYTEST_NAMES,
        )
    except (SutChoiceError, SourceError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[CHOICE_KEY] = choice
    answers_file = config.getoption("--kcert-answers", None)
    if answers_file is not None:
        try:
            config.stash[ANSWERS_KEY] = AnswerBook(load_answers(answers_file, None))
        except SourceError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if CHOICE_KEY not in parent.config.stash or file_path.suffix not in (".yaml", ".yml"):
        return None
    with file_path.open("rb") as handle:
        if PROTOCOL_MARKER not in handle.read(4096):
            return None
    return ProtocolFile.from_parent(parent, path=file_path)


class ProtocolCollectionError(Exception):
    """A protocol file is broken; the message names file:line and the field."""


class ProtocolFile(pytest.File):
    def collect(self) -> Any:
        display = (
            self.path.relative_to(self.config.rootpath)
            if self.path.is_relative_to(self.config.rootpath)
            else self.path
        )
        try:
            protocol = load_protocol(self.path, display_name=str(display))
        except SourceError as exc:
            raise ProtocolCollectionError(str(exc)) from None
        for case in protocol.cases:
            yield CaseItem.from_parent(self, name=case.id, protocol=protocol, case=case)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ProtocolCollectionError):
            return f"collection error: {excinfo.value}"
        return str(super().repr_failure(excinfo))


class KcertMinorFindings(UserWarning):
    """F4 findings: reported, but they do not stand in the way of approval."""


class CaseFailed(Exception):
    """The SUT did not meet the test case's expectations."""


class CaseErrored(Exception):
    """The test case could not be carried out (SUT unreachable, or a fault inside kcert)."""


class CaseItem(pytest.Item):
    def __init__(self, *, protocol: Protocol, case: TestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.protocol = protocol
        self.case = case
        self.result: CaseResult | None = None
        for req in case.requirements:
            self.add_marker(pytest.mark.requirement(req))

    def runtest(self) -> None:
        session = _session(self.config)
        try:
            self.result = session.run_case(self.protocol, self.case)
        except ReferenceStartError as exc:
            raise CaseErrored(f"the reference LPS did not start: {exc}") from None
        outcome = self.result.outcome
        if outcome is Outcome.NOT_IN_SCOPE:
            pytest.skip(f"{self.case.id} not in scope: {self.result.not_in_scope}")
        if outcome is Outcome.ERROR:
            raise CaseErrored(self.result.error)
        if outcome is Outcome.FAIL and self.result.blocking:
            raise CaseFailed(_describe(self.result))
        if outcome is Outcome.FAIL:
            # F4 (mindre betydelig) findings do not stand in the way of approval: the item
            # passes, as the certification verdict does, and the findings are shown.
            warnings.warn(KcertMinorFindings(_describe(self.result)), stacklevel=1)
        if outcome in (Outcome.PENDING, Outcome.SKIP):
            waiting = [s.step.id for s in self.result.steps if s.outcome is Outcome.PENDING]
            pytest.skip(
                f"{self.case.id} {outcome.value}: manual step(s) {', '.join(waiting)} await a "
                "tester (--kcert-answers FILE)"
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, CaseErrored):
            # Only kcert's own faults and an unreachable SUT end here (the engine's outcome
            # ERROR); a reachable SUT's faulty answer is a CaseFailed with its findings.
            return f"ERROR (kcert could not judge the SUT; not a finding): {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.source.line - 1, f"{self.case.id} {self.case.title.en}"


def _describe(result: CaseResult) -> str:
    lines = [
        f"{result.case.id} {result.case.title.en}: assessment {result.assessment.value} "
        f"(requirements {', '.join(result.case.requirements)})"
    ]
    for finding in result.findings:
        if finding.is_problem:
            where = f" @ {finding.location.path}" if finding.location.path else ""
            lines.append(
                f"  step {finding.step_id} [{finding.severity.value}] {finding.rule_id}: "
                f"{finding.message}{where}"
            )
    return "\n".join(lines)


def _session(config: pytest.Config) -> CertificationSession:
    if SESSION_KEY not in config.stash:
        config.stash[SESSION_KEY] = CertificationSession(
            config.stash[CHOICE_KEY], answers=config.stash.get(ANSWERS_KEY, None)
        )
    return config.stash[SESSION_KEY]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if SESSION_KEY not in config.stash:
        return
    cert = config.stash[SESSION_KEY]
    try:
        target = config.getoption("--kcert-report")
        if target and cert.results:
            from harness.runner.engine import RunOptions
            from harness.session import runpath

            lang = config.getoption("--kcert-lang")
            run = cert.run_result(RunOptions(lang=lang))
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            try:  # the one run path's reporting (no run store: pytest keeps its own record)
                run_dir = runpath.finish(run, runpath.Reporting(Path(target)))
            except runpath.RunPathError as exc:
                if reporter is not None:
                    reporter.write_line(f"kcert: error: {exc}", red=True)
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
                return
            if reporter is not None:
                reporter.write_line(f"kcert report: {run_dir / 'index.html'}")
    finally:
        cert.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    if CHOICE_KEY not in config.stash:
        return None
    return f"kcert: SUT {config.stash[CHOICE_KEY].describe()}"
