"""Shared fixtures for kcert's own tests."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.fixtures import REFERENCE_ANSWERS, REPO_ROOT
from harness.loader.answers import load_answers
from harness.loader.protocols import discover, load_all
from harness.model.protocol import Protocol
from harness.model.result import RunResult
from harness.runner.attended import AnswerBook
from harness.runner.engine import Runner, RunOptions
from harness.sut.reference import reference_config
from harness.transport.inprocess import InProcessTransport

warnings.filterwarnings("ignore", message=".*httpx2.*")

# kcert's own tests never see the packs installed on the machine (~/.kcert/packs): a test that
# needs packs installs them into a store of its own and points KCERT_PACKS at it.
os.environ["KCERT_PACKS"] = tempfile.mkdtemp(prefix="kcert-test-packs-")

SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"


@pytest.fixture(scope="session")
def protocols() -> list[Protocol]:
    loaded, errors = load_all(discover(REPO_ROOT / "testcases"))
    assert not errors, errors
    return loaded


def reference_answers(protocols: list[Protocol]) -> AnswerBook:
    """The pre-recorded tester answers for the reference LPS's manual steps."""
    # not checked against `protocols`: a run of one protocol file may lack the attended step
    return AnswerBook(load_answers(REFERENCE_ANSWERS, None))


def run_reference(
    protocols: list[Protocol], defects: tuple[str, ...] = (), answered: bool = True
) -> RunResult:
    """One full run against the in-process reference LPS (manual steps answered as recorded)."""
    from harness.reflps.app import create_app

    config = reference_config("http://reference.invalid", defects, "inprocess")
    transport = InProcessTransport(config, create_app(defects))
    answers = reference_answers(protocols) if answered else None
    try:
        return Runner(transport, config, answers=answers).run(
            protocols, RunOptions(run_id="test-run")
        )
    finally:
        transport.close()


@pytest.fixture(scope="session")
def clean_run(protocols: list[Protocol]) -> RunResult:
    return run_reference(protocols)


@pytest.fixture
def corpus() -> Iterator[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus is absent ({CORPUS}): official artefacts not available")
    yield CORPUS
