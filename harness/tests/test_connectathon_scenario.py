"""Connectathon scenarios: the shipped ones load, a broken one is an error at file:line
naming the field, and the protocol loader does not take them for protocols."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.connectathon.model import SIMULATED
from harness.connectathon.scenario.load import (
    ScenarioError,
    UnknownScenario,
    load_scenario,
    load_scenarios,
    scenario_infos,
    scenarios_dir,
)
from harness.loader.protocols import discover
from harness.suite import protocol_hashes
from harness.suitefiles import protocols_dir

GOOD = """\
kcert-scenario: 1
id: cx-demo
version: 1.0.0
title: {da: Demo, en: Demo}
requirements: [MVP2-MC-02]
severity: F2
roles:
  - name: lps
    simulated: false
  - name: municipality
    simulated: true
steps:
  - id: send
    sender: lps
    receiver: municipality
    title: The LPS sends
    do:
      trigger-send: {kind: carecommunication, person: kol-karen, answer: ok}
    expect:
      - message-sent: {count: 1}
  - id: outbox
    sender: municipality
    receiver: lps
    title: The acknowledgement arrives
    do:
      read-outbox: {of: send}
    expect:
      - outbox-status: {status: acknowledged}
catches: [send-missing-topic]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    """The line holding `needle` (several lines: where it starts); the last when it recurs."""
    lines = text.splitlines()
    first, *more = needle.splitlines()
    return max(
        i
        for i, line in enumerate(lines, 1)
        if first in line
        and all(m in lines[i + k] for k, m in enumerate(more) if i + k < len(lines))
    )


def test_a_good_scenario_loads_as_one_protocol_case(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    assert scenario.scenario_id == "cx-demo"
    assert [s.step_id for s in scenario.steps] == ["send", "outbox"]
    assert scenario.steps[0].sender == "lps" and scenario.steps[1].receiver == "lps"
    info = scenario.info()
    assert [r.name for r in info.roles] == ["lps", "municipality"]
    assert info.roles[1].simulated and not info.roles[0].simulated
    assert info.catches == ("send-missing-topic",)
    (case,) = scenario.protocol.cases
    assert case.id == "cx-demo"
    # the reset first, then one protocol step per scenario step, same ids
    assert [s.id for s in case.steps] == ["0", "send", "outbox"]
    assert case.steps[1].action is not None and case.steps[1].action.kind == "trigger-send"
    assert case.steps[1].source.line == _line_of(GOOD, "- id: send")
    # a scenario crosses standards: its case needs only the operations its actions call
    assert case.needs.standard == ""
    assert "sendMessage" in case.needs.operations or case.needs.operations


def test_a_step_kcert_prepares_has_kcert_as_sender(tmp_path: Path) -> None:
    text = GOOD.replace("    sender: lps\n    receiver: municipality\n", "    receiver: lps\n", 1)
    text = text.replace(
        "  - id: outbox\n    sender: municipality", "  - id: outbox\n    sender: lps"
    )
    text = text.replace(
        "receiver: lps\n    title: The ack", "receiver: municipality\n    title: The ack"
    )
    scenario = load_scenario(_write(tmp_path, text))
    assert scenario.steps[0].sender == SIMULATED


@pytest.mark.parametrize(
    ("old", "new", "field", "needle", "at"),
    [
        (
            "trigger-send: {",
            "trigger-sned: {",
            "steps[0].do",
            "trigger-sned",
            "do:\n      trigger-sned",
        ),
        ("- message-sent:", "- message-snet:", "steps[0].expect[0]", "message-snet", "snet"),
        ("answer: ok}", "answer: ok, colour: red}", "steps[0].do.trigger-send", "colour", "colour"),
        (
            "person: kol-karen",
            "person: nobody",
            "steps[0].do.trigger-send.person",
            "nobody",
            "nobody",
        ),
        ("{of: send}", "{of: later}", "steps[1].do.read-outbox.of", "later", "of: later"),
        (
            "receiver: municipality",
            "receiver: hospital",
            "steps[0].receiver",
            "hospital",
            "hospital",
        ),
        ("    title: The LPS sends\n", "", "steps[0]", "title", "- id: send"),
        (
            "catches: [send-missing-topic]",
            "catches: [no-such-defect]",
            "catches[0]",
            "no-such",
            "catches",
        ),
        (
            "  - name: municipality\n    simulated: true\n",
            "  - name: municipality\n    simulated: false\n    systems_may_play: false\n",
            "roles[1].systems_may_play",
            "nobody plays",
            "systems_may_play",
        ),
        (
            "  - name: municipality\n",
            "  - name: lps\n",
            "roles[1].name",
            "twice",
            "  - name: lps\n    simulated: true",
        ),
        (
            "id: cx-demo",
            "id: cx-demo\ncolour: red",
            "",
            "'colour' was unexpected",
            "kcert-scenario",
        ),
    ],
)
def test_a_broken_scenario_is_named_at_file_line_and_field(
    tmp_path: Path, old: str, new: str, field: str, needle: str, at: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, text), "scenarios/x.yaml")
    error = caught.value
    assert error.file == "scenarios/x.yaml"
    assert error.field == field, str(error)
    assert needle in str(error)
    assert error.line == _line_of(text, at), str(error)


def test_a_role_in_no_step_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("steps:\n", "  - name: viewer\n    simulated: true\nsteps:\n", 1)
    with pytest.raises(ScenarioError, match=r"viewer.*takes part in no step") as caught:
        load_scenario(_write(tmp_path, text))
    assert caught.value.line == _line_of(text, "name: viewer")


def test_a_protocol_file_is_not_a_scenario(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="kcert-scenario"):
        load_scenario(_write(tmp_path, "kcert-protocol: 1\nid: x\n"))


def test_every_shipped_scenario_loads() -> None:
    scenarios = load_scenarios()
    ids = {s.scenario_id for s in scenarios}
    assert {
        "cx-careplan-view",
        "cx-referral-receipt",
        "cx-carecommunication-roundtrip",
        "cx-pro-stratification",
    } <= ids
    for scenario in scenarios:
        assert scenario.catches, f"{scenario.file} names no defect it must catch"
        assert any(not r.simulated for r in scenario.roles)
        assert scenario.file.startswith("testcases/connectathon/")


def test_scenario_infos_keep_the_order_asked_and_name_an_unknown_id() -> None:
    infos = scenario_infos(["cx-referral-receipt", "cx-careplan-view"])
    assert [i.scenario_id for i in infos] == ["cx-referral-receipt", "cx-careplan-view"]
    assert infos[1].title_en and infos[1].title_da
    with pytest.raises(UnknownScenario, match=r"cx-nothing.*known: cx-"):
        scenario_infos(["cx-nothing"])


def test_two_files_with_one_id_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ScenarioError, match="cx-demo"):
        load_scenarios(tmp_path)


def test_protocol_discovery_skips_the_scenarios_and_the_suite_version_hashes_them() -> None:
    found = discover(protocols_dir())
    assert found and not any("connectathon" in p.parts for p in found)
    hashed = dict(protocol_hashes([protocols_dir()]))
    for path in sorted(scenarios_dir().glob("*.yaml")):
        assert f"connectathon/{path.name}" in hashed


# -- MedCom TestScripts as scenarios (the corpus is not committed: skipped without it) ----------


def test_medcom_testscripts_load_as_scenarios_with_their_parties_as_roles(corpus: Path) -> None:
    root = corpus / "fhir" / "testscripts"
    scenarios = {s.scenario_id: s for s in load_scenarios(root)}
    assert len(scenarios) == 45
    send = scenarios["carecommunication-send-new-message"]
    # origin 1 is the SUT (a FHIR client), destination 1 the server kcert plays
    assert [(r.name, r.simulated, r.systems_may_play) for r in send.roles] == [
        ("lps", False, True),
        ("fhir-server", True, False),
    ]
    assert [(s.sender, s.receiver, s.whole_case) for s in send.steps] == [
        ("lps", "fhir-server", True)
    ]
    assert [c.id for c in send.protocol.cases] == [s.case_id for s in send.steps]
    receive = scenarios["acknowledgement-receive-ok"]
    # its setup: kcert prepares what the SUT then reads from the server
    assert [(s.step_id, s.sender, s.receiver) for s in receive.steps] == [
        ("setup", SIMULATED, "lps"),
        ("message-read-ok-01", "lps", "fhir-server"),
    ]
    assert receive.info().roles == receive.roles and receive.info().catches == ()
    assert send.script is not None and send.sha256 == send.script.sha256


def test_a_testscript_without_origin_and_destination_is_no_scenario(
    corpus: Path, tmp_path: Path
) -> None:
    source = corpus / "fhir" / "testscripts" / "acknowledgementtestscript-2.0.0"
    data = json.loads((source / "TestScript-acknowledgement-receive-ok.json").read_text("utf-8"))
    del data["destination"]
    (tmp_path / "TestScript-x.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match="names its origin and destination") as caught:
        load_scenarios(tmp_path)
    assert caught.value.field == "destination"


def test_yaml_scenarios_and_testscripts_load_from_one_folder(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "fhir" / "testscripts" / "acknowledgementtestscript-2.0.0"
    shutil.copy(source / "TestScript-acknowledgement-receive-ok.json", tmp_path)
    (tmp_path / "demo.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "fixtures-map.yaml").write_text("fixtures: {}\n", encoding="utf-8")  # no scenario
    assert [s.scenario_id for s in load_scenarios(tmp_path)] == [
        "cx-demo",
        "acknowledgement-receive-ok",
    ]


def test_the_readme_example_is_a_scenario(tmp_path: Path) -> None:
    readme = (protocols_dir().parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Scenarios", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = load_scenario(_write(tmp_path, example))
    assert scenario.scenario_id == "cx-referral-receipt"
    assert [s.step_id for s in scenario.steps] == ["refer", "receipt"]
