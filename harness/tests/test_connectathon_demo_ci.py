""".ci/chromium.sh: the browser is installed only when missing, bounded, and says why not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.fixtures import REPO_ROOT

SCRIPT = REPO_ROOT / ".ci" / "chromium.sh"


def _source(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Source the script as .ci/run does, then print what it exported."""
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}" && env | grep ^KCERT_ | sort'],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _fake_tools(tmp_path: Path, apt_body: str) -> str:
    """A PATH whose apt-get (and sudo, for a non-root run) is a stand-in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\n{apt_body}\n")
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for tool in ("apt-get", "sudo"):
        (bin_dir / tool).chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_present_binaries_are_used_and_nothing_is_installed(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in ("chromium", "chromedriver"):
        (fake / name).write_text("#!/bin/sh\necho Chromium 1.2.3\n")
        (fake / name).chmod(0o755)
    path = _fake_tools(tmp_path, "echo apt-get must not run >&2; exit 9")
    done = _source(
        tmp_path,
        {
            "PATH": path,
            "KCERT_CHROMIUM": str(fake / "chromium"),
            "KCERT_CHROMEDRIVER": str(fake / "chromedriver"),
        },
    )
    assert done.returncode == 0, done.stderr
    assert "apt-get must not run" not in done.stderr
    assert "ci: Chromium 1.2.3" in done.stdout
    assert f"KCERT_SCREENSHOTS={tmp_path}/reports/screenshots" in done.stdout
    assert (tmp_path / "reports" / "screenshots").is_dir()


@pytest.mark.parametrize(
    ("apt_body", "timeout"),
    [("exit 100", "600"), ("exec sleep 30", "1")],
    ids=["apt-get fails", "apt-get hangs"],
)
def test_a_missing_browser_that_cannot_be_installed_stops_with_a_message(
    tmp_path: Path, apt_body: str, timeout: str
) -> None:
    done = _source(
        tmp_path,
        {
            "PATH": _fake_tools(tmp_path, apt_body),
            "KCERT_CHROMIUM": str(tmp_path / "absent" / "chromium"),
            "KCERT_APT_TIMEOUT": timeout,
        },
    )
    assert done.returncode != 0
    assert "ci: installing Chromium" in done.stdout
    assert "could not install Chromium" in done.stderr
    assert "chromium and chromium-driver" in done.stderr
