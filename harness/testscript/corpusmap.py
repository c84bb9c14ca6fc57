"""A fixtures map for MedCom's published TestScripts, built from the corpus's own files.

MedCom publishes the scripts without most of their fixture files. The acknowledgement
fixtures are the three Bundles inside `acknowledgementtestscript-2.0.0.tgz`; for the
CareCommunication fixtures the corpus's examples serve, each re-addressed to the SUT (receiver
SOR and GLN): one message segment (R-Tek-E), a text and a PDF (R-A-new), an Encounter with an
episode of care (S-Tek-B). Written to a folder of the user's, never committed (corpus content).

    python -m harness.testscript.corpusmap ../shared/corpus OUT [--sut-config FILE]
    kcert testscript run ../shared/corpus/fhir/testscripts --sut reference \\
        --fixtures-map OUT/fixtures-map.yaml --package ../shared/corpus/fhir/packages/X.tgz ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from harness.sut.config import load_sut_config
from harness.sut.reference import reference_config

ACK_PACKAGE = "acknowledgementtestscript-2.0.0.tgz"
ACK_FIXTURES = {  # the three acknowledgements the script package carries are its fixtures
    "Acknowledgement-fixture-ok.xml": "b3c91031-85e6-4793-bca5-7b0de166fbf2",
    "Acknowledgement-fixture-transient-error.xml": "32f3e314-8fcb-4147-87d4-fbed2ea2f741",
    "Acknowledgement-fixture-fatal-error.xml": "fd618b85-9376-45ac-b0bd-67b0541f4fa4",
}
CC_EXAMPLES = {  # fixture -> the corpus example (under fhir/examples/carecommunication) for it
    "CareCommunication-fixture.xml": "ReceiveExamples/Bundle-R-Tek-E-new-parallel-*.json",
    "CareCommunication-fixture-attachment.xml": "ReceiveExamples/Bundle-R-A-new-*.json",
    "CareCommunication-fixture-new-message-all.xml": (
        "SendExamples/Bundle-S-Tek-B-new-episodeOfCare-*.json"
    ),
}
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
GLN_SYSTEM = "https://www.gs1.org/gln"


def addressed_to(message: dict[str, Any], sor: str, gln: str) -> dict[str, Any]:
    """An official example, its receiver Organization made the SUT (SOR and GLN)."""
    header = message["entry"][0]["resource"]
    target = header["destination"][0]["receiver"]["reference"]
    for entry in message["entry"]:
        res = entry["resource"]
        if target in (entry.get("fullUrl"), f"{res['resourceType']}/{res['id']}"):
            for ident in res.get("identifier", []):
                if ident["system"] == SOR_SYSTEM:
                    ident["value"] = sor
                elif ident["system"] == GLN_SYSTEM:
                    ident["value"] = gln
    return message


def build(corpus: Path, out: Path, sor: str, gln: str) -> dict[str, Path]:
    """Write the re-addressed examples into `out`; the map entries (fixture name -> file),
    absolute (a map's relative paths resolve against the map's own folder)."""
    corpus, out = corpus.resolve(), out.resolve()
    packages = corpus / "fhir" / "packages"
    entries = {
        name: Path(f"{packages / ACK_PACKAGE}#package/Bundle-{member}.json")
        for name, member in ACK_FIXTURES.items()
    }
    examples = corpus / "fhir" / "examples" / "carecommunication"
    out.mkdir(parents=True, exist_ok=True)
    for name, pattern in CC_EXAMPLES.items():
        example = next(examples.glob(pattern), None)
        if example is None:
            raise SystemExit(f"{examples}: no example {pattern} for {name}")
        local = out / f"to-sut-{example.name}"
        message = addressed_to(json.loads(example.read_text(encoding="utf-8")), sor, gln)
        local.write_text(json.dumps(message, ensure_ascii=False), encoding="utf-8")
        entries[name] = local
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.testscript.corpusmap")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sut-config", type=Path, help="the SUT (default: the reference LPS)")
    args = parser.parse_args(argv)
    sut = load_sut_config(args.sut_config) if args.sut_config else reference_config("", ())
    entries = build(args.corpus, args.out, sut.sor, sut.gln)
    target = args.out / "fixtures-map.yaml"
    target.write_text(
        yaml.safe_dump({"fixtures": {k: str(v) for k, v in entries.items()}}), encoding="utf-8"
    )
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
