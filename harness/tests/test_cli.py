"""The kcert command line end to end: real reference LPS over loopback HTTP, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.fixtures import REPO_ROOT
from harness.reflps.defects import CATALOGUE
from harness.sut.reference import free_port

pytestmark = pytest.mark.slow


def kcert(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={
            "COLUMNS": "200",
            "PATH": "/usr/bin:/bin",
            "PYTHONIOENCODING": "utf-8",
            "KCERT_PACKS": os.environ["KCERT_PACKS"],
            "KCERT_TRUSTED": os.environ["KCERT_TRUSTED"],
        },
    )


ANSWERS = str(REPO_ROOT / "fixtures" / "answers" / "reference-lps.yaml")


def test_certify_reference_is_godkendt(tmp_path: Path) -> None:
    done = kcert("certify", "--sut", "reference", "--reports", str(tmp_path), "--answers", ANSWERS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Godkendt" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    latest = tmp_path / "latest"
    assert (latest / "index.html").is_file()
    html = (latest / "index.html").read_text(encoding="utf-8")
    assert "MVP1-LPS-03" in html and "Godkendt" in html and 'lang="da"' in html
    assert (
        str(latest.resolve() / "index.html") in done.stdout.replace("\n", "")
        or str(tmp_path) in done.stdout
    )
    results = json.loads((latest / "results.json").read_text())
    assert results["summary"]["pass"] >= 10
    assert results["sut"]["transport"] == "http"
    evidence = sorted(p.name for p in (latest / "evidence").iterdir())
    assert "CareCommunication_S_CC-R-01.1_A.json" in evidence
    assert "CareCommunication_R_CC-R-02.1_A.xml" in evidence
    allure = [json.loads(p.read_text()) for p in (latest / "allure-results").glob("*-result.json")]
    assert len(allure) == results["summary"]["cases"]
    assert {a["status"] for a in allure} == {"passed"}
    import xml.etree.ElementTree as ET

    junit = ET.parse(latest / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == results["summary"]["cases"]
    assert junit.find(".//failure") is None
    check = subprocess.run(
        ["sha256sum", "-c", "--quiet", "manifest.sha256"],
        cwd=latest,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_certify_with_defect_exits_1_and_names_the_case(tmp_path: Path) -> None:
    done = kcert(
        "certify",
        "--sut",
        "reference",
        "--defect",
        "duplicate-processed-twice",
        "--reports",
        str(tmp_path),
        "--lang",
        "en",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Not approved" in done.stdout
    assert "CC-R-05 [F2]" in done.stdout
    html = (tmp_path / "latest" / "index.html").read_text(encoding="utf-8")
    assert 'lang="en"' in html and "AGENT-COUNT" in html


def test_list_defects() -> None:
    done = kcert("certify", "--sut", "reference", "--list-defects")
    assert done.returncode == 0
    for name in ("ack-wrong-reference", "duplicate-processed-twice", "xml-unsupported"):
        assert name in done.stdout


def test_unreachable_sut_exits_2_and_reports_it(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    config = tmp_path / "sut.yaml"
    config.write_text(
        f"""name: Nobody LPS
vendor: Test
version: "1"
endpoints:
  fhir: http://127.0.0.1:{port}/fhir
  agent: http://127.0.0.1:{port}/kcert-agent/v1
identity: {{sor: "999991000016008", gln: "5790000999996"}}
timeouts: {{connect: 1, read: 2}}
""",
        encoding="utf-8",
    )
    done = kcert("certify", "--sut-config", str(config), "--reports", str(tmp_path / "r"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SUT unreachable" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    results = json.loads((tmp_path / "r" / "latest" / "results.json").read_text())
    assert results["verdict"] == "fejl"
    assert "SUT unreachable" in results["error"]
    assert {c["outcome"] for p in results["protocols"] for c in p["cases"]} == {"error"}


def test_bad_protocol_is_exit_2_with_file_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (REPO_ROOT / "testcases" / "carecommunication-receive.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("severity: F2", "severity: F9", 1), encoding="utf-8")
    done = kcert(
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--protocols",
        str(broken),
        "--reports",
        str(tmp_path),
    )
    line = text.splitlines().index("    severity: F2") + 1
    assert done.returncode == 2
    assert f"{broken}:{line}: cases[0].severity" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_bad_sut_config_is_exit_2_with_file_line(tmp_path: Path) -> None:
    config = tmp_path / "sut.yaml"
    config.write_text(
        "name: X\nvendor: Y\nversion: '1'\nendpoints: {fhir: ftp://x}\n"
        "identity: {sor: '1', gln: '2'}\n",
        encoding="utf-8",
    )
    done = kcert("certify", "--sut-config", str(config))
    assert done.returncode == 2
    assert f"{config}:4: endpoints" in done.stdout


def test_usage_errors_exit_2() -> None:
    assert kcert("certify").returncode == 2
    done = kcert("certify", "--sut", "reference", "--defect", "no-such-bug")
    assert done.returncode == 2 and "unknown defect no-such-bug" in done.stdout
    assert kcert("frobnicate").returncode == 2


def test_protocols_check_and_list() -> None:
    done = kcert("protocols", "check")
    assert done.returncode == 0 and "0 error(s)" in done.stdout
    listing = kcert("protocols", "list")
    assert "CC-R-12" in listing.stdout


# One defect per protocol file through the real command line (a subprocess each); every
# defect is caught in-process by test_defects, which the same engine runs.
THROUGH_THE_CLI = (
    "ack-sender-not-swapped",
    "red-yellow-swapped",
    "no-resend",
    "referral-bad-gln",
    "cpd-missing-goal-section",
    "qrd-ignored",
    "hn-cancel-ignored",
)


def test_cli_defects_cover_every_protocol() -> None:
    from harness.tests.test_defects import CAUGHT_BY, protocol_file_of

    assert set(THROUGH_THE_CLI) <= set(CATALOGUE)
    files = {protocol_file_of(CAUGHT_BY[d][0]) for d in THROUGH_THE_CLI}
    assert files == {p.name for p in (REPO_ROOT / "testcases").glob("*.yaml")}


@pytest.mark.parametrize("defect", THROUGH_THE_CLI)
def test_every_defect_through_the_command_line(tmp_path: Path, defect: str) -> None:
    """Exit 1 naming the catching case, through `kcert` itself (its protocol only, for speed)."""
    from harness.tests.test_defects import CAUGHT_BY, protocol_file_of

    case_id, severity = CAUGHT_BY[defect]
    protocol = str(REPO_ROOT / "testcases" / protocol_file_of(case_id))
    done = kcert(
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--defect",
        defect,
        "--protocols",
        protocol,
        "--reports",
        str(tmp_path),
    )
    assert done.returncode == 1, done.stdout
    assert f"{case_id} [{severity.value}]" in done.stdout


def test_unwritable_report_folder_is_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = kcert(
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--protocols",
        str(REPO_ROOT / "testcases" / "carecommunication-receive.yaml"),
        "--reports",
        str(blocker / "reports"),
    )
    assert done.returncode == 2
    assert "cannot write the report" in done.stdout and "Traceback" not in done.stdout


def test_coverage_table(tmp_path: Path) -> None:
    done = kcert("coverage", "--json")
    assert done.returncode == 0
    table = json.loads(done.stdout)
    assert "CC-R-10" in table["MVP1-LPS-05"]["cases"]
    assert "KC-LINK" in table["MVP2-LPS-02"]["cases"]
    assert kcert("coverage", "--run", str(tmp_path)).returncode == 2


def test_waivers_through_the_command_line(tmp_path: Path) -> None:
    register = tmp_path / "waivers.yaml"
    register.write_text(
        "waivers:\n  - case: CC-R-08\n    reason: rettes i 7.3\n    approver: MedCom\n"
        "    expires: '2099-12-31'\n",
        encoding="utf-8",
    )
    protocol = str(REPO_ROOT / "testcases" / "carecommunication-receive.yaml")
    done = kcert(
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--defect",
        "server-error-on-garbage",
        "--protocols",
        protocol,
        "--waivers",
        str(register),
        "--answers",
        ANSWERS,
        "--reports",
        str(tmp_path / "r"),
    )
    assert done.returncode == 0, done.stdout
    html = (tmp_path / "r" / "latest" / "index.html").read_text(encoding="utf-8")
    assert "dispenseret" in html and "rettes i 7.3" in html
