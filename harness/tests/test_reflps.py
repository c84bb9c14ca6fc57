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
