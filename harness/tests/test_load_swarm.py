"""The Locust side's data: the load plan (round trip, refusals), the DK-CPD bodies, the
synthetic patients, and the locustfile's one shape class (read as text: importing locust here
would patch this test process with gevent)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from harness.load import bodies
from harness.load.engine import LOCUSTFILE
from harness.load.plan import LoadPlan, PlanError, Stage, resolve_headers
from harness.safeparse import parse_xml
from harness.synthetic import is_synthetic_cpr

V3 = {"v3": "urn:hl7-org:v3"}


def a_plan(**changes: object) -> LoadPlan:
    values: dict[str, object] = {
        "base_url": "http://127.0.0.1:8000",
        "weights": {"plan-create": 0.5, "cockpit-list": 0.5},
        "rate_per_s": 10.0,
        "think_time_s": (0.5, 1.5),
        "users": 5,
        "spawn_rate": 5.0,
        "shape": "ramp",
        "stages": (Stage(5, 2, 4.0), Stage(10, 5, 10.0)),
        "run_time_s": 10.0,
        "seed": 7,
        "max_users": 100,
        "max_rate_per_s": 50.0,
        "max_run_time_s": 600.0,
        "headers": {"Authorization": "Bearer ${FLP_TOKEN}"},
    }
    values.update(changes)
    return LoadPlan(**values)  # type: ignore[arg-type]


def test_plan_round_trip() -> None:
    plan = a_plan()
    assert LoadPlan.from_json(plan.to_json()) == plan
    assert plan.stage_at(0) == Stage(5, 2, 4.0)
    assert plan.stage_at(7) == Stage(10, 5, 10.0)
    assert plan.stage_at(10) is None


def _broken(**edit: object) -> str:
    data = json.loads(a_plan().to_json())
    data.update(edit)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ({"format": "other/1"}, "format"),
        ({"users": 101}, "users"),
        ({"rate_per_s": 51}, "rate_per_s"),
        ({"run_time_s": 601}, "run_time_s"),
        ({"weights": {"plan-delete": 1}}, "weights.plan-delete: unknown operation"),
        ({"weights": {"plan-create": 0}}, "no operation has a weight"),
        ({"shape": "zigzag"}, "shape"),
        ({"stages": []}, "stages: empty"),
        ({"stages": [{"until_s": 5, "users": 1, "rate_per_s": 1}] * 2}, "does not follow"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"think_time_s": [2, 1]}, "think_time_s"),
        ({"surprise": 1}, "surprise: unknown field"),
        ({"users": True}, "users"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field(edit: dict[str, object], says: str) -> None:
    with pytest.raises(PlanError, match=says.replace(".", r"\.")):
        LoadPlan.from_json(_broken(**edit))


def test_a_plan_that_is_not_json_is_refused() -> None:
    with pytest.raises(PlanError, match="not JSON"):
        LoadPlan.from_json('{"base_url": ')


def test_headers_resolve_from_the_environment_and_name_a_missing_variable() -> None:
    assert resolve_headers({"A": "Bearer ${T}", "B": "x"}, {"T": "s3"}) == {
        "A": "Bearer s3",
        "B": "x",
    }
    with pytest.raises(PlanError, match="T is not set"):
        resolve_headers({"A": "Bearer ${T}"}, {})


def test_the_dk_cpd_template_renders_well_formed_xml_with_a_synthetic_cpr() -> None:
    who = bodies.patient(4242)
    assert is_synthetic_cpr(who.cpr)
    body = bodies.CpdRenderer().render(who, bodies.clinic(3), "lbp", version=2, goals=3)
    root = parse_xml(body)
    assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
    cpr = root.xpath(
        "string(v3:recordTarget/v3:patientRole/v3:id[@root='1.2.208.176.1.2']/@extension)",
        namespaces=V3,
    )
    assert cpr == who.cpr
    assert "lbp" in root.xpath("string(v3:title)", namespaces=V3).split()
    goals = root.xpath(
        "//v3:section[v3:templateId/@root='1.2.208.184.15.1.10.20.2']/v3:entry", namespaces=V3
    )
    assert len(goals) == 3
    assert root.xpath("string(v3:versionNumber/@value)", namespaces=V3) == "2"


def test_values_are_escaped_in_the_document() -> None:
    renderer = bodies.CpdRenderer()
    body = renderer.render(bodies.patient(1), bodies.Clinic("999900000001", "A & <B>"), "kol")
    assert parse_xml(body).xpath("string(//v3:author//v3:name)", namespaces=V3) == "A & <B>"


def test_patients_are_synthetic_and_unique_per_worker_user_and_slot() -> None:
    seen = {
        bodies.synthetic_cpr(bodies.user_patient(3, worker, user, slot, 200, 4))
        for worker in range(4)
        for user in range(200)
        for slot in range(4)
    }
    assert len(seen) == 4 * 200 * 4
    assert all(is_synthetic_cpr(cpr) for cpr in seen)
    preflight = {bodies.synthetic_cpr(i) for i in range(bodies.PREFLIGHT_BLOCK)}
    assert not seen & preflight


def test_an_index_outside_the_synthetic_space_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        bodies.synthetic_cpr(bodies.PATIENT_SPACE)


def _classes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def test_the_locustfile_defines_exactly_one_shape_class() -> None:
    assert _classes(LOCUSTFILE) == ["KcertShape"]
    shapes = Path(LOCUSTFILE).with_name("shapes.py").read_text(encoding="utf-8")
    # the four kinds stay abstract there, so Locust sees only the locustfile's subclass
    assert shapes.count("abstract = True") == 4
