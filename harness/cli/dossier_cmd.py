"""`kcert keys generate`, `kcert sign RUN`, `kcert verify RUN_DIR`: signed, checkable dossiers."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.cli.runref import RUN_HELP, run_folder
from harness.cli.words import say
from harness.dossier.keyring import exposed, trust, trusted_folder, trusted_keys, untrust
from harness.dossier.manifest import DossierError
from harness.dossier.signing import PRIVATE, generate_keys, load_public, sign, verify
from harness.report.signature_page import page_lang, write_signature_page
from harness.suitefiles import reports_dir

DEFAULT_KEYS = Path.home() / ".kcert" / "keys"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="signing keys")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    gen = actions.add_parser("generate", help="a new Ed25519 key pair")
    gen.add_argument("--out", type=Path, default=DEFAULT_KEYS)
    gen.set_defaults(func=run_generate)
    tr = actions.add_parser("trust", help="trust a signer's public key (e.g. MedCom's) for verify")
    tr.add_argument("file", type=Path, help="the signer's public key (PEM, Ed25519)")
    tr.add_argument("--name", default="", help="who the key belongs to (default: the file name)")
    tr.set_defaults(func=run_trust)
    ls = actions.add_parser("list", help="the trusted signer keys (name, fingerprint)")
    ls.set_defaults(func=run_list)
    un = actions.add_parser("untrust", help="stop trusting a signer key")
    un.add_argument("key", help="its name or fingerprint (8 or more leading digits)")
    un.set_defaults(func=run_untrust)
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
    s.set_defaults(func=run_sign)
    v = sub.add_parser("verify", help="check every hash and the signature of a run, offline")
    v.add_argument("run", help=RUN_HELP)
    v.add_argument("--reports", type=Path, default=reports_dir())
    v.add_argument("--public-key", type=Path, help="only accept this signer's key")
    v.add_argument("--lang", choices=["da", "en"], default="da", help="console language")
    v.set_defaults(func=run_verify)


def run_generate(args: argparse.Namespace, console: Console) -> int:
    try:
        private, public = generate_keys(args.out)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(f"private key {private} (keep it secret), public key {public}", markup=False)
    # not trusted automatically: verify trusts a signer only when told so
    console.print(
        f"to verify runs signed with it: kcert keys trust {public} --name NAME", markup=False
    )
    return 0


def run_trust(args: argparse.Namespace, console: Console) -> int:
    try:
        key = trust(args.file, args.name)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(say(args.lang, "key_trusted", name=key.name, fp=key.fingerprint), markup=False)
    return 0


def run_list(args: argparse.Namespace, console: Console) -> int:
    try:
        keys = trusted_keys()
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    for key in keys:
        console.print(f"{key.fingerprint}  {key.name}", markup=False)
    console.print(
        say(args.lang, "keys_trusted", n=len(keys), folder=trusted_folder()), markup=False
    )
    return 0


def run_untrust(args: argparse.Namespace, console: Console) -> int:
    try:
        key = untrust(args.key)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(say(args.lang, "key_untrusted", name=key.name, fp=key.fingerprint), markup=False)
    return 0


def run_sign(args: argparse.Namespace, console: Console) -> int:
    try:
        run_dir = run_folder(args.run, args.reports)
        lang = page_lang(run_dir, args.lang)
        mode = exposed(args.key)
        if mode:
            console.print(say(lang, "key_readable", path=args.key, mode=mode), markup=False)
        target = sign(run_dir, args.key, args.signer)
        pages = write_signature_page(run_dir, args.lang)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
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
    who = f" (key {result.fingerprint})" if result.fingerprint and result.ok else ""
    console.print(f"signature: {result.signature}{who}", markup=False)
    if result.trusted_as:
        signer = f"{result.signer}, " if result.signer else ""
        console.print(
            say(args.lang, "signed_by", who=f"{signer}{result.trusted_as}", fp=result.fingerprint),
            markup=False,
        )
    if result.untrusted:
        console.print(say(args.lang, "trust_hint", fp=result.fingerprint), markup=False)
    if result.page:
        console.print(say(args.lang, "signature_page", path=result.page), markup=False)
    status = say(args.lang, "verified" if result.ok else "not_verified")
    console.print(f"{run_dir}: {status}", markup=False)
    return 0 if result.ok else 1
