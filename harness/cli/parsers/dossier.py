"""`kcert keys|sign|verify`: their options (harness.cli.dossier_cmd runs them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.common import DEFAULT_KEYS
from harness.cli.parsers.lazy import lazy
from harness.cli.runref import RUN_HELP
from harness.dossier.keyfiles import PRIVATE
from harness.suitefiles import reports_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="signing keys")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    gen = actions.add_parser("generate", help="a new Ed25519 key pair")
    gen.add_argument("--out", type=Path, default=DEFAULT_KEYS)
    gen.set_defaults(func=lazy("dossier_cmd", "run_generate"))
    tr = actions.add_parser("trust", help="trust a signer's public key (e.g. MedCom's) for verify")
    tr.add_argument("file", type=Path, help="the signer's public key (PEM, Ed25519)")
    tr.add_argument("--name", default="", help="who the key belongs to (default: the file name)")
    tr.set_defaults(func=lazy("dossier_cmd", "run_trust"))
    ls = actions.add_parser("list", help="the trusted signer keys (name, fingerprint)")
    ls.set_defaults(func=lazy("dossier_cmd", "run_list"))
    un = actions.add_parser("untrust", help="stop trusting a signer key")
    un.add_argument("key", help="its name or fingerprint (8 or more leading digits)")
    un.set_defaults(func=lazy("dossier_cmd", "run_untrust"))
    for action in (gen, tr, ls, un):
        action.add_argument("--lang", choices=["da", "en"], default="da", help="console language")
    s = sub.add_parser("sign", help="sign a run's manifest (Ed25519)")
    s.add_argument("run", help=RUN_HELP)
    s.add_argument("--reports", type=Path, default=reports_dir())
    s.add_argument("--key", type=Path, default=DEFAULT_KEYS / PRIVATE)
    s.add_argument(
        "--signer", default="", help="who signs (in manifest.sig and on the signature page)"
    )
    s.add_argument(
        "--lang", choices=["da", "en"], help="language of the signature page (default: the run's)"
    )
    s.set_defaults(func=lazy("dossier_cmd", "run_sign"))
    v = sub.add_parser("verify", help="check every hash and the signature of a run, offline")
    v.add_argument("run", help=RUN_HELP)
    v.add_argument("--reports", type=Path, default=reports_dir())
    v.add_argument("--public-key", type=Path, help="only accept this signer's key")
    v.add_argument("--lang", choices=["da", "en"], default="da", help="console language")
    v.set_defaults(func=lazy("dossier_cmd", "run_verify"))
