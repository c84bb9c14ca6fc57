"""`kcert load model|run|worker`: their options (harness.cli.load_cmd runs them; run and
worker hand over to harness.load.command and harness.load.distributed)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from harness.cli.parsers.lazy import lazy
from harness.suitefiles import reports_dir

HELP = "load tests of the FLP operating environment: the workload model, Locust runs, workers"
SHAPES = ("normal", "peak", "stress", "soak")  # harness.load.model.SHAPES (a test compares)
MAX_RUN_TIME_S = 7 * 24 * 3600.0  # the profile's own bound is usually far lower
MAX_USERS = 100_000
MAX_WORKERS = 256
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h)?$")
_UNIT = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = sub.add_parser("load", help=HELP)
    actions = load.add_subparsers(dest="load_action", required=True)

    model = actions.add_parser(
        "model", help="the profile's figures turned into rates per operation, with the arithmetic"
    )
    model.add_argument("profile", type=Path, metavar="PROFILE", help="load profile YAML")
    model.add_argument("--lang", choices=["da", "en"], default="da")
    model.add_argument("--json", action="store_true", help="machine-readable output")
    model.set_defaults(func=lazy("load_cmd", "model"))

    run = actions.add_parser("run", help="run a load test with Locust and judge the SLOs")
    run.add_argument("profile", type=Path, metavar="PROFILE", help="load profile YAML")
    run.add_argument(
        "--target", required=True, type=Path, metavar="CONFIG", help="target configuration YAML"
    )
    run.add_argument(
        "--users", type=_count(1, MAX_USERS), metavar="N", help="virtual users (default: derived)"
    )
    run.add_argument(
        "--run-time",
        type=duration,
        metavar="TIME",
        help="how long: 90, 90s, 5m or 1h (default: the shape's; never beyond the profile's bound)",
    )
    run.add_argument("--shape", choices=SHAPES, default="peak", help="load shape (default: peak)")
    run.add_argument(
        "--workers",
        type=_count(0, MAX_WORKERS),
        default=0,
        metavar="N",
        help="Locust master with N local worker processes (default 0: one local process)",
    )
    run.add_argument(
        "--expect-workers",
        type=_count(1, MAX_WORKERS),
        metavar="N",
        help="workers the master waits for (default: --workers; more join with kcert load worker)",
    )
    run.add_argument(
        "--master-bind", default="127.0.0.1", metavar="HOST", help="the master's bind address"
    )
    run.add_argument(
        "--master-port", type=_port, default=0, metavar="PORT", help="default 0: any free port"
    )
    run.add_argument("--seed", type=_count(0, 2**31 - 1), default=0, metavar="N")
    run.add_argument("--reports", type=Path, default=reports_dir(), metavar="DIR")
    run.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="run store: sqlite:///FILE (default reports/kcert-runs.sqlite, or KCERT_STORE) "
        "or postgresql://user@host/db",
    )
    run.add_argument("--lang", choices=["da", "en"], default="da")
    run.add_argument("--pdf", action="store_true", help="also write report.pdf")
    run.add_argument("--sign-key", type=Path, metavar="FILE", help="sign the run's manifest")
    run.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="with `reference:` in the target: start the reference FLP service with this "
        "performance defect (repeatable)",
    )
    run.add_argument(
        "--no-preflight", action="store_true", help="skip the correctness preflight before load"
    )
    run.set_defaults(func=lazy("load_cmd", "run"))

    worker = actions.add_parser("worker", help="join a Locust master started by kcert load run")
    worker.add_argument(
        "--master", required=True, type=master_address, metavar="HOST:PORT", help="the master"
    )
    worker.add_argument(
        "--processes",
        type=_count(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help="worker processes on this machine (default 1; one per core is usual)",
    )
    worker.add_argument("--lang", choices=["da", "en"], default="da")
    worker.set_defaults(func=lazy("load_cmd", "worker"))


def duration(text: str) -> float:
    """Seconds from 90, 90s, 5m or 1h; at least 1 s and at most a week."""
    found = _DURATION.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds, or 90s, 5m, 1h")
    seconds = float(found.group(1)) * _UNIT[found.group(2)]
    if not 1 <= seconds <= MAX_RUN_TIME_S:
        raise argparse.ArgumentTypeError(f"{text!r}: between 1 s and {MAX_RUN_TIME_S:g} s")
    return seconds


def master_address(text: str) -> str:
    """HOST:PORT (an IPv6 host in brackets), the port 1..65535; kept as written."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT")
    return text


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value}: between {low} and {high}")
        return value

    parse.__name__ = "count"
    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port between 0 (any free one) and 65535")
    return value
