"""Runs after their first pass: attended steps answered later, resume after SIGKILL, re-judging,
history commands, and the rules for a final certification."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.dossier.manifest import SIGNATURE, SIGNATURE_PAGES, compare, read_manifest
from harness.dossier.signing import generate_keys
from harness.fixtures import REPO_ROOT
from harness.suite import SuiteVersion

CC = str(REPO_ROOT / "testcases" / "carecommunication-receive.yaml")
ANSWERS = str(REPO_ROOT / "fixtures" / "answers" / "reference-lps.yaml")


def kcert(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


def certify(capsys: pytest.CaptureFixture[str], reports: Path, *extra: str) -> tuple[int, str]:
    return kcert(
        capsys,
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--protocols",
        CC,
        "--reports",
        str(reports),
        *extra,
    )


def results(reports: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((reports / "latest" / "results.json").read_text(encoding="utf-8"))


def manual_step(data: dict) -> dict:  # type: ignore[type-arg]
    case = next(c for p in data["protocols"] for c in p["cases"] if c["id"] == "CC-R-13")
    return next(s for s in case["steps"] if s["manual"])


def test_unattended_run_awaits_then_answer_approves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    code, out = certify(capsys, reports)
    assert code == 3, out
    assert "Afventer" in out and "afventer en tester: CC-R-13 trin 2" in out
    assert results(reports)["verdict"] == "afventer"
    # signed as it stands; answering changes the run, so the signature and its page must go
    private, _ = generate_keys(tmp_path / "keys")
    code, out = kcert(capsys, "sign", str(reports / "latest"), "--key", str(private))
    assert code == 0 and (reports / "latest" / "signature.html").is_file(), out
    screenshot = tmp_path / "inbox.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n synthetic screenshot")
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "tester: Tove Tester (MedCom)\nanswers:\n  - case: CC-R-13\n    step: 2\n"
        "    verdict: OK\n    note: Vises øverst som ulæst\n    attachments: [inbox.png]\n",
        encoding="utf-8",
    )
    code, out = kcert(
        capsys, "answer", "latest", "--answers", str(answers), "--reports", str(reports)
    )
    assert code == 0, out
    assert "1 af 1 manuelle trin besvaret" in out and "Godkendt" in out
    assert "gamle signatur gælder ikke længere" in out
    assert not any((reports / "latest" / n).exists() for n in (SIGNATURE, *SIGNATURE_PAGES))
    data = results(reports)
    assert data["verdict"] == "godkendt"
    answer = manual_step(data)["answer"]
    assert answer["tester"] == "Tove Tester (MedCom)" and answer["verdict"] == "OK"
    attached = reports / "latest" / answer["attachments"][0]["file"]
    assert attached.read_bytes() == screenshot.read_bytes()
    html = (reports / "latest" / "index.html").read_text(encoding="utf-8")
    assert "Tove Tester (MedCom)" in html and "Vises øverst som ulæst" in html
    assert '<img class="thumb" src="evidence/attachments/CC-R-13.2_inbox.png"' in html
    run_dir = (reports / "latest").resolve()
    manifest = read_manifest(run_dir)
    assert "evidence/attachments/CC-R-13.2_inbox.png" in manifest["files"]
    assert manifest["answers"][0]["tester"] == "Tove Tester (MedCom)"
    assert compare(run_dir, manifest).clean
    code, out = kcert(
        capsys, "answer", "latest", "--answers", str(answers), "--reports", str(reports)
    )
    assert code == 0 and "intet manuelt trin afventer svar" in out


def test_a_failed_observation_is_a_blocking_finding(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "tester: Tove\nanswers:\n"
        "  - {case: CC-R-13, step: 2, verdict: F2, note: ikke i indbakken}\n",
        encoding="utf-8",
    )
    code, out = certify(capsys, tmp_path / "r", "--answers", str(answers))
    assert code == 1 and "CC-R-13 [F2]" in out
    step = manual_step(results(tmp_path / "r"))
    assert [f["rule_id"] for f in step["findings"]] == ["MANUAL-OBSERVATION"]
    assert "ikke i indbakken" in step["findings"][0]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("answers:\n  - {case: CC-R-01, step: 1, verdict: OK}\n", "is not a manual step"),
        ("answers:\n  - {case: CC-R-13, step: 2, verdict: MAYBE}\n", "verdict"),
        ("answers:\n  - {case: CC-R-13, step: 2, verdict: OK}\n", "no tester"),
        (
            "tester: T\nanswers:\n  - {case: CC-R-13, step: 2, verdict: OK}\n"
            "  - {case: CC-R-13, step: 2, verdict: OK}\n",
            "answered twice",
        ),
        (
            "tester: T\nanswers:\n"
            "  - {case: CC-R-13, step: 2, verdict: OK, attachments: [x.png]}\n",
            "x.png",
        ),
    ],
)
def test_broken_answers_file_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str, message: str
) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(body, encoding="utf-8")
    code, out = certify(capsys, tmp_path / "r", "--answers", str(answers))
    assert code == 2
    assert f"{answers}:" in out and message in out


def _suite(monkeypatch: pytest.MonkeyPatch, commit: str, dirty: tuple[str, ...]) -> None:
    monkeypatch.setattr(
        "harness.cli.certify.suite_version", lambda: SuiteVersion("0.1.0", commit, dirty)
    )


def test_final_certification_refuses_to_start_and_says_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(monkeypatch, "abc123", ("harness/cli/certify.py",))
    code, out = certify(capsys, tmp_path / "r", "--test-type", "endelig")
    assert code == 2
    for reason in (
        "name the tester with --tester",
        "answer every manual step",
        "CC-R-13 step 2",
        "the suite tree is not clean",
        "harness/cli/certify.py",
        "--pack ID@VERSION (or --no-packs)",
    ):
        assert reason in out, reason
    assert not (tmp_path / "r" / "latest").exists()
    _suite(monkeypatch, "", ())
    code, out = certify(
        capsys,
        tmp_path / "r",
        "--test-type",
        "endelig",
        "--tester",
        "T",
        "--answers",
        ANSWERS,
        "--no-packs",
    )
    assert code == 2 and "git checkout" in out
    code, out = certify(
        capsys,
        tmp_path / "r",
        "--test-type",
        "endelig",
        "--tester",
        "T",
        "--answers",
        ANSWERS,
        "--pack",
        "no-such-pack",
    )
    assert code == 2 and "pack no-such-pack is not installed" in out


def test_final_certification_runs_when_ready(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(monkeypatch, "0123456789abcdef", ())
    reports = tmp_path / "r"
    code, out = certify(
        capsys,
        reports,
        "--test-type",
        "endelig",
        "--tester",
        "Tove Tester",
        "--answers",
        ANSWERS,
        "--no-packs",
    )
    assert code == 0, out
    data = results(reports)
    assert data["test_type"] == "endelig" and data["suite_version"] == "0.1.0+g0123456789ab"
    assert data["packs"] == []
    code, out = kcert(
        capsys,
        "runs",
        "systems",
        "--reports",
        str(reports),
        "--html",
        str(tmp_path / "systems.html"),
    )
    assert code == 0 and "Godkendt" in out and "Modtag" in out
    assert "Godkendt" in (tmp_path / "systems.html").read_text(encoding="utf-8")


def _signature(data: dict) -> list[tuple[str, str, str, list[str]]]:  # type: ignore[type-arg]
    return [
        (
            c["id"],
            c["outcome"],
            c["assessment"],
            sorted(f["rule_id"] for s in c["steps"] for f in s["findings"]),
        )
        for p in data["protocols"]
        for c in p["cases"]
    ]


def _recorded_cases(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM case_results").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_results(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    straight = tmp_path / "straight"
    code, _ = certify(capsys, straight, "--answers", ANSWERS, "--defect", "no-negative-ack")
    assert code == 1
    expected = _signature(results(straight))
    reports = tmp_path / "killed"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("KCERT_STORE", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli.main",
            "certify",
            "--sut",
            "reference",
            "--protocols",
            CC,
            "--reports",
            str(reports),
            "--answers",
            ANSWERS,
            "--defect",
            "no-negative-ack",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = reports / "kcert-runs.sqlite"
    deadline = time.monotonic() + 60
    while _recorded_cases(db) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    recorded = _recorded_cases(db)
    assert 4 <= recorded < len(expected)
    code, out = kcert(capsys, "runs", "show", "latest", "--reports", str(reports))
    assert "ikke afsluttet" in out and "kcert resume" in out
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert f"{recorded} af {len(expected)} testcases er allerede registreret" in out
    assert code == 1
    assert _signature(results(reports)) == expected
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 2 and "is finished; nothing to resume" in out


def test_resume_refuses_a_changed_protocol(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    protocol = tmp_path / "cc.yaml"
    shutil.copy(CC, protocol)
    reports = tmp_path / "r"
    code, _ = kcert(
        capsys,
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--protocols",
        str(protocol),
        "--reports",
        str(reports),
    )
    assert code == 3
    with sqlite3.connect(reports / "kcert-runs.sqlite") as conn:
        conn.execute("UPDATE runs SET status = 'running'")
    protocol.write_text(protocol.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 2 and "changed since run" in out


@pytest.mark.parametrize("defects", [(), ("ack-sender-not-swapped", "server-error-on-garbage")])
def test_rejudge_gives_the_same_verdict_without_the_sut(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, defects: tuple[str, ...]
) -> None:
    reports = tmp_path / "r"
    extra = [arg for d in defects for arg in ("--defect", d)]
    code, _ = certify(capsys, reports, "--answers", ANSWERS, *extra)
    first = results(reports)
    code2, out = kcert(capsys, "rejudge", "latest", "--reports", str(reports))
    again = results(reports)
    assert code2 == code and f"samme resultat som {first['run_id']}" in out
    assert again["run_id"] != first["run_id"]
    assert again["parent_run"] == first["run_id"] and again["relation"] == "rejudge"
    assert _signature(again) == _signature(first)
    assert "afviger fra de registrerede bytes" not in out


def test_history_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    reports = tmp_path / "r"
    certify(capsys, reports, "--answers", ANSWERS)
    clean = results(reports)["run_id"]
    certify(capsys, reports, "--answers", ANSWERS, "--defect", "duplicate-processed-twice")
    broken = results(reports)["run_id"]
    code, out = kcert(capsys, "runs", "list", "--reports", str(reports))
    assert code == 0 and "2 kørsel(er)" in out
    code, out = kcert(capsys, "runs", "show", broken[:-1], "--reports", str(reports))
    assert code == 0 and "CC-R-05" in out and "Ikke godkendt" in out
    code, out = kcert(
        capsys,
        "diff",
        clean,
        broken,
        "--reports",
        str(reports),
        "--html",
        str(tmp_path / "diff.html"),
    )
    assert code == 1
    assert "Nye ikke beståede (1)" in out and "CC-R-05" in out
    html = (tmp_path / "diff.html").read_text(encoding="utf-8")
    assert "CC-R-05" in html and "Nye ikke beståede" in html
    code, out = kcert(
        capsys, "diff", broken, clean, "--reports", str(reports), "--json", "--lang", "en"
    )
    payload = json.loads(out[out.index("{") :])
    assert code == 0 and [c["case_id"] for c in payload["fixed"]] == ["CC-R-05"]
    code, out = kcert(capsys, "runs", "show", "nonesuch", "--reports", str(reports))
    assert code == 2 and "no run 'nonesuch'" in out


def test_terminal_prompt_records_verdict_note_and_attachment(
    tmp_path: Path,
    protocols: list,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    import io

    from rich.console import Console

    from harness.cli.prompter import ConsolePrompter

    shot = tmp_path / "shot.png"
    shot.write_bytes(b"png")
    replies = iter(["F3", "afsender mangler", str(tmp_path / "missing.png"), str(shot)])
    monkeypatch.setattr(Console, "input", lambda self, *a, **k: next(replies))
    console = Console(file=io.StringIO(), width=120)
    prompter = ConsolePrompter(console, "Tove Tester", "da")
    paused: list[str] = []

    class Display:
        def pause(self) -> None:
            paused.append("pause")

        def resume(self) -> None:
            paused.append("resume")

    prompter.attach(Display())
    protocol = next(p for p in protocols if p.id == "carecommunication-receive")
    case = next(c for c in protocol.cases if c.id == "CC-R-13")
    step = next(s for s in case.steps if s.manual)
    answer = prompter.answer(protocol, case, step)
    assert answer is not None
    assert (answer.verdict, answer.note, answer.tester) == ("F3", "afsender mangler", "Tove Tester")
    assert [a.name for a in answer.attachments] == ["shot.png"]
    assert paused == ["pause", "resume"]
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Åbn lægens indbakke" in shown and "findes ikke" in shown
    replies = iter(["skip"])
    assert prompter.answer(protocol, case, step) is None
