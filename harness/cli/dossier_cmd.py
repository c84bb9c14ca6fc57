"""`kcert keys generate`, `kcert sign RUN`, `kcert verify RUN_DIR`: signed, checkable dossiers."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.cli.words import say
from harness.dossier.manifest import MANIFEST, DossierError
from harness.dossier.signing import PRIVATE, generate_keys, load_public, sign, verify
from harness.fixtures import REPO_ROOT

DEFAULT_KEYS = Path.home() / ".kcert" / "keys"
RUN_HELP = "run folder, or under --reports: 'latest', a run id or a unique prefix"


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
    s.add_argument("--signer", default="", help="who signs (shown in the signature file)")
    s.add_argument("--lang", choices=["da", "en"], default="da", help="console language")
    s.set_defaults(func=run_sign)
    v = sub.add_parser("verify", help="check every hash and the signature of a run, offline")
    v.add_argument("run", help=RUN_HELP)
    v.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
    v.add_argument("--public-key", type=Path, help="only accept this signer's key")
    v.add_argument("--lang", choices=["da", "en"], default="da", help="console language")
    v.set_defaults(func=run_verify)


def _run_dir(text: str, reports: Path) -> Path:
    """A run folder from a folder, `latest`, a run id or a unique prefix of one under
    `reports` (the run folders, so signing needs no run store)."""
    path = Path(text)
    if path.is_dir():
        return path.resolve()
    if text == "latest":
        return _latest(reports)
    if "/" in text or text in (".", ".."):
        raise UsageProblem(f"no run folder {text!r}")
    exact = reports / text
    if exact.is_dir():
        return exact.resolve()
    runs = sorted(
        p for p in _run_folders(reports) if p.name.startswith(text) and p.name != "latest"
    )
    if len(runs) == 1:
        return runs[0].resolve()
    if runs:
        names = ", ".join(p.name for p in runs[:5])
        raise UsageProblem(f"{text!r} matches {len(runs)} runs under {reports}: {names} …")
    raise UsageProblem(f"no run folder {text!r} (neither a folder nor a run id under {reports})")


def _run_folders(reports: Path) -> list[Path]:
    if not reports.is_dir():
        return []
    return [p for p in reports.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]


def _latest(reports: Path) -> Path:
    """reports/latest: a symlink to the newest run folder, or a file naming it."""
    pointer = reports / "latest"
    if pointer.is_dir():
        return pointer.resolve()
    if pointer.is_file():
        named = reports / pointer.read_text(encoding="utf-8").strip()
        if named.is_dir():
            return named.resolve()
    raise UsageProblem(f"no latest run under {reports} (no run has been reported there)")


def run_generate(args: argparse.Namespace, console: Console) -> int:
    try:
        private, public = generate_keys(args.out)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(f"private key {private} (keep it secret), public key {public}", markup=False)
    return 0


def run_sign(args: argparse.Namespace, console: Console) -> int:
    try:
        target = sign(_run_dir(args.run, args.reports), args.key, args.signer)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    console.print(say(args.lang, "signed", path=target), markup=False)
    return 0


def run_verify(args: argparse.Namespace, console: Console) -> int:
    run_dir = _run_dir(args.run, args.reports)
    try:
        trusted = load_public(args.public_key) if args.public_key else None
        result = verify(run_dir, trusted)
    except DossierError as exc:
        raise UsageProblem(str(exc)) from None
    for line in result.files:
        console.print(f"  {line}", markup=False)
    who = f" (key {result.fingerprint})" if result.fingerprint else ""
    console.print(f"signature: {result.signature}{who}", markup=False)
    status = say(args.lang, "verified" if result.ok else "not_verified")
    console.print(f"{run_dir}: {status}", markup=False)
    return 0 if result.ok else 1
