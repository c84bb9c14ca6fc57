"""kcert against the official MedCom material in ../shared/corpus (skipped when it is absent)."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from harness.checks import CHECKS
from harness.checks.registry import CheckContext, Sent
from harness.fhir.fhirpath import FhirPathError, evaluate, truthy
from harness.fhir.resource import read_resource, structure_issues
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.model.exchange import Exchange
from harness.model.outcome import Severity
from harness.reflps.app import create_app
from harness.reflps.identity import REFERENCE_CLINIC

MESSAGE_PROFILE = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message"
)
COMMUNICATION_PROFILE = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
    "medcom-careCommunication-communication"
)
ACK_PROFILE = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
)


def invariants(corpus: Path, profile: str) -> list[dict[str, str]]:
    text = (corpus / "fhir" / "medcom-invariants-from-packages.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text), delimiter="\t")
    return [r for r in rows if r["profile"] == profile and r["severity"] == "error"]


def evaluate_invariants(
    resource: dict[str, Any], rules: list[dict[str, str]], bundle: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Return (broken keys, keys fhirpathpy cannot evaluate)."""
    broken, unsupported = [], []
    env = {"resource": bundle, "bundle": bundle}
    for rule in rules:
        try:
            # an invariant holds on every element at its path (the resource when the path is
            # just the resource type)
            nodes = [resource] if "." not in rule["path"] else evaluate(resource, rule["path"])
            holds = all(truthy(evaluate(node, rule["expression"], env)) for node in nodes)
        except FhirPathError:
            unsupported.append(rule["key"])
            continue
        if not holds:
            broken.append(rule["key"])
    return broken, unsupported


def _kcert_message(**variables: Any) -> dict[str, Any]:
    rendered = TemplateRenderer().render(
        "messages/carecommunication.json.j2",
        {
            "patient": load_persons()["kol-karen"],
            "peer": load_peers()["kommune"],
            "sut": {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln, "name": "x"},
            "vars": variables,
        },
    )
    return rendered.resource


@pytest.mark.parametrize("activity", ["new-message", "reply-message", "forward-message"])
def test_kcert_messages_keep_medcom_invariants(corpus: Path, activity: str) -> None:
    message = _kcert_message(activity=activity)
    broken, unsupported = evaluate_invariants(message, invariants(corpus, MESSAGE_PROFILE), message)
    assert broken == []
    communication = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Communication"
    )
    broken_c, _unsupported_c = evaluate_invariants(
        communication, invariants(corpus, COMMUNICATION_PROFILE), message
    )
    assert broken_c == []
    evaluated = len(invariants(corpus, MESSAGE_PROFILE)) - len(unsupported)
    assert evaluated >= 4, f"too few MedCom invariants evaluated ({unsupported})"


def test_invariant_check_can_fail(corpus: Path) -> None:
    """The invariants are live: two Patients break medcom-careCommunication-2."""
    message = _kcert_message()
    patient = next(e for e in message["entry"] if e["resource"]["resourceType"] == "Patient")
    message["entry"].append(patient)
    broken, _ = evaluate_invariants(message, invariants(corpus, MESSAGE_PROFILE), message)
    assert "medcom-careCommunication-2" in broken


def _examples(corpus: Path, kind: str) -> list[Path]:
    folder = corpus / "fhir" / "examples" / "carecommunication" / kind
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".xml"))


def test_reference_lps_reads_every_official_receive_example(corpus: Path) -> None:
    """JSON and XML from MedCom: read, answered 200 with an acknowledgement, never 4xx/5xx."""
    client = TestClient(create_app())
    examples = _examples(corpus, "ReceiveExamples")
    assert len(examples) >= 10
    for path in examples:
        ct = "application/fhir+xml" if path.suffix == ".xml" else "application/fhir+json"
        response = client.post(
            "/fhir/$process-message", content=path.read_bytes(), headers={"content-type": ct}
        )
        assert response.status_code == 200, (path.name, response.text[:300])
        _, ack = read_resource(response.content, response.headers["content-type"])
        code = ack["entry"][0]["resource"]["response"]["code"]
        # the examples are addressed to other organisations, so a correct LPS refuses them
        assert code == "fatal-error", path.name
        assert "MSG_Receiver_Identifier_UNKNOWN" in response.text, path.name


def _package_examples(corpus: Path, package: str) -> list[dict[str, Any]]:
    found = []
    with tarfile.open(corpus / "fhir" / "packages" / f"{package}.tgz") as tar:
        for member in tar.getmembers():
            if member.name.startswith("package/example/Bundle-") and member.name.endswith(".json"):
                handle = tar.extractfile(member)
                assert handle is not None
                found.append(json.loads(handle.read()))
    return found


def _org_ids(bundle: dict[str, Any], ref: str) -> dict[str, str]:
    for entry in bundle["entry"]:
        res = entry["resource"]
        if f"{res['resourceType']}/{res['id']}" == ref:
            systems = {"urn:oid:1.2.208.176.1.1": "sor", "https://www.gs1.org/gln": "gln"}
            return {
                systems[i["system"]]: i["value"]
                for i in res.get("identifier", [])
                if i["system"] in systems
            }
    return {}


@pytest.mark.parametrize("with_packs", [False, True], ids=["built-in rules", "with the packs"])
def test_official_acknowledgements_pass_kcerts_ack_rules(
    corpus: Path, with_packs: bool, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No false alarms: MedCom's own acknowledgement examples give no finding, also when
    they are validated against the acknowledgement profile (the dev packs installed)."""
    if with_packs:
        monkeypatch.setenv("KCERT_PACKS", str(request.getfixturevalue("dev_fhir_packs")))
    bundles = _package_examples(corpus, "acknowledgement-2.0.3")
    assert bundles
    acks = [b for b in bundles if "response" in b["entry"][0]["resource"]]
    assert acks
    for bundle in acks:
        assert structure_issues(bundle) == []
        header = bundle["entry"][0]["resource"]
        original = {
            "resourceType": "Bundle",
            "id": "x",
            "entry": [
                {
                    "resource": {
                        "resourceType": "MessageHeader",
                        "id": header["response"]["identifier"],
                    }
                }
            ],
        }
        sent = Sent(original, {}, "json", b"", "application/fhir+json")
        exchange = Exchange(
            "POST",
            "u",
            {},
            b"",
            200,
            {"Content-Type": "application/fhir+json"},
            json.dumps(bundle).encode(),
        )
        ctx = CheckContext(
            "1",
            exchange,
            Severity.F2,
            sent,
            {},
            _org_ids(bundle, header["sender"]["reference"]),
            _org_ids(bundle, header["destination"][0]["receiver"]["reference"]),
        )
        found = list(CHECKS.get("ack").func(ctx, code=header["response"]["code"]))
        problems = [f.message for f in found if f.is_problem]
        assert problems == [], (bundle["id"], problems)
        judged = [f for f in found if f.rule_id == "FHIR-CONTEXT"]
        assert bool(judged) is with_packs, [f.message for f in found]
