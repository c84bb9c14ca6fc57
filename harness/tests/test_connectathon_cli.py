"""`kcert connectathon …` in-process: session, register, pair, accounts, export, dossier, and
the hand-over of serve/run/demo; every user mistake exit 2 with its reason, no traceback."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import types
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.cli.parsers import connectathon as parser_module
from harness.connectathon.accounts import ROLES
from harness.connectathon.store import ConnectathonStore
from harness.dossier.signing import generate_keys

SYSTEMS = """\
- vendor: Vendor A
  product: LPS
  version: "1.0"
  roles: [lps]
  registration: {sut: reference}
- vendor: Vendor B
  product: LPS
  version: "2.0"
  roles: [lps]
  registration: {sut: reference, defects: [no-resend]}
"""


def kcert(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


@pytest.fixture
def where(tmp_path: Path) -> list[str]:
    return ["--store", f"sqlite:///{tmp_path / 'runs.sqlite'}", "--reports", str(tmp_path)]


def _session(capsys: pytest.CaptureFixture[str], where: list[str], *scenarios: str) -> str:
    picked = [a for s in scenarios for a in ("--scenario", s)]
    code, out = kcert(
        capsys,
        "connectathon", "session", "create", "--name", "Connectathon 2026",
        "--starts", "2026-12-03", "--ends", "2026-12-04", *picked, *where,
    )  # fmt: skip
    assert code == 0, out
    found = re.search(r"session (\S+) oprettet", out)
    assert found, out
    return found.group(1)


def test_session_register_pair_export(
    capsys: pytest.CaptureFixture[str], where: list[str], tmp_path: Path
) -> None:
    sid = _session(capsys, where)
    code, out = kcert(capsys, "connectathon", "session", "list", *where, "--lang", "en")
    assert code == 0 and sid in out and "1 session(s)" in out
    systems = tmp_path / "systems.yaml"
    systems.write_text(SYSTEMS, encoding="utf-8")
    code, out = kcert(capsys, "connectathon", "register", "--session", sid, str(systems), *where)
    assert code == 0, out
    assert "vendor-a-lps" in out and "vendor-b-lps" in out
    code, out = kcert(capsys, "connectathon", "pair", "--session", sid, *where, "--lang", "en")
    assert code == 0, out
    made = int(re.search(r"(\d+) new test instances", out).group(1))  # type: ignore[union-attr]
    store = ConnectathonStore(where[1])
    scenarios = store.session(sid).scenarios
    assert len(scenarios) >= 4 and made == 2 * len(scenarios)  # two LPSs, kcert the rest
    code, out = kcert(capsys, "connectathon", "pair", "--session", sid, *where, "--lang", "en")
    assert code == 0 and f"0 new test instances in {sid} ({made} in all)" in out
    code, out = kcert(capsys, "connectathon", "export", "--session", sid, *where)
    assert code == 0, out
    exported = json.loads(out)
    assert len(exported["instances"]) == made
    assert {r["system_id"] for r in exported["matrix"]} == {"vendor-a-lps", "vendor-b-lps"}
    target = tmp_path / "out" / "matrix.csv"
    code, out = kcert(
        capsys, "connectathon", "export", "--session", sid, "--format", "csv",
        "--out", str(target), *where,
    )  # fmt: skip
    assert code == 0 and str(target) in out
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 2 * len(scenarios) and rows[0]["waiting"] == "1"
    instance = store.instances(sid)[0].instance_id
    code, out = kcert(capsys, "connectathon", "export", "--instance", instance, *where)
    assert code == 0 and json.loads(out)["instance_id"] == instance
    store.close()


def test_a_broken_systems_file_is_named_at_its_line(
    capsys: pytest.CaptureFixture[str], where: list[str], tmp_path: Path
) -> None:
    sid = _session(capsys, where, "cx-referral-receipt")
    systems = tmp_path / "systems.yaml"
    systems.write_text(
        SYSTEMS.replace(
            "roles: [lps]\n  registration: {sut: reference, ",
            "rolle: [lps]\n  registration: {sut: reference, ",
        ),
        encoding="utf-8",
    )
    code, out = kcert(capsys, "connectathon", "register", "--session", sid, str(systems), *where)
    assert code == 2
    assert f"{systems}:9: [1].rolle: unknown field" in out
    code, out = kcert(capsys, "connectathon", "register", "--session", "nope", str(systems), *where)
    assert code == 2 and "no connectathon session 'nope'" in out


def test_unknown_scenario_and_bad_dates(
    capsys: pytest.CaptureFixture[str], where: list[str]
) -> None:
    code, out = kcert(
        capsys, "connectathon", "session", "create", "--name", "X", "--starts", "2026-12-03",
        "--ends", "2026-12-01", "--scenario", "cx-referral-receipt", *where,
    )  # fmt: skip
    assert code == 2 and "ends: 2026-12-01 is before starts" in out
    code, out = kcert(
        capsys, "connectathon", "session", "create", "--name", "X", "--starts", "2026-12-03",
        "--ends", "2026-12-04", "--scenario", "no-such", *where,
    )  # fmt: skip
    assert code == 2 and "unknown scenario 'no-such'" in out


def test_accounts_add(
    capsys: pytest.CaptureFixture[str], where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCERT_PASSWORD", "correct horse battery")
    code, out = kcert(
        capsys, "connectathon", "accounts", "add", "--username", "vera", "--role", "vendor",
        "--vendor", "Vendor A", *where,
    )  # fmt: skip
    assert code == 0 and "vera" in out and "correct horse" not in out
    store = ConnectathonStore(where[1])
    account = store.account("vera")
    assert account is not None and account.password_hash.startswith("$argon2id$")
    assert account.vendor == "Vendor A"
    store.close()
    code, out = kcert(
        capsys, "connectathon", "accounts", "add", "--username", "vic", "--role", "vendor", *where
    )
    assert code == 2 and "vendor" in out
    monkeypatch.setenv("KCERT_PASSWORD", "short")
    code, out = kcert(
        capsys, "connectathon", "accounts", "add", "--username", "mo", "--role", "monitor", *where
    )
    assert code == 2 and "password: must be" in out
    monkeypatch.delenv("KCERT_PASSWORD")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out = kcert(
        capsys, "connectathon", "accounts", "add", "--username", "mo", "--role", "monitor", *where
    )
    assert code == 2 and "KCERT_PASSWORD" in out


def test_dossier_verifies_with_kcert_verify(
    capsys: pytest.CaptureFixture[str], where: list[str], tmp_path: Path
) -> None:
    sid = _session(capsys, where, "cx-referral-receipt")
    systems = tmp_path / "systems.yaml"
    systems.write_text(SYSTEMS, encoding="utf-8")
    assert kcert(capsys, "connectathon", "register", "--session", sid, str(systems), *where)[0] == 0
    assert kcert(capsys, "connectathon", "pair", "--session", sid, *where)[0] == 0
    private, public = generate_keys(tmp_path / "keys")
    code, out = kcert(
        capsys, "connectathon", "dossier", "--session", sid, "--system", "vendor-a-lps",
        "--key", str(private), "--signer", "Lead", *where,
    )  # fmt: skip
    assert code == 0, out
    folder = tmp_path / "connectathon" / sid / "vendor-a-lps"
    assert f"kcert verify {folder}" in out
    code, out = kcert(capsys, "verify", str(folder), "--public-key", str(public))
    assert code == 0 and "VERIFICERET" in out
    (folder / "matrix.csv").write_text("changed", encoding="utf-8")
    code, out = kcert(capsys, "verify", str(folder), "--public-key", str(public))
    assert code == 1 and "changed: matrix.csv" in out
    code, out = kcert(
        capsys, "connectathon", "dossier", "--session", sid, "--system", "vendor-a-lps",
        "--key", str(tmp_path / "no-key.pem"), "--out", str(tmp_path / "d2"), *where,
    )  # fmt: skip
    assert code == 2 and "no-key.pem" in out
    code, out = kcert(
        capsys, "connectathon", "dossier", "--session", sid, "--system", "nope",
        "--key", str(private), *where,
    )  # fmt: skip
    assert code == 2 and "no system 'nope'" in out


@pytest.mark.parametrize(
    ("argv", "module", "name", "expected"),
    [
        (
            ["serve", "--session", "cx", "--port", "0", "--lang", "en"],
            "harness.connectathon.web.serve",
            "serve_command",
            {"session": "cx", "host": "127.0.0.1", "port": 0, "lang": "en"},
        ),
        (
            ["run", "--session", "cx", "--instance", "a", "--instance", "b", "--no-proxy",
             "--time-limit", "60"],
            "harness.connectathon.orchestrate",
            "run_command",
            {
                "session": "cx",
                "instance": ["a", "b"],
                "no_proxy": True,
                "time_limit": 60.0,
                "lang": None,
            },
        ),
        (
            ["demo", "--exit-after", "5"],
            "harness.connectathon.demo",
            "demo_command",
            {"port": 8765, "exit_after": 5.0, "lang": None, "store": None},
        ),
    ],
)  # fmt: skip
def test_serve_run_and_demo_hand_over_their_options(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    module: str,
    name: str,
    expected: dict[str, object],
) -> None:
    seen: list[object] = []
    fake = types.ModuleType(module)
    setattr(fake, name, lambda args: seen.append(args) or 0)
    monkeypatch.setitem(sys.modules, module, fake)
    code, _ = kcert(capsys, "connectathon", *argv)
    assert code == 0
    [args] = seen
    for key, value in expected.items():
        assert getattr(args, key) == value, key
    if argv[0] == "demo":
        assert args.reports.name == "connectathon-demo"  # type: ignore[attr-defined]


def test_a_missing_command_module_is_an_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "harness.connectathon.demo", None)  # import fails
    code, out = kcert(capsys, "connectathon", "demo", "--exit-after", "1")
    assert code == 2 and "ikke med i denne udgave" in out


def test_bad_option_values_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["connectathon", "serve", "--port", "70000"])
    assert exit_.value.code == 2
    assert "a port between 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["connectathon", "run", "--session", "x", "--time-limit", "-1"])
    assert "between 0 and" in capsys.readouterr().err


def test_the_parsers_constants_are_the_modules() -> None:
    assert parser_module.ROLES == ROLES


def test_the_console_words_exist_in_both_languages() -> None:
    from harness.cli.connectathon_cmd import WORDS

    assert set(WORDS["da"]) == set(WORDS["en"])
    assert WORDS["da"] != WORDS["en"]
