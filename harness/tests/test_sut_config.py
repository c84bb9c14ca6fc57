"""SUT configuration files, and credentials that never reach evidence or reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.writer import write_report
from harness.runner.engine import Runner, RunOptions
from harness.sut.config import load_sut_config
from harness.tests.conftest import reference_answers
from harness.transport.base import TransportError, redact_headers
from harness.transport.http import HttpTransport
from harness.yamlsource import SourceError

GOOD = """\
name: Vendor LPS
vendor: Vendor A/S
version: 7.2.1
transport: http
endpoints:
  fhir: https://lps.test.invalid/fhir
  agent: https://lps.test.invalid/kcert-agent/v1
identity:
  sor: "999991000016008"
  gln: "5790000999996"
auth:
  type: bearer
  token_env: KCERT_TEST_TOKEN
tls:
  verify: true
timeouts:
  connect: 3
  read: 20
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sut.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config(tmp_path: Path) -> None:
    config = load_sut_config(write(tmp_path, GOOD))
    assert config.read_timeout == 20 and config.auth.type == "bearer"
    assert "token" not in json.dumps(config.public_dict()).lower().replace("token_env", "")


@pytest.mark.parametrize(
    ("old", "new", "line", "needle"),
    [
        ("  read: 20", "  read: -1", 18, "timeouts.read"),
        ('  gln: "5790000999996"', '  gln: "57900"', 10, "identity.gln"),
        ("  type: bearer", "  type: kerberos", 12, "auth.type"),
        ("transport: http", "transport: carrier-pigeon", 4, "transport"),
        ("  agent: https", "  agant: https", 5, "endpoints"),
    ],
)
def test_bad_config_names_file_line_field(
    tmp_path: Path, old: str, new: str, line: int, needle: str
) -> None:
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SourceError) as err:
        load_sut_config(path)
    assert str(err.value).startswith(f"{path}:{line}:"), str(err.value)
    assert needle in str(err.value)


def test_mtls_needs_a_certificate(tmp_path: Path) -> None:
    path = write(
        tmp_path, GOOD.replace("  type: bearer\n  token_env: KCERT_TEST_TOKEN", "  type: mtls")
    )
    with pytest.raises(SourceError, match="client certificate"):
        load_sut_config(path)


def test_bearer_without_token_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCERT_TEST_TOKEN", raising=False)
    with pytest.raises(TransportError, match="KCERT_TEST_TOKEN"):
        HttpTransport(load_sut_config(write(tmp_path, GOOD)))


def test_redaction() -> None:
    shown = redact_headers({"Authorization": "Bearer s3cret", "Accept": "x", "Cookie": "c=1"})
    assert shown == {"Authorization": "***", "Accept": "x", "Cookie": "***"}


def test_token_never_reaches_the_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    protocols: list,  # type: ignore[type-arg]
) -> None:
    """A real HTTP run with a bearer token: the token is in no file the run writes."""
    import threading

    import uvicorn

    from harness.reflps.app import create_app
    from harness.sut.reference import free_port

    secret = "kcert-secret-token-4711"
    monkeypatch.setenv("KCERT_TEST_TOKEN", secret)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.05)
        text = GOOD.replace("https://lps.test.invalid", f"http://127.0.0.1:{port}")
        config = load_sut_config(write(tmp_path, text))
        transport = HttpTransport(config)
        run = Runner(transport, config, answers=reference_answers(protocols)).run(
            protocols[:1], RunOptions()
        )
        run_dir = write_report(run, tmp_path / "reports")
    finally:
        server.should_exit = True
        thread.join(timeout=5)
    assert run.verdict.value == "godkendt"
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_shipped_example_config_loads() -> None:
    from harness.fixtures import FIXTURES_DIR

    config = load_sut_config(FIXTURES_DIR / "sut-example.yaml")
    assert config.endpoint("agent").endswith("/kcert-agent/v1")
    assert config.standards == ("medcom.fhir.dk.carecommunication#5.0.2",)


def test_claimed_standards_must_name_a_version(tmp_path: Path) -> None:
    from harness.fixtures import FIXTURES_DIR

    text = (FIXTURES_DIR / "sut-example.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "sut.yaml"
    bad.write_text(text.replace("carecommunication#5.0.2", "carecommunication"), encoding="utf-8")
    with pytest.raises(Exception, match="standards") as caught:
        load_sut_config(bad)
    assert "sut.yaml" in str(caught.value)
