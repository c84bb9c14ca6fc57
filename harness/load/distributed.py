"""`kcert load worker --master HOST:PORT [--processes N]`: Locust workers joining a master.

Run on another machine (or this one) to add generator cores to a run started with `kcert load
run … --expect-workers N --master-bind 0.0.0.0`. The workers need no plan file: the master's
plan (the `--kcert-plan` option of kcert's locustfile) travels to them in Locust's own spawn
messages, and the target's base URL as Locust's host; header values with `${ENV}` references
are resolved from this machine's environment. The workers end when the master ends the run
(Locust's quit message) or when it is gone (Locust's heartbeat timeout); Ctrl-C or SIGTERM
here stops them (SIGTERM, then SIGKILL after a bounded wait).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from harness.load.engine import (
    LOCUSTFILE,
    Child,
    caught_signals,
    child_env,
    start_child,
    stop_children,
)
from harness.load.words import say

MAX_PROCESSES = 256


class WorkerArgsError(ValueError):
    pass


def parse_master(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WorkerArgsError(f"--master {text!r}: expected HOST:PORT")
    return host, int(port)


def worker_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--worker", "--master-host", host, "--master-port", str(port),
    ]  # fmt: skip


def worker_command(args: argparse.Namespace) -> int:
    """Start the workers, wait for them; 0 when they ended by themselves, 2 for bad input."""
    lang = str(getattr(args, "lang", "da") or "da")
    try:
        host, port = parse_master(str(args.master))
        given = getattr(args, "processes", None)
        processes = 1 if given is None else int(given)
        if not 1 <= processes <= MAX_PROCESSES:
            raise WorkerArgsError(f"--processes {processes}: expected 1..{MAX_PROCESSES}")
    except (WorkerArgsError, ValueError) as exc:
        print(say(lang, "error", text=exc), file=sys.stderr)
        return 2
    env = child_env(None)  # no plan file: the plan comes from the master
    children: list[Child] = []
    print(say(lang, "joining", n=processes, host=host, port=port))
    try:
        with caught_signals() as interrupted:
            for index in range(1, processes + 1):
                children.append(start_child(f"worker-{index}", worker_argv(host, port), env, None))
            while any(c.alive() for c in children) and not interrupted.is_set():
                time.sleep(0.2)
            if interrupted.is_set():
                print(say(lang, "workers_interrupted"), file=sys.stderr)
                return 130
    finally:
        stop_children(children)
    codes = [c.proc.returncode for c in children]
    return 0 if all(code in (0, 1) for code in codes) else 1


if __name__ == "__main__":  # pragma: no cover - for a machine without the kcert console script
    parser = argparse.ArgumentParser(prog="kcert load worker")
    parser.add_argument("--master", required=True)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--lang", choices=["da", "en"], default="da")
    sys.exit(worker_command(parser.parse_args()))
