"""Protocol collection: a broken file is an error at file:line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.loader.protocols import load_protocol
from harness.model.outcome import Severity
from harness.yamlsource import SourceError

GOOD = """\
kcert-protocol: 1
id: demo
version: 1.0.0
standard: CareCommunication
title: {da: Demo, en: Demo}
cases:
  - id: D-01
    title: Demo case
    requirements: [MVP1-LPS-03]
    severity: F2
    steps:
      - step: 1
        handling: Send
        expected: Ack ok
        do:
          send-message: {template: messages/carecommunication.json.j2}
        expect:
          - ack: {code: ok}
      - step: 2
        handling: Again
        expected: Same
        do:
          resend: {step: 1}
        expect:
          - same-ack: {as: 1}
            severity: F4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_protocol_loads(tmp_path: Path) -> None:
    protocol = load_protocol(write(tmp_path, GOOD))
    case = protocol.cases[0]
    assert case.id == "D-01"
    assert [s.id for s in case.steps] == ["0", "1", "2"]  # step 0 is the implicit reset
    assert case.steps[2].expectations[0].severity is Severity.F4
    assert case.steps[1].source.line == 12


@pytest.mark.parametrize(
    ("old", "new", "line", "needle"),
    [
        ("severity: F2", "severity: F7", 10, "cases[0].severity"),
        ("    title: Demo case\n", "    title: Demo case\n    colour: red\n", 7, "unknown field"),
        ("  - ack: {code: ok}", "  - ack: {code: maybe}", 18, "maybe"),
        ("  - ack: {code: ok}", "  - acknowledge: {code: ok}", 18, "expect[0]"),
        ("send-message: {template", "send-massage: {template", 15, "do"),
        ("messages/carecommunication.json.j2", "messages/missing.json.j2", 16, "not found"),
        ("resend: {step: 1}", "resend: {step: 7}", 23, "does not come before"),
        ("same-ack: {as: 1}", "same-ack: {as: 9}", 25, "has not run yet"),
        ("[MVP1-LPS-03]", "[LPS-3]", 9, "requirements[0]"),
        ("id: D-01", "id: D-01\n    id: D-02", 8, "duplicate key"),
        ("handling: Again", "handling: [unclosed", 21, "YAML syntax"),
        ("version: 1.0.0", "version: one", 3, "version"),
        ("      - step: 2", "      - step: 1", 19, "duplicate step"),
    ],
)
def test_broken_protocol_is_a_collection_error_at_file_line(
    tmp_path: Path, old: str, new: str, line: int, needle: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SourceError) as err:
        load_protocol(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}:"), text
    assert needle in text, text


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("standard: CareCommunication\n", ""))
    with pytest.raises(SourceError, match="'standard' is a required property"):
        load_protocol(path)


def test_step_without_action_must_be_manual(tmp_path: Path) -> None:
    text = GOOD.replace(
        "        do:\n          resend: {step: 1}\n        expect:\n          - same-ack: {as: 1}\n"
        "            severity: F4\n",
        "",
    )
    with pytest.raises(SourceError, match="needs 'do' or 'manual: true'"):
        load_protocol(write(tmp_path, text))
    manual = load_protocol(
        write(tmp_path, text.replace("handling: Again", "handling: Again\n        manual: true"))
    )
    assert manual.cases[0].steps[-1].manual


def test_shipped_protocols_load(protocols: list) -> None:  # type: ignore[type-arg]
    cases = [c for p in protocols for c in p.cases]
    assert len(cases) >= 10
    assert all(c.requirements for c in cases)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("send-message: {template", "send-mesage: {template", "'send-mesage' is not one of"),
        (
            "  - ack: {code: ok}",
            "  - ack: {code: ok}\n            severty: F4",
            "'severty' is not one of",
        ),
        ("    severity: F2", "    severty: F2", "unknown field"),
        (
            "{template: messages/carecommunication.json.j2}",
            "{template: messages/carecommunication.json.j2, vars: {include_patiant: false}}",
            "has no variable 'include_patiant'",
        ),
        (
            "{template: messages/carecommunication.json.j2}",
            "{template: messages/carecommunication.json.j2, person: nobody}",
            "unknown person 'nobody'",
        ),
        (
            "  - ack: {code: ok}",
            '  - fhirpath: {expr: "entry.id = %sentHeaderID"}',
            "unknown FHIRPath variable %sentHeaderID",
        ),
        ("  - ack: {code: ok}", '  - fhirpath: {expr: "entry.where("}', "arity"),
    ],
)
def test_protocol_mistakes_are_named(tmp_path: Path, old: str, new: str, needle: str) -> None:
    assert old in GOOD
    with pytest.raises(SourceError) as err:
        load_protocol(write(tmp_path, GOOD.replace(old, new, 1)))
    assert needle in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "text",
    ["a: &a [*a]\n", "a: &x [1, 2]\nb: [*x, *x, *x]\n"],
    ids=["recursive", "bomb"],
)
def test_yaml_aliases_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(SourceError, match="aliases are not allowed"):
        load_protocol(write(tmp_path, text))
