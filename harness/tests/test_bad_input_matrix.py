"""Every file kcert reads, broken: a short error naming the file (and line), never a traceback.

The real CLI runs in a subprocess with its address space capped (bad_inputs.MEMORY_LIMIT), so an
input that makes kcert read without bound fails the test instead of the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.tests.bad_inputs import MATRIX, BadInput, try_input

KINDS = (
    "protocol",
    "SUT config",
    "answers",
    "waivers",
    "pack zip",
    "pack tgz",
    "population",
    "TestScript",
    "fixtures map",
    "validate",
)


def test_the_matrix_covers_every_kind_of_input() -> None:
    covered = {entry.name.split(":")[0] for entry in MATRIX}
    assert set(KINDS) <= covered


@pytest.mark.parametrize("entry", MATRIX, ids=[e.name for e in MATRIX])
def test_bad_input_is_a_clear_error(entry: BadInput, tmp_path: Path) -> None:
    tried = try_input(entry, tmp_path)
    assert not tried.why_not, f"{tried.why_not}:\n{tried.output[-3000:]}"
    assert "Traceback" not in tried.output
