"""The reference LPS on its own: it never answers 5xx to a message of an unforeseen shape."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.reflps.app import create_app
from harness.reflps.defects import UnknownDefect, check_names
from harness.reflps.identity import REFERENCE_CLINIC

JSON = {"content-type": "application/fhir+json"}


def _message() -> dict[str, Any]:
    return (
        TemplateRenderer()
        .render(
            "messages/carecommunication.json.j2",
            {
                "patient": load_persons()["kol-karen"],
                "peer": load_peers()["kommune"],
                "sut": {"sor": REFERENCE_CLINIC.sor, "gln": REFERENCE_CLINIC.gln, "name": "x"},
            },
        )
        .resource
    )


def _header(b: dict[str, Any]) -> dict[str, Any]:
    return b["entry"][0]["resource"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: _header(b).update(eventCoding="x"),
        lambda b: _header(b).update(destination=["x"]),
        lambda b: b["entry"][-1]["resource"]["activity"].update(coding=["x"]),
        lambda b: b.update(entry="x"),
        lambda b: _header(b).update(sender={"reference": 5}),
    ],
)
def test_wrong_shapes_get_400_with_operation_outcome(mutate: Callable[[Any], None]) -> None:
    client = TestClient(create_app())
    body = copy.deepcopy(_message())
    mutate(body)
    response = client.post("/fhir/$process-message", content=json.dumps(body), headers=JSON)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_overlong_integer_gets_400() -> None:
    client = TestClient(create_app())
    response = client.post(
        "/fhir/$process-message", content=b'{"a": ' + b"9" * 5000 + b"}", headers=JSON
    )
    assert response.status_code == 400


def test_clean_message_gets_ok_and_is_stored_once() -> None:
    client = TestClient(create_app())
    body = json.dumps(_message())
    first = client.post("/fhir/$process-message", content=body, headers=JSON).json()
    second = client.post("/fhir/$process-message", content=body, headers=JSON).json()
    assert _header(first)["response"]["code"] == "ok"
    assert _header(first) == _header(second)
    assert client.get("/kcert-agent/v1/messages").json()["total"] == 1


def test_unknown_defect_is_refused() -> None:
    with pytest.raises(UnknownDefect, match="no-such"):
        check_names(["no-such"])


def _population_client() -> tuple[TestClient, dict[str, Any]]:
    import datetime as dt

    from harness.population.generator import generate

    client = TestClient(create_app())
    bundle = generate(3, 80, dt.date(2027, 3, 1), REFERENCE_CLINIC.sor).bundle
    assert client.post("/kcert-agent/v1/population", content=json.dumps(bundle)).status_code == 200
    return client, bundle


@pytest.mark.parametrize("bad", ["0001-01-01", "20270301", "2027-W09-1", "2027-02-30", ""])
def test_bad_as_of_dates_get_400_problems(bad: str) -> None:
    client, _ = _population_client()
    response = client.get(f"/kcert-agent/v1/profiles/kol-inkluderet/members?asOf={bad}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_refused_load_changes_nothing() -> None:
    client, bundle = _population_client()
    before = client.get("/kcert-agent/v1/profiles/kol-inkluderet/members?asOf=2027-03-01").json()
    duplicate = copy.deepcopy(bundle)
    patient = next(e for e in duplicate["entry"] if e["resource"]["resourceType"] == "Patient")
    duplicate["entry"].append(dict(copy.deepcopy(patient), fullUrl="urn:uuid:another"))
    for body in (
        duplicate,
        {"resourceType": "Bundle", "type": "transaction", "entry": "x"},
        dict(
            bundle,
            entry=[
                dict(bundle["entry"][0], resource=dict(bundle["entry"][0]["resource"], meta="x"))
            ],
        ),
    ):
        response = client.post("/kcert-agent/v1/population", content=json.dumps(body))
        assert response.status_code == 400, response.text
    after = client.get("/kcert-agent/v1/profiles/kol-inkluderet/members?asOf=2027-03-01").json()
    assert after == before
