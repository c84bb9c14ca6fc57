"""The LPS test agent API contract: the reference LPS implements it (schemathesis, in-process)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from harness.reflps.app import create_app

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
