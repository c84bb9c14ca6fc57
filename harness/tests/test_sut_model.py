"""One SUT model: constructors (options, stored run, registration), one validation with the
credentials, and the codec between configuration, report block and store row."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.model.result import SutInfo
from harness.model.scope import Capabilities
from harness.session.sut import (
    CLI_NAMES,
    PYTEST_NAMES,
    RegistrationError,
    SutChoice,
    SutChoiceError,
)
from harness.sut import config as sut_config
from harness.sut.codec import replay_config, sut_info
from harness.sut.config import load_sut_config
from harness.yamlsource import SourceError

TOKEN_ENV = "KCERT_MODEL_TOKEN"
CONFIG = f"""\
name: Vendor LPS
vendor: Vendor A/S
version: 7.2.1
endpoints:
  fhir: https://user:pw@lps.test.invalid/fhir
  agent: https://lps.test.invalid/kcert-agent/v1
identity:
  sor: "999991000016008"
  gln: "5790000999996"
  name: Lægerne i Testby
auth:
  type: bearer
  token_env: {TOKEN_ENV}
manual:
  operations: [population-load]
"""


def registration(**auth: Any) -> dict[str, Any]:
    return {
        "configuration": {
            "name": "Vendor LPS",
            "vendor": "Vendor A/S",
            "version": "7.2.1",
            "endpoints": {
                "fhir": "https://lps.test.invalid/fhir",
                "agent": "https://lps.test.invalid/kcert-agent/v1",
            },
            "identity": {"sor": "999991000016008", "gln": "5790000999996"},
            "auth": auth or {"type": "bearer", "token_env": TOKEN_ENV},
        }
    }


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, "s3cret-model-4711")
    return "s3cret-model-4711"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "sut.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


# -- from the options (CLI and pytest) -------------------------------------------------------


@pytest.mark.parametrize(
    ("sut", "with_file", "defects", "transport", "names", "field", "message"),
    [
        (None, False, [], "http", CLI_NAMES, "--sut", "name exactly one SUT: --sut reference"),
        ("reference", True, [], "http", CLI_NAMES, "--sut", "name exactly one SUT"),
        ("elsewhere", False, [], "http", CLI_NAMES, "--sut", "--sut takes only 'reference'"),
        (None, True, ["no-resend"], "http", CLI_NAMES, "--defect", "--defect works only with"),
        ("reference", False, ["no-such-bug"], "http", CLI_NAMES, "--defect", "unknown defect"),
        ("reference", False, [], "pigeon", CLI_NAMES, "--transport", "'pigeon': one of http"),
        (None, True, [], "inprocess", CLI_NAMES, "--transport", "inprocess works only with"),
        (None, True, [], "inprocess", PYTEST_NAMES, "--kcert-transport", "--kcert-transport"),
    ],
)
def test_options_that_name_no_testable_sut_are_refused(
    config_file: Path,
    token: str,
    sut: str | None,
    with_file: bool,
    defects: list[str],
    transport: str,
    names: dict[str, str],
    field: str,
    message: str,
) -> None:
    with pytest.raises(SutChoiceError) as err:
        SutChoice.from_options(
            sut, config_file if with_file else None, defects, transport, names=names
        )
    assert err.value.field == field
    assert message in str(err.value)


def test_good_options_pass(config_file: Path, token: str) -> None:
    reference = SutChoice.from_options("reference", None, ["no-resend"], "inprocess")
    assert reference.reference and reference.defects == ("no-resend",)
    configured = SutChoice.from_options(None, config_file)
    assert configured.config_file == config_file and not configured.reference
    assert configured.configured().name == "Vendor LPS"


# -- credentials, without a transport ------------------------------------------------------


def test_a_token_variable_that_is_not_set_is_named_at_its_line(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SourceError) as err:
        SutChoice.from_options(None, config_file)
    assert str(err.value).startswith(f"{config_file}:13: auth.token_env: ")
    assert f"the environment variable {TOKEN_ENV} is not set" in str(err.value)
    monkeypatch.setenv(TOKEN_ENV, "   ")  # blank is no token either
    with pytest.raises(SourceError, match="not set"):
        SutChoice.from_options(None, config_file)


def test_credentials_are_not_needed_to_read_the_configuration(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-judging reads the file for its manual settings and needs no token."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert load_sut_config(config_file).auth.token_env == TOKEN_ENV
    choice = SutChoice.from_options(None, config_file, credentials=False)
    assert choice.configured(credentials=False).manual_operations == ("population-load",)


def test_bearer_without_any_token_names_token_env(tmp_path: Path) -> None:
    path = tmp_path / "sut.yaml"
    path.write_text(CONFIG.replace(f"  token_env: {TOKEN_ENV}\n", ""), encoding="utf-8")
    with pytest.raises(SourceError, match=r"sut\.yaml:\d+: auth: .*name its variable in token_env"):
        load_sut_config(path, credentials=True)


def test_a_plain_token_allowed_knowingly_needs_no_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    path = tmp_path / "sut.yaml"
    path.write_text(
        CONFIG.replace(f"token_env: {TOKEN_ENV}", "token: t0k\n  allow_plain_token: true"),
        encoding="utf-8",
    )
    assert load_sut_config(path, credentials=True).auth.token == "t0k"
    path.write_text(CONFIG.replace(f"token_env: {TOKEN_ENV}", "token: t0k"), encoding="utf-8")
    with pytest.raises(SourceError, match=r"auth\.token: a plain-text token .* refused"):
        load_sut_config(path, credentials=True)


def _mtls(tmp_path: Path) -> Path:
    (tmp_path / "client.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    (tmp_path / "client.key").write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = tmp_path / "sut.yaml"
    path.write_text(
        CONFIG.replace(
            f"  type: bearer\n  token_env: {TOKEN_ENV}",
            "  type: mtls\n  cert: client.pem\n  key: client.key\ntls:\n  verify: ca.pem",
        ),
        encoding="utf-8",
    )
    return path


def test_readable_certificate_key_and_ca_pass(tmp_path: Path) -> None:
    config = load_sut_config(_mtls(tmp_path), credentials=True)
    assert config.auth.cert == str(tmp_path / "client.pem")
    assert config.tls_verify == str(tmp_path / "ca.pem")


@pytest.mark.parametrize(
    ("name", "field"),
    [("client.pem", "auth.cert"), ("client.key", "auth.key"), ("ca.pem", "tls.verify")],
)
def test_an_unreadable_credential_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, field: str
) -> None:
    path = _mtls(tmp_path)
    if os.geteuid() == 0:  # root reads a mode-000 file: make the open fail instead
        real = sut_config._readable
        monkeypatch.setattr(sut_config, "_readable", lambda p: p.name != name and real(p))
    else:
        (tmp_path / name).chmod(0)
    with pytest.raises(SourceError) as err:
        load_sut_config(path, credentials=True)
    assert f": {field}: cannot read {tmp_path / name}: permission denied" in str(err.value)
    load_sut_config(path)  # reading alone does not open the files


def test_the_pytest_plugin_and_the_cli_use_the_same_validation(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No transport is built to find out: the validation says it (the HTTP transport would
    say it too, later, when the session opens one)."""
    import harness.transport.http as http

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setattr(http.HttpTransport, "__init__", lambda *a, **k: pytest.fail("opened"))
    for names in (CLI_NAMES, PYTEST_NAMES):
        with pytest.raises(SourceError, match=r"auth\.token_env"):
            SutChoice.from_options(None, config_file, names=names)


# -- the store row -----------------------------------------------------------------------------


def test_config_file_to_store_row_and_back(config_file: Path, token: str) -> None:
    choice = SutChoice.from_options(None, config_file)
    row = choice.to_stored()
    assert row == {
        "reference": False,
        "config_file": str(config_file.resolve()),
        "defects": [],
        "transport": "http",
    }
    again = SutChoice.from_stored(row)
    assert again == SutChoice(config_file=config_file.resolve())
    assert again.configured() == choice.configured()


def test_reference_to_store_row_and_back() -> None:
    choice = SutChoice.from_options("reference", None, ["no-resend", "send-missing-topic"])
    assert SutChoice.from_stored(choice.to_stored()) == choice


def test_a_stored_row_that_names_no_sut_is_refused() -> None:
    with pytest.raises(SutChoiceError, match="name exactly one SUT"):
        SutChoice.from_stored({})
    with pytest.raises(SutChoiceError, match="unknown defect gone-bug"):
        SutChoice.from_stored({"reference": True, "defects": ["gone-bug"]})


def test_registration_to_store_row_and_back_without_its_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = registration(type="bearer", token="t0k-4711", allow_plain_token=True)
    choice = SutChoice.from_registration(data, tmp_path)
    assert choice.configured().auth.token == "t0k-4711"
    row = choice.to_stored()
    assert "t0k-4711" not in repr(row) and row["files"] == str(tmp_path.resolve())
    again = SutChoice.from_stored(row)
    assert again.configuration is not None and again.configuration_name == "Vendor LPS"
    # the token stayed out of the store: resuming needs it from the environment instead
    with pytest.raises(RegistrationError, match=r"configuration\.auth"):
        again.configured()


# -- a connectathon registration -----------------------------------------------------------


def test_a_good_registration(token: str, tmp_path: Path) -> None:
    choice = SutChoice.from_registration(registration(), tmp_path)
    config = choice.configured()
    assert (config.name, config.gln) == ("Vendor LPS", "5790000999996")
    assert choice.describe() == "registered Vendor LPS (http)"
    reference = SutChoice.from_registration({"sut": "reference", "defects": ["no-resend"]})
    assert reference.reference and reference.defects == ("no-resend",)


def _bad(data: Any) -> RegistrationError:
    with pytest.raises(RegistrationError) as err:
        SutChoice.from_registration(data)
    return err.value


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: {**d, "colour": "blue"}, "colour", "unknown field"),
        (lambda d: {**d, "sut": "elsewhere"}, "sut", "only 'reference'"),
        (lambda d: {**d, "sut": "reference"}, "sut", "name exactly one SUT"),
        (lambda d: {**d, "defects": "no-resend"}, "defects", "a list of defect names"),
        (lambda d: {**d, "defects": ["no-resend"]}, "defects", "works only with sut reference"),
        (lambda d: {**d, "transport": 7}, "transport", "one of http"),
        (lambda d: {**d, "transport": "inprocess"}, "transport", "works only with sut reference"),
        (lambda d: {"configuration": ["x"]}, "configuration", "the SUT configuration, a mapping"),
        (lambda d: {}, "sut", "name exactly one SUT"),
        (
            lambda d: {
                "configuration": {k: v for k, v in d["configuration"].items() if k != "name"}
            },
            "configuration",
            "missing required field",
        ),
        (
            lambda d: {
                "configuration": {
                    **d["configuration"],
                    "identity": {"sor": "999991000016008", "gln": "2"},
                }
            },
            "configuration.identity.gln",
            "does not match",
        ),
        (
            lambda d: {
                "configuration": {**d["configuration"], "auth": {"type": "bearer", "token": "x"}}
            },
            "configuration.auth.token",
            "plain-text token in the configuration is refused",
        ),
        (
            lambda d: {
                "configuration": {
                    **d["configuration"],
                    "auth": {"type": "mtls", "cert": "nope.pem"},
                }
            },
            "configuration.auth.cert",
            "file not found",
        ),
    ],
)
def test_registration_errors_name_the_field(
    token: str, change: Any, field: str, message: str
) -> None:
    error = _bad(change(registration()))
    assert error.field == field
    assert str(error).startswith(f"registration field {field}: ")
    assert message in str(error)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"auth": {"type": "mtls", "cert": "/etc/passwd"}}, "configuration.auth.cert"),
        ({"auth": {"type": "mtls", "cert": "ok.pem", "key": "../x.key"}}, "configuration.auth.key"),
        ({"tls": {"verify": "../../ca.pem"}}, "configuration.tls.verify"),
        ({"manual": {"exports": "/tmp"}}, "configuration.manual.exports"),
        (
            {"peer": {"tls": {"cert": "ok.pem", "key": "ok.pem", "client_ca": "/ca.pem"}}},
            "configuration.peer.tls.client_ca",
        ),
    ],
)
def test_a_registration_names_only_files_in_its_own_folder(
    tmp_path: Path, section: dict[str, Any], field: str
) -> None:
    (tmp_path / "ok.pem").write_text("x", encoding="utf-8")
    data = registration()
    data["configuration"].update(section)
    with pytest.raises(RegistrationError) as err:
        SutChoice.from_registration(data, tmp_path)
    assert err.value.field == field and "outside the registration's folder" in str(err.value)


def test_a_link_out_of_the_registration_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_text("x", encoding="utf-8")
    folder = tmp_path / "registration"
    folder.mkdir()
    (folder / "client.pem").symlink_to(outside)
    (folder / "own.pem").write_text("x", encoding="utf-8")
    data = registration(type="mtls", cert="client.pem")
    with pytest.raises(RegistrationError, match="outside the registration's folder"):
        SutChoice.from_registration(data, folder)
    quiet = SutChoice.from_registration(registration(type="mtls", cert="own.pem"), folder)
    assert quiet.configured().auth.cert == str(folder / "own.pem")


def test_a_registration_is_a_mapping() -> None:
    assert "a registration is a mapping" in str(_bad(["sut", "reference"]))


def test_a_registered_token_variable_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    error = _bad(registration())
    assert error.field == "configuration.auth.token_env" and TOKEN_ENV in str(error)


# -- configuration → report block → dict → report block → replay configuration -------------


def test_report_block_round_trip(config_file: Path) -> None:
    config = load_sut_config(config_file)
    info = sut_info(config)
    assert info.endpoints["fhir"] == "https://***@lps.test.invalid/fhir"  # no credentials
    assert info.identity == {
        "sor": "999991000016008",
        "gln": "5790000999996",
        "name": "Lægerne i Testby",
    }
    data = info.to_dict()
    assert SutInfo.from_dict(data) == info
    assert SutInfo.from_dict({**data, "scope": {"x": 1}}) == info  # the store row's extras
    assert SutInfo.from_dict({}) == SutInfo("", "", "", "", {}, {}, ())  # an older record


def test_replay_configuration_from_the_block(config_file: Path) -> None:
    configured = load_sut_config(config_file)
    capabilities = Capabilities.from_dict({"operations": ["reset"]}, "test")
    replay = replay_config(sut_info(configured), capabilities, configured)
    assert (replay.name, replay.sor, replay.org_name) == (
        "Vendor LPS",
        "999991000016008",
        "Lægerne i Testby",
    )
    assert replay.transport == "replay" and replay.capabilities == capabilities
    assert replay.manual_operations == ("population-load",)
    assert sut_info(replay).identity == sut_info(configured).identity
    assert replay_config(sut_info(configured)).manual_operations == ()


def test_a_registered_sut_is_tested_by_a_session() -> None:
    """The registration path ends where the others do: a session runs a case against it."""
    from harness.fixtures import REPO_ROOT
    from harness.loader.protocols import load_all
    from harness.model.outcome import Outcome
    from harness.runner.engine import RunOptions
    from harness.session import CertificationSession
    from harness.sut.reference import running_reference

    protocols, errors = load_all([REPO_ROOT / "testcases" / "carecommunication-send.yaml"])
    assert not errors, errors
    with running_reference() as reference:
        data = {
            "configuration": {
                "name": "Registered LPS",
                "vendor": "Vendor A/S",
                "version": "1.0",
                "endpoints": dict(reference.endpoints),
                "identity": {"sor": reference.sor, "gln": reference.gln},
            }
        }
        session = CertificationSession(SutChoice.from_registration(data))
        try:
            result = session.run_case(protocols[0], protocols[0].cases[0])
            run = session.run_result(RunOptions())
        finally:
            session.close()
    assert result.outcome is Outcome.PASS, [f.message for f in result.findings if f.is_problem]
    assert run.sut.name == "Registered LPS" and run.sut.transport == "http"
    assert not session.peers.running  # closed with the session


def test_certify_refuses_a_missing_token_before_it_starts(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    reports = config_file.parent / "reports"
    code = main(["certify", "--sut-config", str(config_file), "--reports", str(reports)])
    out = capsys.readouterr().out
    assert code == 2 and "auth.token_env" in out and TOKEN_ENV in out, out
    assert not reports.exists()  # refused before any run, store or report
