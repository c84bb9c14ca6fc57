"""Throughput of the profile validator on MedCom CareCommunication example messages.

Run: .venv/bin/python -m harness.validators.fhirprofile.bench [corpus folder]
Bundles are parsed JSON dicts before timing starts: parsing is not included.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from harness.validators.fhirprofile import invariants
from harness.validators.fhirprofile.index import ProfileIndex
from harness.validators.fhirprofile.validator import ProfileValidator

ROUNDS = 5  # best of: the machine is shared, so the fastest round is the least disturbed


def _bundles(corpus: Path) -> list[dict[str, Any]]:
    folder = corpus / "fhir" / "examples" / "carecommunication"
    found = []
    for path in sorted(folder.glob("*/*.json")):
        value = json.loads(path.read_bytes())
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found.append(value)
    return found


def _throughput(
    validator: ProfileValidator, bundles: list[dict[str, Any]], cold: bool, rounds: int
) -> float:
    best = 0.0
    repeat = max(1, 100 // max(1, len(bundles)))
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            for bundle in bundles:
                if cold:
                    invariants.forget_pure_outcomes()
                validator.validate(bundle)
        elapsed = time.perf_counter() - start
        best = max(best, repeat * len(bundles) / elapsed)
    return best


def bench_fhirprofile(corpus: Path, rounds: int = ROUNDS) -> list[tuple[str, float, str]]:
    packages = sorted((corpus / "fhir" / "packages").glob("*.tgz"))
    start = time.perf_counter()
    index = ProfileIndex.from_packages(packages)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    index.warm()
    warmed = time.perf_counter() - start
    bundles = _bundles(corpus)
    if not bundles:
        raise FileNotFoundError(f"no CareCommunication example Bundles under {corpus}")
    full = ProfileValidator(index)
    profile_only = ProfileValidator(index, check_structure=False)
    for bundle in bundles:  # warm-up: compiles every invariant the examples reach
        full.validate(bundle)
    return [
        ("fhirprofile index load (15 packages, .tgz)", loaded * 1000, "ms"),
        ("fhirprofile index warm (all trees + expansions)", warmed * 1000, "ms"),
        (
            "fhirprofile bundles/s, profile+invariants+R4B structure, parsed dict in",
            _throughput(full, bundles, cold=False, rounds=rounds),
            "bundles/s",
        ),
        (
            "fhirprofile bundles/s, profile+invariants only, parsed dict in",
            _throughput(profile_only, bundles, cold=False, rounds=rounds),
            "bundles/s",
        ),
        (
            "fhirprofile bundles/s, profile+invariants+R4B, no reuse of invariant outcomes",
            _throughput(full, bundles, cold=True, rounds=rounds),
            "bundles/s",
        ),
        ("fhirprofile example bundles measured", float(len(bundles)), "bundles"),
    ]


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
    corpus = Path(argv[1]) if len(argv) > 1 else default
    for name, value, unit in bench_fhirprofile(corpus):
        print(f"{name:80} {value:10.1f} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
