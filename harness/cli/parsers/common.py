"""What several commands share: which SUT, where and how a run is reported, the run store,
the signing keys' folder and the date argument."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from harness.suitefiles import reports_dir

# The engine's default (harness.runner.engine.DEFAULT_EVIDENCE_BUDGET; a test keeps them equal),
# spelled out here so that parsing the options does not import the engine.
DEFAULT_EVIDENCE_BUDGET = 200 * 1024 * 1024
DEFAULT_KEYS = Path.home() / ".kcert" / "keys"


def add_sut_options(p: argparse.ArgumentParser) -> None:
    """Which SUT: the embedded reference LPS (with defects, over HTTP or in-process) or a
    configured one. Shared by every command that talks to a SUT."""
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--sut", choices=["reference"], help="start and test the embedded reference LPS"
    )
    target.add_argument("--sut-config", type=Path, help="YAML file describing the SUT")
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="start the reference LPS with a named defect (repeatable)",
    )
    p.add_argument(
        "--transport",
        choices=["http", "inprocess"],
        default="http",
        help="with --sut reference: real HTTP on loopback (default) or in-process",
    )


def add_common(p: argparse.ArgumentParser) -> None:
    """Options every command that writes a report shares."""
    p.add_argument("--reports", type=Path, default=reports_dir())
    p.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="run store: sqlite:///FILE (default reports/kcert-runs.sqlite, or KCERT_STORE) "
        "or postgresql://user@host/db",
    )
    p.add_argument("--lang", choices=["da", "en"], default="da")
    p.add_argument("--pdf", action="store_true", help="also write report.pdf (signed with the run)")
    p.add_argument("--waivers", type=Path, help="YAML register of accepted deviations")
    p.add_argument(
        "--evidence-budget",
        type=_megabytes,
        default=DEFAULT_EVIDENCE_BUDGET,
        metavar="MB",
        help="evidence a run may record before it ends with EVIDENCE-BUDGET (default 200 MB)",
    )


def _megabytes(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of megabytes") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError("between 1 and 100000 MB")
    return int(value * 1024 * 1024)


def add_store_options(p: argparse.ArgumentParser) -> None:
    """Options every command that reads the run store shares."""
    p.add_argument("--reports", type=Path, default=reports_dir())
    p.add_argument("--store", default=None, metavar="URL", help="run store URL")
    p.add_argument("--lang", choices=["da", "en"], default="da")


def iso_date(text: str) -> dt.date:
    """YYYY-MM-DD only (Python also reads 20270301 and week dates), years 1900-2200."""
    try:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
        if not 1900 <= day.year <= 2200:
            raise ValueError(text)
        return day
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date YYYY-MM-DD between 1900 and 2200, got {text!r}"
        ) from None
