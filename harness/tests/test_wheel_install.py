"""kcert installed from its wheel works from any folder: it carries its protocols, fixtures,
templates, rule packs and contract, and names the protocols' hash in the suite version.

The wheel is built as `make dist` builds it and installed into a fresh virtual environment.
To keep the test offline and fast, the new environment is created without pip and sees this
environment's site-packages through a .pth file (the dependencies, pip included), and the wheel
is installed with --no-deps. The new environment's own site-packages comes first on sys.path, so
`harness` is the installed wheel, not this checkout (a path in a .pth file does not run the
.pth files found there, so this checkout's editable-install hook stays off).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.fixtures import REPO_ROOT
from harness.suite import protocol_hashes, suite_version

pytestmark = pytest.mark.slow

BUILD_TIMEOUT_S = 300
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with kcert installed from a freshly built wheel."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), REPO_ROOT],
        check=True,
        timeout=BUILD_TIMEOUT_S,
        capture_output=True,
    )
    (wheel,) = dist.glob("kcert-*.whl")
    env = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=60
    )
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    (Path(site) / "kcert-test-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=BUILD_TIMEOUT_S,
        capture_output=True,
    )
    return env


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "somewhere-else"
    folder.mkdir()
    assert not folder.resolve().is_relative_to(REPO_ROOT)
    return folder


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _kcert(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "kcert"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=_env(),
    )


def _installed(venv: Path, expression: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"print({expression})"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=_env(),
        cwd=venv,
    )
    return done.stdout.strip()


def test_the_installed_package_is_the_wheel_with_its_suite(venv: Path) -> None:
    where = Path(_installed(venv, "__import__('harness').__file__"))
    assert where.is_relative_to(venv), where
    suite = where.parent / "_suite"
    for name in ("testcases", "fixtures"):
        local = {p.relative_to(REPO_ROOT / name) for p in (REPO_ROOT / name).rglob("*.*")}
        assert local <= {p.relative_to(suite / name) for p in (suite / name).rglob("*.*")}, name
    for data in (
        "report/templates/report.html.j2",
        "report/results.schema.json",
        "rulepacks/cockpit-v1.yaml",
        "contract/lps-test-agent-api.yaml",
        "reflps/careplan/templates/cpd.xml.j2",
    ):
        assert (where.parent / data).is_file(), data
    built = json.loads((suite / "build.json").read_text(encoding="utf-8"))
    assert built["commit"] == suite_version().commit


def test_protocols_list_from_outside_the_repository(venv: Path, outside: Path) -> None:
    done = _kcert(venv, outside, "protocols", "list")
    assert done.returncode == 0, done.stdout + done.stderr
    for path in (REPO_ROOT / "testcases").glob("*.yaml"):
        assert path.stem in done.stdout


def test_certify_the_reference_lps_from_outside_the_repository(venv: Path, outside: Path) -> None:
    answers = Path(_installed(venv, "__import__('harness.suitefiles').suitefiles.fixtures_dir()"))
    answers = answers / "answers" / "reference-lps.yaml"
    assert answers.is_relative_to(venv)
    done = _kcert(
        venv,
        outside,
        "certify",
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--no-packs",
        "--answers",
        str(answers),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((outside / "reports" / "latest" / "results.json").read_text("utf-8"))
    expected = suite_version()  # the checkout's protocols are the wheel's
    assert expected.protocols == protocol_hashes([REPO_ROOT / "testcases"])
    assert f".p{expected.protocols_hash[:12]}" in results["suite_version"]
    if expected.commit:  # the wheel recorded the commit it was built from
        assert results["suite_version"].startswith(f"{expected.version}+g{expected.commit[:12]}")
    assert (outside / "reports" / "latest" / "index.html").is_file()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def reference_server(venv: Path, tmp_path: Path) -> Iterator[int]:
    """The installed reference LPS, started by module name as a vendor's SUT would run."""
    port = _free_port()
    log = (tmp_path / "reflps.log").open("wb")
    proc = subprocess.Popen(
        [
            *(str(venv / "bin" / "python"), "-m", "harness.reflps", "--host", "127.0.0.1"),
            *("--port", str(port), "--db", str(tmp_path / "reflps.sqlite")),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "reflps.log").read_text(errors="replace")
            try:
                url = f"http://127.0.0.1:{port}/kcert-agent/v1/health"
                if requests.get(url, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail("the installed reference LPS did not become healthy within 30 s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_certify_a_sut_config_from_outside_the_repository(
    venv: Path, outside: Path, reference_server: int
) -> None:
    example = (REPO_ROOT / "fixtures" / "sut-example.yaml").read_text(encoding="utf-8")
    config = outside / "my-lps.yaml"
    config.write_text(example.replace("127.0.0.1:8080", f"127.0.0.1:{reference_server}"), "utf-8")
    done = _kcert(
        venv, outside, "certify", "--sut-config", str(config), "--no-packs", "--case", "CC-R-01"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (outside / "reports" / "latest" / "results.json").is_file()
