"""`kcert keys generate`, `kcert sign RUN`, `kcert verify RUN_DIR`: signed, checkable dossiers."""

from __future__ import annotations

import argparse

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.cli.runref import run_folder
from harness.cli.words import say
from harness.dossier.keyring import exposed, trust, trusted_folder, trusted_keys, untrust
from harness.dossier.manifest import DossierError
from harness.dossier.signing import generate_keys, load_public, sign, verify
from harness.report.signature_page import page_lang, write_signature_page


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
