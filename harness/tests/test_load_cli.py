"""`kcert load model|run|worker`: the model printed in Danish, English and JSON, a broken
profile named at file:line, the options run and worker hand over, their absence said plainly."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.cli.parsers import load as load_parser
from harness.load.model import SHAPES
from harness.suitefiles import fixtures_dir

NATIONAL = fixtures_dir() / "load" / "flp-national.yaml"


def kcert(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_model_in_danish_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = kcert(capsys, "load", "model", str(NATIONAL))
    assert code == 0
    assert out.startswith("Belastningsprofil flp-national 1.0")
    assert "Rater pr. operation" in out and "Udregning:" in out
    assert "P plans_created_year" in out and "240.000" in out


def test_model_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = kcert(capsys, "load", "model", str(NATIONAL), "--lang", "en")
    assert code == 0
    assert out.startswith("Load profile flp-national 1.0")
    assert "Rates per operation" in out and "Arithmetic:" in out
    assert "peak: 30,000 plans in the peak month × 1.25 growth" in out


def test_model_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = kcert(capsys, "load", "model", str(NATIONAL), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["profile"]["id"] == "flp-national"
    assert 7 < data["total_per_s"]["peak"] < 8
    assert data["rates"][0]["arithmetic"][0].startswith("normal: 240,000 plans/year")


@pytest.mark.parametrize(("lang", "word"), [("da", "fejl"), ("en", "error")])
def test_a_broken_profile_exits_2_naming_file_line_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lang: str, word: str
) -> None:
    text = NATIONAL.read_text(encoding="utf-8").replace("  - plan-share\n", "  - plan-delete\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    line = text[: text.index("- plan-delete")].count("\n") + 1
    code, out = kcert(capsys, "load", "model", str(bad), "--lang", lang)
    assert code == 2
    assert out.strip().startswith(f"kcert: {word}: {bad}:{line}: operations[5]: unknown operation")
    assert "Traceback" not in out


def test_a_missing_profile_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = kcert(capsys, "load", "model", str(tmp_path / "absent.yaml"), "--lang", "en")
    assert code == 2 and "absent.yaml:1: cannot read file" in out


def test_load_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "load", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "usage: kcert load" in done.stdout
    for command in ("model", "run", "worker"):
        assert command in done.stdout


def test_the_parsers_shapes_are_the_models() -> None:
    assert load_parser.SHAPES == SHAPES


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("1.5m", 90.0)],
)
def test_run_time_accepts_seconds_minutes_hours(text: str, seconds: float) -> None:
    assert load_parser.duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "2d", "-5", "5 min", "", "169h", "nan"])
def test_run_time_refuses_the_rest(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        load_parser.duration(text)


@pytest.mark.parametrize("text", ["127.0.0.1:5557", "master.example:1", "[::1]:5557"])
def test_master_address_accepted(text: str) -> None:
    assert load_parser.master_address(text) == text


@pytest.mark.parametrize("text", ["127.0.0.1", ":5557", "host:0", "host:65536", "host:x"])
def test_master_address_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        load_parser.master_address(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["load", "run", "p.yaml"],  # --target is required
        ["load", "run", "p.yaml", "--target", "t.yaml", "--users", "0"],
        ["load", "run", "p.yaml", "--target", "t.yaml", "--shape", "burst"],
        ["load", "run", "p.yaml", "--target", "t.yaml", "--run-time", "2d"],
        ["load", "run", "p.yaml", "--target", "t.yaml", "--master-port", "70000"],
        ["load", "worker"],  # --master is required
        ["load", "worker", "--master", "host:1", "--processes", "0"],
    ],
)
def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_run_hands_its_options_over(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[argparse.Namespace] = []

    def run_load_command(args: argparse.Namespace) -> int:
        seen.append(args)
        return 1

    fake = types.ModuleType("harness.load.command")
    fake.run_load_command = run_load_command  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "harness.load.command", fake)
    code, _ = kcert(
        capsys, "load", "run", str(NATIONAL), "--target", "t.yaml", "--run-time", "5m",
        "--workers", "2", "--shape", "stress", "--no-preflight", "--seed", "7",
    )  # fmt: skip
    assert code == 1
    (args,) = seen
    assert args.profile == NATIONAL and args.target == Path("t.yaml")
    assert args.run_time == 300.0 and args.workers == 2 and args.shape == "stress"
    assert args.no_preflight is True and args.seed == 7 and args.users is None
    assert args.master_bind == "127.0.0.1" and args.master_port == 0
    assert args.expect_workers is None and args.lang == "da" and args.pdf is False


def test_worker_hands_its_options_over(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("harness.load.distributed")
    fake.worker_command = lambda args: 0 if (args.master, args.processes) == ("h:5557", 2) else 9  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "harness.load.distributed", fake)
    code, _ = kcert(capsys, "load", "worker", "--master", "h:5557", "--processes", "2")
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["load", "run", "p.yaml", "--target", "t.yaml", "--lang", "en"], "harness.load.command"),
        (["load", "worker", "--master", "h:5557"], "harness.load.distributed"),
    ],
)
def test_run_and_worker_without_their_modules_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    module: str,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the module were not built
    code, out = kcert(capsys, *argv)
    assert code == 2
    assert f"({module} " in out and "Traceback" not in out
    assert out.startswith("kcert: error:" if "--lang" in argv else "kcert: fejl:")
