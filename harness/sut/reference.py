"""Start the embedded reference LPS on 127.0.0.1 on a free port, wait for health, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from harness import __version__
from harness.sut.config import SutConfig

STARTUP_TIMEOUT_S = 30.0
HEALTH_POLL_S = 0.03  # between health probes while it starts (it is up in well under a second)
# Who the reference LPS says it is, stated here as a vendor states it in a SUT configuration:
# the judging side never imports the reference LPS (it is started by module name, below).
# harness/tests/test_contracts.py checks these agree with the reference LPS's own identity.
REFERENCE_SOR = "999991000016008"
REFERENCE_GLN = "5790000999996"
REFERENCE_NAME = "Lægehuset Reference (kcert)"
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


class ReferenceStartError(RuntimeError):
    """The reference LPS did not come up; the text carries its own error output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reference_config(
    base_url: str, defects: tuple[str, ...] = (), transport: str = "http"
) -> SutConfig:
    return SutConfig(
        name="kcert reference LPS",
        vendor="kcert",
        version=__version__,
        endpoints={"fhir": f"{base_url}/fhir", "agent": f"{base_url}/kcert-agent/v1"},
        sor=REFERENCE_SOR,
        gln=REFERENCE_GLN,
        org_name=REFERENCE_NAME,
        transport=transport,
        defects=defects,
        read_timeout=30.0,
    )


def _die_with_parent() -> None:
    """Linux: the reference LPS ends when kcert is killed (even by SIGKILL), leaving no orphan
    holding a port; elsewhere this does nothing and close() remains the way it stops."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


@contextmanager
def running_reference(
    defects: tuple[str, ...] = (), only: str = "all", declare: bool = False
) -> Iterator[SutConfig]:
    """The reference LPS as a real HTTP server in a child process, for as long as needed.

    `only="carecommunication"` leaves out every route but CareCommunication's (an LPS of that
    scope); `declare` makes its health answer declare its capabilities.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="kcert-reflps-") as tmp:
        log_path = Path(tmp) / "reflps.log"
        cmd = [
            sys.executable,
            "-m",
            "harness.reflps",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(Path(tmp) / "reflps.sqlite"),
        ]
        for defect in defects:
            cmd += ["--defect", defect]
        cmd += ["--only", only] + (["--declare-capabilities"] if declare else [])
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_die_with_parent,
            )
            try:
                _wait_healthy(proc, f"{base}/kcert-agent/v1/health", log_path)
                yield reference_config(base, defects)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    session = requests.Session()
    session.trust_env = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log_path.read_text(errors="replace")[-2000:]
            raise ReferenceStartError(f"reference LPS exited with {proc.returncode}: {output}")
        try:
            if session.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(HEALTH_POLL_S)
    raise ReferenceStartError(f"reference LPS not healthy within {STARTUP_TIMEOUT_S:.0f} s")
