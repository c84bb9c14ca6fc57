"""Start the reference FLP service (`python -m harness.refflp serve`) on a free loopback port,
wait for its health answer, and stop its whole process group afterwards.

kcert never imports the service (import-linter forbids it): it is started by module name, as a
vendor's service would be started on its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

# A copy of the service's own catalogue (harness/refflp/defects.py is the truth; the health
# answer names the ones switched on, and a test checks the two agree).
DEFECTS: tuple[str, ...] = ("missing-index", "global-lock", "n-plus-one")
HEALTH = "/flp/v1/health"
POLL_S = 0.1
STOP_S = 10.0  # SIGTERM, then SIGKILL after this long
LOG_TAIL = 3000
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


class ServiceStartError(RuntimeError):
    """The service did not come up; the text carries the tail of its own error output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the service's supervisor ends when kcert is killed, even by SIGKILL (its workers
    end with it: each sets the same on its supervisor)."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def _tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-LOG_TAIL:]
    except OSError:
        return ""


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of group `pgid` is left."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, …
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group, then SIGKILL to what outlives STOP_S; returns when none of
    the group is left (bounded)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_S)
    deadline = time.monotonic() + STOP_S
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_S)
    deadline = time.monotonic() + STOP_S
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(POLL_S / 10)


def command(
    port: int,
    *,
    workers: int = 2,
    db: str | None = None,
    defects: Sequence[str] = (),
    allow_admin: bool = True,
) -> list[str]:
    cmd = [sys.executable, "-m", "harness.refflp", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers)]
    if db:
        cmd += ["--db", db]
    for defect in defects:
        cmd += ["--defect", defect]
    return cmd + (["--allow-admin"] if allow_admin else [])


@contextmanager
def running_refflp(
    *,
    workers: int = 2,
    db: str | None = None,
    defects: Sequence[str] = (),
    port: int | None = None,
    timeout_s: float = 30,
) -> Iterator[str]:
    """The reference FLP service as child processes; yields its base URL once healthy.

    It is started with its admin routes (seed, reset), as a load demo needs them.
    """
    unknown = sorted(set(defects) - set(DEFECTS))
    if unknown:
        raise ValueError(f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(DEFECTS)}")
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="kcert-refflp-run-") as tmp:
        log_path = Path(tmp) / "refflp.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command(port, workers=workers, db=db, defects=defects),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # its temporary files (database, lock file) inside this folder, so they go
                # with it even when the service could not remove them itself (killed hard)
                env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": tmp},
                start_new_session=True,  # its own process group: the workers stop with it
                preexec_fn=_die_with_parent,
            )
            try:
                _wait_healthy(proc, base + HEALTH, log_path, timeout_s, workers)
                yield base
            finally:
                _stop(proc)


def _wait_healthy(
    proc: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float, workers: int
) -> None:
    deadline = time.monotonic() + timeout_s
    session = requests.Session()
    session.trust_env = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(
                f"the reference FLP service exited with {proc.returncode}: {_tail(log_path)}"
            )
        try:
            if session.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(POLL_S)
    raise ServiceStartError(
        f"the reference FLP service was not healthy within {timeout_s:.0f} s: {_tail(log_path)}"
    )


def seed_refflp(base_url: str, clinics: int, plans_per_clinic: int, *, timeout_s: float) -> int:
    """Prefill a running reference service with synthetic plans; returns how many it holds.

    RuntimeError (with the service's own answer) when it refuses, OSError when unreachable."""
    import requests

    body = {"clinics": clinics, "plans_per_clinic": plans_per_clinic, "seed": 1}
    http = requests.Session()
    http.trust_env = False  # a loopback service: no proxy from the environment
    try:
        answer = http.post(f"{base_url}/flp/v1/admin/seed", json=body, timeout=timeout_s)
    except requests.RequestException as exc:
        raise OSError(f"{base_url}: {exc}") from None
    if answer.status_code >= 300:
        raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:300]}")
    try:
        held = answer.json().get("plans", clinics * plans_per_clinic)
    except (ValueError, AttributeError):
        held = clinics * plans_per_clinic
    return int(held) if isinstance(held, int) else clinics * plans_per_clinic
