"""`kcert quality score`: its options (harness.cli.quality_cmd hands over to
harness.quality.command)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import iso_date
from harness.cli.parsers.lazy import lazy
from harness.suitefiles import reports_dir

HELP = "data completeness and quality of clinic extracts, scored per clinic"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quality = sub.add_parser("quality", help=HELP)
    actions = quality.add_subparsers(dest="quality_action", required=True)
    score = actions.add_parser(
        "score",
        help="score clinic extracts against the check catalogue; write scorecards and quality.json",
    )
    score.add_argument(
        "extract",
        type=Path,
        metavar="EXTRACT|FOLDER",
        help="one extract (JSON file or CSV folder) or a folder of extracts (many clinics, "
        "optional labels.csv: extract,vendor,cluster)",
    )
    score.add_argument(
        "--catalogue", type=Path, metavar="FILE", help="check catalogue YAML (default: built in)"
    )
    score.add_argument(
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the day the checks count from (default: each extract's own date)",
    )
    score.add_argument("--json", action="store_true", help="print quality.json to stdout")
    score.add_argument("--reports", type=Path, default=reports_dir(), metavar="DIR")
    score.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="run store: sqlite:///FILE (default reports/kcert-runs.sqlite, or KCERT_STORE) "
        "or postgresql://user@host/db",
    )
    score.add_argument("--lang", choices=["da", "en"], default="da")
    score.add_argument("--pdf", action="store_true", help="also write the scorecards as PDF")
    score.add_argument("--sign-key", type=Path, metavar="FILE", help="sign the run's manifest")
    score.set_defaults(func=lazy("quality_cmd", "score"))
