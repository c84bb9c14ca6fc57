"""`kcert keys generate`, `kcert sign RUN`, `kcert verify RUN_DIR`: signed, checkable dossiers."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.cli.runref import RUN_HELP, run_folder
from harness.cli.words import say
from harness.dossier.manifest import DossierError
from harness.dossier.signing import PRIVATE, generate_keys, load_public, sign, verify
from harness.fixtures import REPO_ROOT
from harness.report.signature_page import write_signature_page

DEFAULT_KEYS = Path.home() / ".kcert" / "keys"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="signing keys")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    gen = actions.add_parser("generate", help="a new Ed25519 key pair")
    gen.add_argument("--out", type=Path, default=DEFAULT_KEYS)
    gen.set_defaults(func=run_generate)
    s = sub.add_parser("sign", help="sign a run's manifest (Ed25519)")
    s.add_argument("run", help=RUN_HELP)
    s.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
    s.add_argument("--key", type=Path, default=DEFAULT_KEYS / PRIVATE)
    s.add_argument(
        "--signer", default="", help="who signs (in manifest.sig and on the signature page)"
    )
    s.add_argument(
        "--lang", choices=["da", "en"], help="language of the signature page (default: the run's)"
    )
    s.set_defaults(func=run_sign)
    v = sub.add_parser("verify", help="check every hash and the signature of a run, offline")
    v.add_argument("run", help=RUN_HELP)
    v.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
    v.add_argument("--public-key", type=Path, help="only accept this signer's key")
    v.add_argument("--lang", choices=["da", "en"], default="da", help="console language")
    v.set_defaults(func=run_verify)


def run_generate(args: argparse.Namespace, console: Console) -> int:
    try:
        private, public = generate_keys(args.out)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(f"private key {private} (keep it secret), public key {public}", markup=False)
    return 0


def run_sign(args: argparse.Namespace, console: Console) -> int:
    try:
        run_dir = run_folder(args.run, args.reports)
        target = sign(run_dir, args.key, args.signer)
        pages = write_signature_page(run_dir, args.lang)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    lang = args.lang or "da"
    console.print(say(lang, "signed", path=target), markup=False)
    shown = ", ".join(str(p) for p in pages)
    console.print(say(lang, "signature_page", path=shown), markup=False)
    return 0


def run_verify(args: argparse.Namespace, console: Console) -> int:
    run_dir = run_folder(args.run, args.reports)
    try:
        trusted = load_public(args.public_key) if args.public_key else None
        result = verify(run_dir, trusted)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    for line in result.files:
        console.print(f"  {line}", markup=False)
    who = f" (key {result.fingerprint})" if result.fingerprint else ""
    console.print(f"signature: {result.signature}{who}", markup=False)
    if result.page:
        console.print(say(args.lang, "signature_page", path=result.page), markup=False)
    status = say(args.lang, "verified" if result.ok else "not_verified")
    console.print(f"{run_dir}: {status}", markup=False)
    return 0 if result.ok else 1
