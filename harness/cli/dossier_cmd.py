"""`kcert keys generate`, `kcert sign RUN`, `kcert verify RUN_DIR`: signed, checkable dossiers."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
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
    s.add_argument("run", help="run folder, or a run id under reports/")
    s.add_argument("--key", type=Path, default=DEFAULT_KEYS / PRIVATE)
    s.add_argument(
        "--signer", default="", help="who signs (in manifest.sig and on the signature page)"
    )
    s.add_argument(
        "--lang", choices=["da", "en"], help="language of the signature page (default: the run's)"
    )
    s.set_defaults(func=run_sign)
    v = sub.add_parser("verify", help="check every hash and the signature of a run, offline")
    v.add_argument("run", help="run folder, or a run id under reports/")
    v.add_argument("--public-key", type=Path, help="only accept this signer's key")
    v.set_defaults(func=run_verify)


def _run_dir(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        return path
    candidate = REPO_ROOT / "reports" / text
    if candidate.is_dir():
        return candidate
    raise UsageProblem(f"no run folder {text!r} (neither a folder nor a run id under reports/)")


def run_generate(args: argparse.Namespace, console: Console) -> int:
    try:
        private, public = generate_keys(args.out)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(f"private key {private} (keep it secret), public key {public}", markup=False)
    return 0


def run_sign(args: argparse.Namespace, console: Console) -> int:
    try:
        run_dir = _run_dir(args.run)
        target = sign(run_dir, args.key, args.signer)
        pages = write_signature_page(run_dir, args.lang)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(f"signed: {target}", markup=False)
    console.print("signature page: " + ", ".join(str(p) for p in pages), markup=False)
    return 0


def run_verify(args: argparse.Namespace, console: Console) -> int:
    run_dir = _run_dir(args.run)
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
        console.print(f"signature page: {result.page}", markup=False)
    console.print(f"{run_dir}: {'VERIFIED' if result.ok else 'NOT VERIFIED'}", markup=False)
    return 0 if result.ok else 1
