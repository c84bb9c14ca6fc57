"""The CLI imports a command's parser only when the command is named, and the command's module
(engine, run store, rich, validators) only when it runs (no timing asserted)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.cli.main import COMMANDS, build_parser
from harness.cli.parsers import common
from harness.cli.parsers.lazy import lazy

NAMES = [name for _, commands in COMMANDS for name, _ in commands]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def tree(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under `parser` (itself first), with the words that reach it."""
    yield path, parser
    if parser._subparsers is not None:
        for name, child in subparsers(parser).items():
            yield from tree(child, (*path, name))


# What `kcert <command> --help` must not load; a command's parser needs none of it.
HEAVY = (
    "sqlalchemy",
    "rich",
    "saxonche",
    "schemathesis",
    "jsonschema",
    "requests",
    "cryptography",
    "lxml",
    "harness.runner",
    "harness.session",
    "harness.store",
    "harness.report",
    "harness.loader",
    "harness.testscript",
    "harness.validators.documents",
    "harness.cli.runflow",
    *(f"harness.cli.{module}" for module in ("certify", "lifecycle_cmd", "runs_cmd")),
)


def loaded_by(argv: list[str]) -> list[str]:
    """The HEAVY modules (or their submodules) a fresh interpreter loads to run `kcert argv`."""
    code = (
        "import sys\n"
        "from harness.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = {HEAVY!r}\n"
        "hit = sorted(m for m in sys.modules if m.split('.')[0] in heavy or any("
        "m == h or m.startswith(h + '.') for h in heavy))\n"
        "print('loaded:' + ','.join(hit))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "usage: kcert" in done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:")
    return [m for m in last.removeprefix("loaded:").split(",") if m]


def test_the_top_level_help_is_the_fully_built_parsers() -> None:
    full = build_parser()
    assert build_parser(["--help"]).format_help() == full.format_help()
    assert build_parser([]).format_help() == full.format_help()
    assert list(subparsers(full)) == NAMES  # the table lists every command, in order


@pytest.mark.parametrize("name", NAMES)
def test_a_named_command_gets_its_real_parser(name: str) -> None:
    full = subparsers(build_parser())[name]
    lazy = subparsers(build_parser([name, "--help"]))[name]
    assert lazy.format_help() == full.format_help()
    assert callable(lazy.get_default("func")) or lazy._subparsers is not None


@pytest.mark.parametrize("name", NAMES)
def test_every_subcommands_help_is_the_fully_built_parsers(name: str) -> None:
    full = dict(tree(subparsers(build_parser())[name]))
    lazy_ = dict(tree(subparsers(build_parser([name, "--help"]))[name]))
    assert list(lazy_) == list(full)
    for path, parser in full.items():
        assert lazy_[path].format_help() == parser.format_help(), (name, *path)


@pytest.mark.parametrize("name", NAMES)
def test_every_command_runs_a_function_its_module_has(name: str) -> None:
    # The parsers name their command's function by module and attribute; a typo would only
    # show when the command runs, so resolve every one here.
    leaves = [p for _, p in tree(subparsers(build_parser([name]))[name]) if p._subparsers is None]
    assert leaves
    for parser in leaves:
        func = parser.get_default("func")
        assert isinstance(func, lazy), parser.prog
        assert callable(getattr(importlib.import_module(func.module), func.name)), func


def test_the_parsers_evidence_budget_is_the_engines() -> None:
    from harness.runner.engine import DEFAULT_EVIDENCE_BUDGET

    assert common.DEFAULT_EVIDENCE_BUDGET == DEFAULT_EVIDENCE_BUDGET


@pytest.mark.parametrize(
    "argv", [[name, "--help"] for name in NAMES] + [["runs", "list", "--help"]]
)
def test_a_commands_help_loads_neither_the_engine_nor_its_libraries(argv: list[str]) -> None:
    assert loaded_by(argv) == []


def test_the_heavy_list_is_real() -> None:
    # Running a command does load them, so the check above is not vacuous.
    code = (
        "import sys\n"
        "import harness.cli.certify\n"
        "print(sorted(m for m in ('sqlalchemy', 'rich', 'harness.runner', 'harness.session')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "['harness.runner', 'harness.session', 'rich', 'sqlalchemy']"


def test_help_loads_neither_the_engine_nor_its_libraries() -> None:
    code = (
        "import sys\n"
        "from harness.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['harness.runner.engine', 'sqlalchemy', 'saxonche', 'schemathesis',"
        " 'harness.cli.certify', 'rich.console']\n"
        "print('loaded:' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "usage: kcert" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "loaded:"


def test_an_unknown_command_is_refused_with_the_choices() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid choice: 'bogus'" in done.stderr and "certify" in done.stderr
