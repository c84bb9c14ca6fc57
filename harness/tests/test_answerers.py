"""Who ran the run and who answered each attended step, and when: kept apart, as recorded, in
the report, results.json and the signed manifest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.fixtures import REPO_ROOT
from harness.loader.answers import load_answers
from harness.model.protocol import Protocol
from harness.yamlsource import SourceError

CC = str(REPO_ROOT / "testcases" / "carecommunication-receive.yaml")


def _answers(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_files_tester_is_kept_over_the_operator(
    tmp_path: Path, protocols: list[Protocol]
) -> None:
    path = _answers(
        tmp_path,
        "tester: Tove Tester (MedCom)\nanswers:\n  - {case: CC-R-13, step: 2, verdict: OK}\n",
    )
    [answer] = load_answers(path, protocols, operator="Otto Operatør")
    assert answer.tester == "Tove Tester (MedCom)"


def test_an_answers_own_tester_is_kept_over_the_files(
    tmp_path: Path, protocols: list[Protocol]
) -> None:
    path = _answers(
        tmp_path,
        "tester: Tove\nanswers:\n  - {case: CC-R-13, step: 2, verdict: OK, tester: Kaj}\n",
    )
    assert load_answers(path, protocols, "Otto")[0].tester == "Kaj"


def test_a_file_naming_nobody_takes_the_operator(tmp_path: Path, protocols: list[Protocol]) -> None:
    path = _answers(tmp_path, "answers:\n  - {case: CC-R-13, step: 2, verdict: OK}\n")
    assert load_answers(path, protocols, "Otto")[0].tester == "Otto"


def test_an_answer_without_a_time_says_so(tmp_path: Path, protocols: list[Protocol]) -> None:
    path = _answers(tmp_path, "tester: T\nanswers:\n  - {case: CC-R-13, step: 2, verdict: OK}\n")
    [answer] = load_answers(path, protocols)
    assert answer.answered_at == ""
    assert answer.to_dict()["time_recorded"] is False


@pytest.mark.parametrize(
    ("at", "kept"),
    [
        ('"2027-03-01T10:15:00+01:00"', "2027-03-01T10:15:00+01:00"),
        ("2027-03-01T10:15:00Z", "2027-03-01T10:15:00Z"),  # unquoted: still text as written
        ('"2027-03-01 10:15"', "2027-03-01 10:15"),
    ],
)
def test_an_answers_time_is_kept_as_written(
    tmp_path: Path, protocols: list[Protocol], at: str, kept: str
) -> None:
    path = _answers(
        tmp_path,
        f"tester: T\nanswers:\n  - {{case: CC-R-13, step: 2, verdict: OK, at: {at}}}\n",
    )
    [answer] = load_answers(path, protocols)
    assert answer.answered_at == kept and answer.to_dict()["time_recorded"] is True


@pytest.mark.parametrize("at", ['"i går"', '"2027-03-01"', "2027-03-01", "17"])
def test_a_time_that_is_no_time_names_file_and_line(
    tmp_path: Path, protocols: list[Protocol], at: str
) -> None:
    path = _answers(
        tmp_path,
        f"tester: T\nanswers:\n  - case: CC-R-13\n    step: 2\n    verdict: OK\n    at: {at}\n",
    )
    with pytest.raises(SourceError) as err:
        load_answers(path, protocols)
    assert "answers.yaml:" in str(err.value) and "answers[0].at" in str(err.value)
    assert "not a date and time" in str(err.value)


def test_prompt_asks_who_answers_when_nobody_is_named(
    protocols: list[Protocol], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from harness.cli.prompter import ConsolePrompter

    replies = iter(["OK", "Tove", "", ""])
    monkeypatch.setattr(Console, "input", lambda self, *a, **k: next(replies))
    prompter = ConsolePrompter(Console(file=io.StringIO(), width=120), "", "da")
    protocol = next(p for p in protocols if p.id == "carecommunication-receive")
    case = next(c for c in protocol.cases if c.id == "CC-R-13")
    step = next(s for s in case.steps if s.manual)
    answer = prompter.answer(protocol, case, step)
    assert answer is not None and answer.tester == "Tove" and answer.answered_at


def test_operator_and_answerer_in_report_results_and_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _answers(
        tmp_path,
        "tester: Tove Tester (MedCom)\nanswers:\n  - {case: CC-R-13, step: 2, verdict: OK}\n",
    )
    reports = tmp_path / "r"
    code = main(
        [
            "certify",
            "--sut",
            "reference",
            "--transport",
            "inprocess",
            "--protocols",
            CC,
            "--reports",
            str(reports),
            "--answers",
            str(path),
            "--tester",
            "Otto Operatør",
            "--case",
            "CC-R-01,CC-R-13",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    run_dir = reports / "latest"
    data = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert data["tester"] == data["operator"] == "Otto Operatør"
    assert data["answerers"] == ["Tove Tester (MedCom)"]
    assert [c["id"] for c in data["protocols"][0]["cases"]] == ["CC-R-01", "CC-R-13"]
    answer = next(
        s["answer"] for c in data["protocols"][0]["cases"] for s in c["steps"] if s["answer"]
    )
    assert answer["tester"] == "Tove Tester (MedCom)"
    assert (answer["answered_at"], answer["time_recorded"]) == ("", False)
    html = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "Udført af</th><td>Otto Operatør" in html
    assert "Manuelle trin besvaret af</th><td>Tove Tester (MedCom)" in html
    assert "Besvaret af Tove Tester (MedCom), tidspunkt ikke registreret" in html
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["operator"] == "Otto Operatør"
    assert manifest["answerers"] == ["Tove Tester (MedCom)"]
    assert manifest["answers"][0]["tester"] == "Tove Tester (MedCom)"
    assert manifest["answers"][0]["time_recorded"] is False
    assert manifest["scope"]["selection"] == ["--case CC-R-01", "--case CC-R-13"]
