"""The console: --lang switches it, case states never read like verdicts, `latest` names a run
wherever a run is named, `runs list` shows whole run ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.main import build_parser, main
from harness.cli.words import CONSOLE, not_run_note, say
from harness.fixtures import REPO_ROOT
from harness.model.outcome import Outcome, Verdict
from harness.report.i18n import OUTCOMES, VERDICTS, outcome_text, verdict_text

SEND = str(REPO_ROOT / "testcases" / "carecommunication-send.yaml")


def kcert(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


def _core(verdict: str) -> str:
    """A verdict's word without its gloss: "Fejl (kunne ikke gennemføres)" -> "fejl"."""
    return verdict.split(" (")[0].strip().lower()


# -- words -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["da", "en"])
def test_no_case_state_reads_like_a_verdict(lang: str) -> None:
    verdicts = {_core(verdict_text(v, lang)) for v in Verdict}
    states = [outcome_text(o, lang).lower() for o in Outcome]
    assert len(set(states)) == len(states), states  # each state its own word
    for word in states:
        for verdict in verdicts:
            # neither the same word nor one starting like it ("Fejl i …" next to "Fejl")
            assert word != verdict and not word.startswith(verdict), (word, verdict)
            assert not verdict.startswith(word), (word, verdict)


def test_every_state_and_verdict_has_its_words_in_both_languages() -> None:
    for lang in ("da", "en"):
        assert set(OUTCOMES[lang]) == set(Outcome), lang
        assert set(VERDICTS[lang]) == set(Verdict), lang
    assert set(CONSOLE["da"]) == set(CONSOLE["en"])
    for key, text in CONSOLE["da"].items():
        # the same placeholders in both languages, so a line never fails in one of them
        assert sorted(_fields(text)) == sorted(_fields(CONSOLE["en"][key])), key
    assert outcome_text(Outcome.FAIL, "da") == "Ikke bestået"
    assert outcome_text(Outcome.ERROR, "en") == "Aborted"


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def test_not_run_notes_follow_the_language() -> None:
    message = "not run: pack missing (hl7.fhir.dk.core 2.0.0, needed by X)"
    assert not_run_note(message, "en") == message
    assert not_run_note(message, "da") == (
        "ikke kørt: valideringspakke mangler (hl7.fhir.dk.core 2.0.0, needed by X)"
    )
    assert not_run_note("something else", "da") == "something else"
    context = "not run: context medcom.fhir.dk.carecommunication#5.0.2: pack missing (x 1.0)"
    assert not_run_note(context, "da") == (
        "ikke kørt: context medcom.fhir.dk.carecommunication#5.0.2: valideringspakke mangler "
        "(x 1.0)"
    )
    assert say("en", "step", case="CC-R-13", step=2) == "CC-R-13 step 2"
    assert say("da", "step", case="CC-R-13", step=2) == "CC-R-13 trin 2"


# -- a run, in either language -----------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run of the send protocol (3 cases, the reference LPS in-process)."""
    folder = tmp_path_factory.mktemp("console") / "reports"
    code = main(
        [
            "certify",
            "--sut",
            "reference",
            "--transport",
            "inprocess",
            "--protocols",
            SEND,
            "--reports",
            str(folder),
        ]
    )
    assert code == 0
    return folder


def _run_id(reports: Path) -> str:
    data = json.loads((reports / "latest" / "results.json").read_text(encoding="utf-8"))
    return str(data["run_id"])


@pytest.mark.parametrize(
    ("lang", "present", "absent"),
    [
        ("da", ["Godkendt", "3 testcases", "rapport: ", "Bestået"], ["report: ", "Passed"]),
        ("en", ["Approved", "3 test cases", "report: ", "Passed"], ["rapport: ", "Bestået"]),
    ],
)
def test_lang_switches_the_console(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    lang: str,
    present: list[str],
    absent: list[str],
) -> None:
    code, out = kcert(
        capsys,
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--protocols",
        SEND,
        "--reports",
        str(tmp_path),
        "--lang",
        lang,
    )
    assert code == 0, out
    for text in present:
        assert text in out, (text, out)
    for text in absent:
        assert text not in out, (text, out)


@pytest.mark.parametrize(("lang", "frame"), [("da", "kcert: fejl: "), ("en", "kcert: error: ")])
def test_errors_are_framed_in_the_language(
    capsys: pytest.CaptureFixture[str], reports: Path, lang: str, frame: str
) -> None:
    code, out = kcert(
        capsys, "runs", "show", "no-such-run", "--reports", str(reports), "--lang", lang
    )
    assert code == 2 and out.startswith(frame), out


# -- `latest` wherever a run is named ------------------------------------------------------------


def _commands_taking_a_run() -> set[str]:
    """Every subcommand (as "a b") with an argument naming a run."""
    found: set[str] = set()

    def walk(parser: object, prefix: str) -> None:
        for action in getattr(parser, "_actions", []):
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    walk(sub, f"{prefix} {name}".strip())
            elif action.dest in ("run", "run_a", "run_b"):  # positional or --run
                found.add(prefix)

    walk(build_parser(), "")
    return found


LATEST_CASES = {
    "runs show": (["runs", "show", "latest"], 0, "{run}"),
    "diff": (["diff", "latest", "latest"], 0, "A {run}"),
    "resume": (["resume", "latest"], 2, "{run} is finished"),
    "answer": (["answer", "latest"], 0, "{run}: intet manuelt trin"),
    "rejudge": (["rejudge", "latest"], 0, "samme resultat som {run}"),
    "sign": (["sign", "latest"], 0, "signeret: {dir}"),
    "verify": (["verify", "latest"], 0, "{dir}: VERIFICERET"),
    "coverage": (["coverage", "--run", "latest", "--json"], 0, '"outcome": "pass"'),
}


def test_every_command_naming_a_run_is_tested_with_latest() -> None:
    assert _commands_taking_a_run() == set(LATEST_CASES)


@pytest.mark.parametrize("command", sorted(LATEST_CASES))
def test_latest_names_the_newest_run(
    capsys: pytest.CaptureFixture[str],
    reports: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    from harness.dossier.keyring import trust
    from harness.dossier.signing import generate_keys

    args, want_code, want = LATEST_CASES[command]
    run = _run_id(reports)
    folder = (reports / "latest").resolve()
    extra = ["--reports", str(reports)]
    private, public = generate_keys(tmp_path / "keys")
    trust(public, f"test {tmp_path.name}")
    if command == "sign":
        extra += ["--key", str(private)]
    if command == "verify":
        assert main(["sign", str(folder), "--key", str(private)]) == 0
    if command == "rejudge":
        # a rejudge makes a new latest run: keep the module's reports as they are
        copy = tmp_path / "reports"
        import shutil

        shutil.copytree(reports, copy, symlinks=True)
        extra = ["--reports", str(copy)]
    code, out = kcert(capsys, *args, *extra)
    assert code == want_code, out
    assert want.format(run=run, dir=folder) in out, out
    (folder / "manifest.sig").unlink(missing_ok=True)  # the shared run stays unsigned


def test_a_prefix_and_a_folder_name_a_run_for_sign_and_verify(
    capsys: pytest.CaptureFixture[str], reports: Path, tmp_path: Path
) -> None:
    from harness.dossier.keyring import trust
    from harness.dossier.signing import generate_keys

    run = _run_id(reports)
    folder = (reports / "latest").resolve()
    private, public = generate_keys(tmp_path / "keys")
    trust(public, f"test {tmp_path.name}")
    code, out = kcert(capsys, "sign", run[:12], "--key", str(private), "--reports", str(reports))
    assert code == 0 and f"signeret: {folder}" in out, out
    try:
        for ref in (run, run[:12], str(folder)):
            code, out = kcert(capsys, "verify", ref, "--reports", str(reports))
            assert code == 0 and f"{folder}: VERIFICERET" in out, out
    finally:
        (folder / "manifest.sig").unlink()
    code, out = kcert(capsys, "verify", "zzz", "--reports", str(reports), "--lang", "en")
    assert code == 2 and "no run folder 'zzz'" in out


# -- runs list ---------------------------------------------------------------------------------


def test_runs_list_shows_whole_run_ids_on_a_narrow_terminal(
    capsys: pytest.CaptureFixture[str], reports: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    code, out = kcert(capsys, "runs", "list", "--reports", str(reports), "--lang", "en")
    assert code == 0
    assert _run_id(reports) in out, out
    assert "run(s) in" in out
    code, out = kcert(capsys, "runs", "list", "--reports", str(reports))
    assert "kørsel(er) i" in out


# -- the README's actions and checks -------------------------------------------------------------


def test_readme_lists_every_action_and_check_as_the_registries_say() -> None:
    from harness.checks import CHECKS
    from harness.cli.catalogue import README, rows, with_tables
    from harness.runner.actions import ACTIONS

    text = README.read_text(encoding="utf-8")
    assert with_tables(text) == text, (
        "README's action/check tables are out of date: python -m harness.cli.catalogue --write"
    )
    assert {r.name for r in rows("actions")} == set(ACTIONS.names())
    assert {r.name for r in rows("checks")} == set(CHECKS.names())
    for name in [*ACTIONS.names(), *CHECKS.names()]:
        assert f"| `{name}` |" in text, name


def test_readme_check_notices_a_missing_entry() -> None:
    from harness.cli.catalogue import README, with_tables

    text = README.read_text(encoding="utf-8")
    stale = "\n".join(line for line in text.splitlines() if "| `trigger-send` |" not in line)
    assert with_tables(stale + "\n") != stale + "\n"


@pytest.mark.parametrize("kind", ["actions", "checks"])
def test_protocols_lists_actions_and_checks(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    from harness.cli.catalogue import rows

    code, out = kcert(capsys, "protocols", kind)
    assert code == 0
    for row in rows(kind):
        assert row.name in out
    assert "parameters:" in out


def test_the_terminal_prompt_speaks_the_runs_language(
    protocols: list,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    import io

    from rich.console import Console

    from harness.cli.prompter import ConsolePrompter

    protocol = next(p for p in protocols if p.id == "carecommunication-receive")
    case = next(c for c in protocol.cases if c.id == "CC-R-13")
    step = next(s for s in case.steps if s.manual)
    shown = {}
    for lang in ("da", "en"):
        replies = iter(["OK", "", ""])
        monkeypatch.setattr(Console, "input", lambda self, *a, r=replies, **k: next(r))
        console = Console(file=io.StringIO(), width=160)
        assert ConsolePrompter(console, "Tove Tester", lang).answer(protocol, case, step)
        shown[lang] = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Forventet:" in shown["da"] and "CC-R-13 trin" in shown["da"]
    assert "Expected:" in shown["en"] and "CC-R-13 step" in shown["en"]
    assert step.expected.en.split()[0] in shown["en"]
