"""The import-linter contracts say what harness/ARCHITECTURE.md says, for every package there is
and every package still to come; and they fire on a package built to break them.

The contracts in pyproject.toml name `harness.*` (every top-level module) rather than a list to
keep up to date. These tests check that wording, re-check the reference LPS's imports with grimp
directly (the contract cannot see an import of the root package `harness` itself, nor what
safeparse imports behind its exception), and run the contracts as written on a small package
shaped like harness, once clean and once broken.
"""

from __future__ import annotations

import fnmatch
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.contracts.forbidden import ForbiddenContract

import harness

ROOT = Path(__file__).resolve().parents[2]
REFLPS_CONTRACT = "The reference LPS is independent"
JUDGING_CONTRACT = "The judging side never imports the reference LPS"
PYTEST_CONTRACT = "Only the pytest plugin imports pytest"
# Who may import the reference LPS, each for a reason (ARCHITECTURE.md "Contracts").
MAY_START_REFLPS = {"session", "cli", "bench", "tests"}


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _contract(prefix: str) -> dict[str, Any]:
    (found,) = [c for c in _contracts() if c["name"].startswith(prefix)]
    return found


def _top_level() -> set[str]:
    return {info.name for info in pkgutil.iter_modules(harness.__path__)}


def _matches(expression: str, module: str) -> bool:
    """import-linter's module expressions as the contracts use them: `*` one name, `**` any."""
    if expression.endswith(".**"):
        return module.startswith(expression[:-2])
    return fnmatch.fnmatchcase(module, expression) and module.count(".") == expression.count(".")


def _importers(contract: dict[str, Any]) -> set[str]:
    """The top-level modules the contract's ignored imports start from."""
    return {ignored.split("->")[0].strip().split(".")[1] for ignored in contract["ignore_imports"]}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("harness", cache_dir=None)


# -- the wording: every package, today's and tomorrow's ----------------------------------------


def test_the_reference_lps_may_import_no_other_top_level_module() -> None:
    contract = _contract(REFLPS_CONTRACT)
    assert contract["source_modules"] == ["harness.reflps"]
    assert contract["forbidden_modules"] == ["harness.*"]
    # the one exception is safeparse, imported from the reference LPS
    for ignored in contract["ignore_imports"]:
        importer, imported = (side.strip() for side in ignored.split("->"))
        assert _matches(importer, "harness.reflps.app") or importer == "harness.reflps"
        assert imported == "harness.safeparse"
    # every top-level module but safeparse is forbidden, a package added tomorrow included
    modules = _top_level() | {"standards", "session", "a_package_added_tomorrow"}
    for name in sorted(modules - {"reflps", "safeparse"}):
        assert any(_matches(e, f"harness.{name}") for e in contract["forbidden_modules"]), name


def test_every_package_but_the_starters_is_on_the_judging_side() -> None:
    contract = _contract(JUDGING_CONTRACT)
    assert contract["forbidden_modules"] == ["harness.reflps"]
    judging = _top_level() | {"standards", "sut", "testscript", "dossier", "tomorrow"}
    for name in sorted(judging - MAY_START_REFLPS - {"reflps"}):
        assert any(_matches(e, f"harness.{name}") for e in contract["source_modules"]), name
        assert not any(
            _matches(ignored.split("->")[0].strip(), f"harness.{name}.x")
            or ignored.split("->")[0].strip() == f"harness.{name}"
            for ignored in contract["ignore_imports"]
        ), f"harness.{name} may not import the reference LPS"
    starters = {
        ignored.split("->")[0].strip().split(".")[1] for ignored in contract["ignore_imports"]
    }
    assert starters == MAY_START_REFLPS


def test_only_the_pytest_plugin_and_the_tests_may_import_pytest() -> None:
    contract = _contract(PYTEST_CONTRACT)
    assert contract["source_modules"] == ["harness.*"]
    importers = {
        ignored.split("->")[0].strip().split(".")[1] for ignored in contract["ignore_imports"]
    }
    assert importers == {"pytest_plugin", "tests"}


# -- what the contract cannot see, checked with grimp directly ---------------------------------


def test_the_reference_lps_imports_only_safeparse_and_itself(graph: grimp.ImportGraph) -> None:
    reflps = {"harness.reflps", *graph.find_descendants("harness.reflps")}
    outside = {
        (module, imported)
        for module in reflps
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] == "harness"
        and imported not in reflps
        and imported != "harness.safeparse"
    }
    assert not outside, sorted(outside)  # the root package `harness` included


def test_safeparse_imports_nothing_of_harness(graph: grimp.ImportGraph) -> None:
    # The reference LPS's one exception would otherwise carry whatever safeparse imports.
    assert not graph.find_modules_directly_imported_by("harness.safeparse")


def test_the_reference_identity_the_judging_side_states_is_the_reference_lps_own() -> None:
    from harness.reflps.identity import REFERENCE_CLINIC
    from harness.sut.reference import REFERENCE_GLN, REFERENCE_NAME, REFERENCE_SOR

    assert (
        REFERENCE_CLINIC.sor,
        REFERENCE_CLINIC.gln,
        REFERENCE_CLINIC.name,
    ) == (REFERENCE_SOR, REFERENCE_GLN, REFERENCE_NAME)


# -- the contracts as written, on a package shaped like harness ---------------------------------

PROBE = "kcertprobe"


def _probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Any:
    """A package named PROBE from `files` (path -> source), its import graph."""
    for relative, source in files.items():
        path = tmp_path / PROBE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for folder in {p.parent for p in (tmp_path / PROBE).rglob("*.py")}:
        (folder / "__init__.py").touch()
    monkeypatch.syspath_prepend(str(tmp_path))
    return grimp.build_graph(PROBE, include_external_packages=True, cache_dir=None)


def _kept(prefix: str, graph: Any) -> bool:
    """The pyproject contract, with harness renamed to the probe, checked on `graph`."""
    configuration.configure()  # what lint-imports sets up first (its timer, its readers)
    written = _contract(prefix)
    options = {
        key: [v.replace("harness", PROBE) for v in value]
        if isinstance(value, list)
        else value.replace("harness", PROBE)
        for key, value in written.items()
        if key not in ("name", "type")
    }
    contract = ForbiddenContract(
        name=written["name"],
        session_options={"root_packages": [PROBE], "include_external_packages": True},
        contract_options=options,
    )
    return bool(contract.check(graph, verbose=False).kept)


CLEAN = {
    "reflps/app.py": f"from {PROBE}.reflps import wire\nfrom {PROBE} import safeparse\n",
    "reflps/wire.py": "",
    "safeparse.py": "import json\n",
    "session/core.py": f"from {PROBE}.reflps import app\n",
    "cli/main.py": f"from {PROBE}.session import core\n",
    "testscript/run.py": f"from {PROBE}.session import core\n",  # starts it through the session
    "sut/config.py": "",
    "pytest_plugin.py": "import pytest\n",
    "tests/test_x.py": f"import pytest\nfrom {PROBE}.reflps import app\n",
    "bench.py": f"from {PROBE}.reflps import app\n",
}


def test_a_package_shaped_like_harness_keeps_every_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = _probe(tmp_path, monkeypatch, CLEAN)
    assert _kept(REFLPS_CONTRACT, graph)
    assert _kept(JUDGING_CONTRACT, graph)
    assert _kept(PYTEST_CONTRACT, graph)


@pytest.mark.parametrize(
    ("contract", "module", "source"),
    [
        # the reference LPS reaches for a package that did not exist when the contract was written
        (REFLPS_CONTRACT, "reflps/inbox.py", f"from {PROBE}.standards import hospnotif\n"),
        (REFLPS_CONTRACT, "reflps/inbox.py", f"from {PROBE}.session import core\n"),
        (REFLPS_CONTRACT, "reflps/inbox.py", f"import {PROBE}.model\n"),
        # the judging side, sut and a new package included, imports the reference LPS
        (JUDGING_CONTRACT, "sut/reference.py", f"from {PROBE}.reflps import wire\n"),
        (JUDGING_CONTRACT, "standards/hospnotif.py", f"from {PROBE}.reflps import app\n"),
        (JUDGING_CONTRACT, "testscript/run.py", f"from {PROBE}.reflps import app\n"),
        (PYTEST_CONTRACT, "runner/engine.py", "import pytest\n"),
        (PYTEST_CONTRACT, "standards/hospnotif.py", "import _pytest\n"),
    ],
)
def test_each_contract_fires_on_a_package_that_breaks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contract: str, module: str, source: str
) -> None:
    files = {
        **CLEAN,
        "standards/hospnotif.py": "",
        "model/__init__.py": "",
        "runner/engine.py": "",
    }
    assert _kept(contract, _probe(tmp_path, monkeypatch, files))
    broken = _probe(tmp_path / "broken", monkeypatch, {**files, module: source})
    assert not _kept(contract, broken)
