"""`make bench` section load-generator: Locust's request rate per core beside wrk's.

Both generators ask GET / of the same minimal loopback endpoint (a raw asyncio HTTP/1.1 server
answering 200 "ok", kept alive, in a child process) in the same run. Each generator's rate per
core is the requests it completed per CPU second it used, measured over a steady window: for
Locust (FastHttpUser, one process, no think time) between two samples of its CSV and its CPU
times; for wrk (one thread) its own count over its CPU time (getrusage of the finished child).
Goal (issue 15): Locust ≥ 25 % of wrk's rate per core. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil  # type: ignore[import-untyped]

import harness

BENCHFILE = Path(__file__).resolve().parent / "load" / "swarm" / "benchfile.py"
GOAL = 0.25
WINDOW_S = (3.0, 9.0)  # Locust's steady window: after start-up, before the end
LOCUST_USERS = 20
WRK_SECONDS = 5
WRK_CONNECTIONS = 20
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _Ok(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")  # GET only: a request ends with its headers
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(_ANSWER * count)


def serve(port: int) -> None:
    """The minimal endpoint (run in a child process: python -m harness.bench_load serve P)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Ok, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def endpoint() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.bench_load", "serve", str(port)],
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(harness.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _requests(stats: Path) -> int:
    with contextlib.suppress(OSError, StopIteration, ValueError, KeyError):
        with stats.open(encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r["Name"] == "Aggregated"]
        return int(rows[-1]["Request Count"])
    return 0


def locust_per_core(url: str) -> tuple[float, float]:
    """Locust's (requests/s, requests per CPU second) over the steady window."""
    with TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "bench"
        run_s = int(WINDOW_S[1] + 3)
        argv = [
            sys.executable, "-m", "locust", "-f", str(BENCHFILE), "--headless", "--only-summary",
            "--host", url, "-u", str(LOCUST_USERS), "-r", str(LOCUST_USERS),
            "--run-time", f"{run_s}s", "--csv", str(prefix), "--loglevel", "WARNING",
        ]  # fmt: skip
        proc = subprocess.Popen(
            argv, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            ps = psutil.Process(proc.pid)
            start = time.monotonic()
            samples: list[tuple[float, float, int]] = []
            for at in WINDOW_S:
                time.sleep(max(0.0, start + at - time.monotonic()))
                times = ps.cpu_times()
                samples.append(
                    (
                        time.monotonic(),
                        times.user + times.system,
                        _requests(Path(f"{prefix}_stats.csv")),
                    )
                )
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
    (t1, cpu1, n1), (t2, cpu2, n2) = samples
    rate = (n2 - n1) / (t2 - t1)
    return rate, (n2 - n1) / max(cpu2 - cpu1, 1e-6)


def wrk_per_core(url: str) -> tuple[float, float] | None:
    """wrk's (requests/s, requests per CPU second), one thread; None without wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", url + "/"],
        capture_output=True, text=True, timeout=WRK_SECONDS + 20, check=False,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", done.stdout)
    per_s = re.search(r"Requests/sec:\s*([\d.]+)", done.stdout)
    if not found or not per_s:
        return None
    return float(per_s.group(1)), int(found.group(1)) / max(cpu, 1e-6)


def load_generator_bench() -> None:
    print("\nload generator (GET / of a minimal loopback endpoint, same run):")
    with endpoint() as url:
        wrk = wrk_per_core(url)
        rate, per_core = locust_per_core(url)
    print(f"  Locust FastHttpUser  {rate:10.0f} req/s   {per_core:10.0f} req/s per core")
    if wrk is None:
        print("  wrk                  not installed or no figure: no ratio")
        return
    wrk_rate, wrk_core = wrk
    ratio = per_core / wrk_core if wrk_core else 0.0
    verdict = "meets" if ratio >= GOAL else "below"
    print(f"  wrk (1 thread)       {wrk_rate:10.0f} req/s   {wrk_core:10.0f} req/s per core")
    print(f"  Locust / wrk per core {ratio:8.1%}   ({verdict} the goal of {GOAL:.0%})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        load_generator_bench()
