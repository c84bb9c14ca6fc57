"""Throughput of the FHIR validator on MedCom CareCommunication example messages.

Run: .venv/bin/python -m harness.validators.fhirprofile.bench [corpus folder]
Bundles are parsed JSON dicts before timing starts: parsing is not included. Full validation
needs the FHIR R4 base package: it is built from the npm registry (cached) when not given.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.fhir.resource import structure_issues
from harness.validators.fhirprofile import invariants
from harness.validators.fhirprofile.index import ProfileIndex
from harness.validators.fhirprofile.validator import ProfileValidator

ROUNDS = 5  # best of: the machine is shared, so the fastest round is the least disturbed

# What a cold process does before its first verdict: read the installed packs' indexes, then
# validate one message (compiling the element trees that message reaches).
_STARTUP = """
import json, sys, time
start = time.perf_counter()
from harness.validators.fhirprofile import ProfileIndex, ProfileValidator, read_package
imported = time.perf_counter()
index = ProfileIndex(read_package(__import__("pathlib").Path(p)) for p in sys.argv[2:])
list(ProfileValidator(index).iter_findings(json.load(open(sys.argv[1]))))
print(imported - start, time.perf_counter() - imported)
"""


def _bundles(corpus: Path) -> list[dict[str, Any]]:
    folder = corpus / "fhir" / "examples" / "carecommunication"
    found = []
    for path in sorted(folder.glob("*/*.json")):
        value = json.loads(path.read_bytes())
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found.append(value)
    return found


def _throughput(
    check: Callable[[dict[str, Any]], object],
    bundles: list[dict[str, Any]],
    cold: bool,
    rounds: int,
) -> float:
    best = 0.0
    repeat = max(1, 100 // max(1, len(bundles)))
    for bundle in bundles:  # warm-up: compiles every invariant and tree the examples reach
        check(bundle)
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            for bundle in bundles:
                if cold:
                    invariants.forget_pure_outcomes()
                check(bundle)
        elapsed = time.perf_counter() - start
        best = max(best, repeat * len(bundles) / elapsed)
    return best


def core_package_folder(into: Path) -> Path:
    """The FHIR R4 base package installed (as a lazily read folder) under `into`."""
    from harness.packs.fhircore import build_from_npm
    from harness.packs.registry import cache_root
    from harness.packs.store import PackStore

    built = build_from_npm(cache_root() / "bench")
    return PackStore(into).install(built).root


def bench_fhirprofile(
    corpus: Path, core: Path | None = None, rounds: int = ROUNDS
) -> list[tuple[str, float, str]]:
    from harness.packs.store import PackStore

    with tempfile.TemporaryDirectory(prefix="kcert-bench-fhir-") as tmp:
        store = PackStore(Path(tmp))
        core = core or core_package_folder(Path(tmp))
        # installed packs, as kcert uses them: folders whose .index.json is read lazily
        packages = [
            store.install(p).root for p in sorted((corpus / "fhir" / "packages").glob("*.tgz"))
        ]
        return _measure(corpus, packages, core, rounds)


def _measure(
    corpus: Path, packages: list[Path], core: Path, rounds: int
) -> list[tuple[str, float, str]]:
    bundles = _bundles(corpus)
    if not bundles:
        raise FileNotFoundError(f"no CareCommunication example Bundles under {corpus}")
    start = time.perf_counter()
    full_index = ProfileIndex.from_packages([*packages, core])
    loaded = time.perf_counter() - start
    full = ProfileValidator(full_index)
    # the profile validator as it was before the base definitions: MedCom snapshots and their
    # invariants, no datatype descent, no built-in structure check
    profile_only = ProfileValidator(ProfileIndex.from_packages(packages), check_structure=False)
    base_only = ProfileValidator(ProfileIndex.from_packages([core]))
    imported_s, startup_s = _startup(bundles_path(corpus), [*packages, core])
    return [
        ("fhir index load (15 MedCom/dk packs + the base pack, installed)", loaded * 1000, "ms"),
        ("fhir start-up: import", imported_s * 1000, "ms"),
        ("fhir start-up: index + first bundle validated", startup_s * 1000, "ms"),
        (
            "fhir bundles/s, full (structure+profile+datatypes+bindings)",
            _throughput(lambda b: list(full.iter_findings(b)), bundles, cold=False, rounds=rounds),
            "bundles/s",
        ),
        (
            "fhir bundles/s, full, no reuse of invariant outcomes",
            _throughput(lambda b: list(full.iter_findings(b)), bundles, cold=True, rounds=rounds),
            "bundles/s",
        ),
        (
            "fhir bundles/s, profile+invariants only (no base definitions)",
            _throughput(
                lambda b: list(profile_only.iter_findings(b)), bundles, cold=False, rounds=rounds
            ),
            "bundles/s",
        ),
        (
            "fhir bundles/s, base definitions only (no MedCom profiles)",
            _throughput(
                lambda b: list(base_only.iter_findings(_without_profiles(b))),
                bundles,
                False,
                rounds,
            ),
            "bundles/s",
        ),
        (
            "fhir bundles/s, structure only (fhir.resources R4B model)",
            _throughput(structure_issues, bundles, cold=False, rounds=rounds),
            "bundles/s",
        ),
        ("fhir example bundles measured", float(len(bundles)), "bundles"),
    ]


def bundles_path(corpus: Path) -> Path:
    folder = corpus / "fhir" / "examples" / "carecommunication"
    return sorted(folder.glob("*/*.json"))[0]


def _without_profiles(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle as a plain R4 instance: its meta.profile claims left out."""
    plain: dict[str, Any] = json.loads(json.dumps(bundle))
    for item in [plain, *(e.get("resource", {}) for e in plain.get("entry", []))]:
        if isinstance(item, dict) and isinstance(item.get("meta"), dict):
            item["meta"].pop("profile", None)
    return plain


def _startup(bundle: Path, packages: list[Path]) -> tuple[float, float]:
    """(import, index + first validation) in a fresh interpreter: nothing cached in memory."""
    args = [sys.executable, "-c", _STARTUP, str(bundle), *map(str, packages)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    imported, rest = done.stdout.split()[-2:]
    return float(imported), float(rest)


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
    corpus = Path(argv[1]) if len(argv) > 1 else default
    for name, value, unit in bench_fhirprofile(corpus):
        print(f"{name:70} {value:10.1f} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
