"""The CLI imports a command's module only when the command is named (no timing asserted)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from harness.cli.main import COMMANDS, build_parser

NAMES = [name for _, commands in COMMANDS for name, _ in commands]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


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
