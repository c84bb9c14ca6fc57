"""`kcert connectathon …`: every subcommand's options (harness.cli.connectathon_cmd runs them;
serve, run and demo hand over to the connectathon's web, orchestrate and demo modules)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import DEFAULT_KEYS, iso_date
from harness.cli.parsers.lazy import lazy
from harness.dossier.keyfiles import PRIVATE
from harness.suitefiles import reports_dir

HELP = "connectathon mode: sessions, systems, pairing, the live matrix, export and dossiers"
ROLES = ("admin", "monitor", "vendor")  # harness.connectathon.accounts.ROLES (a test compares)
DEMO_FOLDER = "connectathon-demo"
MAX_SECONDS = 7 * 24 * 3600.0  # a connectathon lasts days, not weeks


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cx = sub.add_parser("connectathon", help=HELP)
    actions = cx.add_subparsers(dest="connectathon_action", required=True)

    session = actions.add_parser("session", help="create or list connectathon sessions")
    session_actions = session.add_subparsers(dest="session_action", required=True)
    create = session_actions.add_parser("create", help="a new session (name, dates, scenarios)")
    create.add_argument("--name", required=True)
    create.add_argument("--starts", required=True, type=iso_date, metavar="DATE")
    create.add_argument("--ends", required=True, type=iso_date, metavar="DATE")
    create.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="ID",
        help="a scenario in scope (repeatable; default: every scenario of the suite)",
    )
    _common(create)
    create.set_defaults(func=lazy("connectathon_cmd", "run_session_create"))
    listing = session_actions.add_parser("list", help="every session in the store")
    _common(listing)
    listing.set_defaults(func=lazy("connectathon_cmd", "run_session_list"))

    register = actions.add_parser("register", help="register the systems of a systems YAML")
    register.add_argument("--session", required=True, metavar="ID")
    register.add_argument("file", type=Path, metavar="FILE.yaml", help="one system or a list")
    _common(register)
    register.set_defaults(func=lazy("connectathon_cmd", "run_register"))

    pair = actions.add_parser("pair", help="pair the registered systems into test instances")
    pair.add_argument("--session", required=True, metavar="ID")
    _common(pair)
    pair.set_defaults(func=lazy("connectathon_cmd", "run_pair"))

    accounts = actions.add_parser("accounts", help="web accounts (admin, monitor, vendor)")
    account_actions = accounts.add_subparsers(dest="accounts_action", required=True)
    add = account_actions.add_parser(
        "add", help="add an account, or set its password (KCERT_PASSWORD, else asked)"
    )
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--vendor", default="", help="for a vendor account: the vendor it sees")
    _common(add)
    add.set_defaults(func=lazy("connectathon_cmd", "run_accounts_add"))

    export = actions.add_parser("export", help="the matrix (JSON or CSV) or one test instance")
    what = export.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", metavar="ID", help="the session's matrix and instances")
    what.add_argument("--instance", metavar="ID", help="one test instance (JSON)")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("--out", type=Path, metavar="PATH", help="write here (default: stdout)")
    _common(export)
    export.set_defaults(func=lazy("connectathon_cmd", "run_export"))

    dossier = actions.add_parser("dossier", help="a system's signed connectathon dossier")
    dossier.add_argument("--session", required=True, metavar="ID")
    dossier.add_argument("--system", required=True, metavar="ID")
    dossier.add_argument(
        "--out", type=Path, metavar="DIR", help="default: REPORTS/connectathon/SESSION/SYSTEM"
    )
    dossier.add_argument("--key", type=Path, default=DEFAULT_KEYS / PRIVATE)
    dossier.add_argument("--signer", default="", help="who signs (in manifest.sig)")
    _common(dossier)
    dossier.set_defaults(func=lazy("connectathon_cmd", "run_dossier"))

    serve = actions.add_parser("serve", help="the live web matrix, worklist and grading")
    serve.add_argument("--session", metavar="ID", help="the session shown first")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8765)
    _common(serve, lang_help="language of the web pages and the console")
    serve.set_defaults(func=lazy("connectathon_cmd", "run_serve"))

    run = actions.add_parser("run", help="run a session's test instances (through the proxy)")
    run.add_argument("--session", required=True, metavar="ID")
    run.add_argument(
        "--instance",
        action="append",
        default=[],
        metavar="ID",
        help="only this instance (repeatable; default: every pending one)",
    )
    run.add_argument("--no-proxy", action="store_true", help="systems talk directly")
    run.add_argument("--time-limit", type=_seconds, metavar="SECONDS", help="stop after this")
    # run and demo: no --lang means KCERT_LANG, then Danish (their modules decide)
    _common(run, lang=None, lang_help="console language (default: KCERT_LANG, else da)")
    run.set_defaults(func=lazy("connectathon_cmd", "run_run"))

    demo = actions.add_parser(
        "demo", help="six reference LPS vendors, simulated partners, proxy and web, on loopback"
    )
    demo.add_argument("--port", type=_port, default=8765)
    demo.add_argument(
        "--exit-after", type=_seconds, metavar="SECONDS", help="stop serving after this"
    )
    _common(
        demo,
        reports=reports_dir() / DEMO_FOLDER,
        lang=None,
        lang_help="language of the web pages and the console (default: KCERT_LANG, else da)",
    )
    demo.set_defaults(func=lazy("connectathon_cmd", "run_demo"))


def _common(
    p: argparse.ArgumentParser,
    reports: Path | None = None,
    lang: str | None = "da",
    lang_help: str = "console language",
) -> None:
    p.add_argument("--store", default=None, metavar="URL", help="run store URL (as for runs)")
    p.add_argument("--reports", type=Path, default=reports or reports_dir(), metavar="DIR")
    p.add_argument("--lang", choices=["da", "en"], default=lang, help=lang_help)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port between 0 (any free one) and 65535")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"between 0 and {MAX_SECONDS:g} seconds")
    return value
