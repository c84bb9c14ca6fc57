"""The LPS test agent API contract: the reference LPS implements it (schemathesis, in-process)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from harness.reflps.app import create_app
from harness.testscript import samples

CONTRACT = Path(__file__).resolve().parent.parent / "contract" / "lps-test-agent-api.yaml"

APP = create_app()
schema = schemathesis.openapi.from_path(CONTRACT)
schema.app = APP


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_reference_lps_conforms_to_the_contract(case: schemathesis.Case) -> None:
    # Status code documented, response matches its schema, never a 5xx. Positive-data
    # acceptance is excluded: a body can fit the loose JSON schema and still not be a FHIR
    # message, which the contract answers with 400 and an OperationOutcome.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_every_contract_operation_is_served() -> None:
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    served = APP.openapi()["paths"]
    for path, operations in contract["paths"].items():
        assert path in served, path
        for method in operations:
            assert method in served[path], f"{method.upper()} {path}"


def test_contract_is_versioned() -> None:
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    assert contract["info"]["version"].startswith("1.")
    assert all(p.startswith(("/fhir/", "/kcert-agent/v1/")) for p in contract["paths"])


def test_the_contract_check_catches_a_defective_lps() -> None:
    """The conformance test above can fail: a server error is caught by the same checks."""
    from schemathesis.core.failures import FailureGroup

    defective = schemathesis.openapi.from_path(CONTRACT)
    defective.app = create_app(["server-error-on-garbage"])
    case = defective["/fhir/$process-message"]["POST"].Case(
        body="not fhir", media_type="application/fhir+xml"
    )
    try:
        case.call_and_validate(excluded_checks=[positive_data_acceptance])
    except FailureGroup as group:
        assert "Server error" in str(group)
    else:
        raise AssertionError("a 500 answer passed the contract checks")


# -- 1.4.0: the send side's new fields ---------------------------------------------------------

NOWHERE = "http://127.0.0.1:9/fhir/$process-message"  # refused at once: "not delivered"
PNG = base64.b64encode(samples.sample("image/png", "p").data or b"").decode()


def send_case(**more: object) -> schemathesis.Case:
    body = {
        "kind": "carecommunication",
        "patient": {"cpr": "2512489996", "given": "Karen", "family": "Test"},
        "receiver": {
            "endpoint": NOWHERE,
            "sor": "999981000016005",
            "gln": "5790000999989",
            "name": "Kommune",
        },
        **more,
    }
    return schema["/kcert-agent/v1/outbox/send"]["POST"].Case(
        body=body, media_type="application/json"
    )


@pytest.mark.parametrize(
    ("more", "status"),
    [
        ({"attachments": [{"title": "b", "contentType": "image/png", "data": PNG}]}, 202),
        ({"attachments": [{"title": "l", "url": "https://kcert.invalid/x"}]}, 202),
        ({"category": "regarding-referral", "priority": "asap", "topic": "Henvisning"}, 202),
        (
            {"encounter": {"episodeOfCareIdentifier": {"value": "7b5d0c2e-6a35-4c8e-9d54-3c1a2b"}}},
            202,
        ),
        ({"specificSender": {"careTeam": "A"}, "specificRecipient": {"careTeam": "B"}}, 202),
        ({"patient": {"xEcpr": "0101907KC1", "given": "Xenia", "family": "Erstatning"}}, 202),
        ({"replyTo": {"messageHeaderId": "unknown"}}, 404),
        ({"forward": {"communicationIdentifier": "urn:uuid:x", "include": "text"}}, 404),
        ({"priority": "asap"}, 400),
    ],
)
def test_the_new_send_fields_are_served_as_the_contract_says(
    more: dict[str, object], status: int
) -> None:
    case = send_case(**more)
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code == status, response.text


def test_what_the_testscript_runner_asks_for_fits_the_contract() -> None:
    """The SendRequest fields the runner fills are in the schema (test_testscript_sending
    validates each request it makes against it), and the 1.4.0 documentation is there."""
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    send = contract["components"]["schemas"]["SendRequest"]["properties"]
    assert {
        "replyTo",
        "forward",
        "attachments",
        "category",
        "topic",
        "priority",
        "encounter",
        "specificSender",
        "specificRecipient",
    } <= set(send)
    assert contract["info"]["version"] == "1.5.0"
    description = contract["info"]["description"]
    for documented in ("1.4.0:", "transient-error", "response.identifier", "OperationOutcome"):
        assert documented in description
    send_doc = contract["paths"]["/kcert-agent/v1/outbox/send"]["post"]["description"]
    assert "`receiver.endpoint`" in send_doc and "$process-message" in send_doc
